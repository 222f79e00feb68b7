#include "host/domain/reaper.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "host/domain/reaper_main.h"
#include "host/domain/reaper_protocol.h"
#include "host/domain/reaper_socket.h"
#include "shared/util/file_io.h"
#include "shared/util/log.h"

namespace ringbox::host::domain {
namespace {

// Runs in the child of fork(): the owner may have other threads, so only async-signal-safe
// calls from here to execv (no allocation, no locks, no logging).
[[noreturn]] void become_reaper(const char* exe, char* const argv[], int sock, int devnull) {
  // Fork again and let the middle process exit: the reaper is then nobody's child here (the
  // kernel re-parents it to init or a subreaper), so the owner has no zombie to reap and
  // libxl's SIGCHLD handling never sees it.
  pid_t pid = ::_Fork();
  if (pid != 0) ::_exit(pid < 0 ? 1 : 0);
  // Its own session: signals aimed at the owner's process group or terminal miss it.
  ::setsid();
  // Park both descriptors above the low numbers first, so the dup2s below cannot clobber
  // one of them whatever numbers they had.
  int s = ::fcntl(sock, F_DUPFD, 10);
  int n = ::fcntl(devnull, F_DUPFD, 10);
  if (s < 0 || n < 0) ::_exit(127);
  // stdout is /dev/null so that `x=$(ringbox-host boot ...)` does not wait for the reaper.
  if (::dup2(n, STDIN_FILENO) < 0 || ::dup2(n, STDOUT_FILENO) < 0 || ::dup2(s, kReaperFd) < 0)
    ::_exit(127);
  // Nothing else may stay open in the reaper: an inherited pipe end would hold some other
  // process's end-of-file hostage for as long as the domain lives.
  ::close_range(kReaperFd + 1, ~0U, 0);
  ::execv(exe, argv);
  ::_exit(127);
}

}  // namespace

Result<DomainReaper> DomainReaper::spawn(const Target& target, const std::string& exe) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return sys_error("create the socket pair for the domain reaper");
  UniqueFd ours(sv[0]);
  UniqueFd theirs(sv[1]);
  UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull) return sys_error("open /dev/null for the domain reaper");

  // Everything the child needs is built before fork(): it may not allocate.
  std::vector<std::string> args = {
      "ringbox-host", kReaperCommand, "--uuid",      target.uuid,
      "--name",       target.name,    "--owner-pid", std::to_string(::getpid())};
  if (log::level() == log::Level::kDebug) args.emplace_back("--verbose");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t middle = ::fork();
  if (middle < 0) return sys_error("fork the domain reaper for " + target.name);
  if (middle == 0) become_reaper(exe.c_str(), argv.data(), theirs.get(), devnull.get());

  int status = 0;
  if (retry_eintr([&] { return ::waitpid(middle, &status, 0); }) < 0)
    return sys_error("wait for the domain reaper's launcher");
  theirs.reset();
  devnull.reset();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return make_error(Errc::kSystem, "could not fork the domain reaper for " + target.name +
                                         " (out of processes?)");

  std::string buffer;
  auto line = read_line(ours.get(), buffer, kReaperReadyTimeoutMs);
  if (!line)
    return make_error(line.error().code, "domain reaper for " + target.name +
                                             " did not report ready: " + line.error().message());
  if (!*line)
    return make_error(Errc::kPeerGone, "the domain reaper for " + target.name +
                                           " exited before it was ready (could "
                                           "it exec " +
                                           exe + "? its messages are above)");
  auto msg = reaper_protocol::parse_reaper_message(**line);
  if (!msg) return std::move(msg.error());
  if (msg->kind == reaper_protocol::ReaperMessage::Kind::kError)
    return make_error(Errc::kSystem, "the domain reaper could not start: " + msg->error);
  if (msg->kind != reaper_protocol::ReaperMessage::Kind::kReady)
    return make_error(Errc::kProtocol, "the domain reaper answered out of turn");
  log::debug("domain reaper pid " + std::to_string(msg->pid) + " armed for " + target.name +
             " (uuid " + target.uuid + ")");
  return DomainReaper(std::move(ours), msg->pid);
}

bool DomainReaper::alive() const {
  if (!sock_) return false;
  // The reaper sends nothing unasked after "ready", so readable means end of file: it died.
  pollfd p{sock_.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

Result<void> DomainReaper::announce_domid(uint32_t domid) {
  if (!sock_) return make_error(Errc::kInvalidArgument, "no domain reaper to tell the domain id");
  return send_line(sock_.get(), reaper_protocol::format_domid(domid));
}

Result<void> DomainReaper::release() {
  if (!sock_) return ok();
  const std::string who = "domain reaper (pid " + std::to_string(pid_) + ")";
  auto sent = send_line(sock_.get(), reaper_protocol::format_release());
  if (!sent) {
    sock_.reset();
    return make_error(Errc::kPeerGone, "the " + who + " is gone: " + sent.error().message());
  }
  std::string buffer;
  auto line = read_line(sock_.get(), buffer, kReaperReleaseTimeoutMs);
  sock_.reset();  // released or not, this object is done with it
  if (!line) return make_error(line.error().code, who + ": " + line.error().message());
  if (!*line) return make_error(Errc::kPeerGone, "the " + who + " exited without acknowledging");
  auto msg = reaper_protocol::parse_reaper_message(**line);
  if (!msg) return std::move(msg.error());
  if (msg->kind != reaper_protocol::ReaperMessage::Kind::kReleased)
    return make_error(Errc::kProtocol, "the " + who + " answered 'release' out of turn");
  return ok();
}

}  // namespace ringbox::host::domain
