#include "host/condor/wrapper.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <span>
#include <utility>

#include "host/condor/class_ad.h"
#include "host/condor/job_plan.h"
#include "host/condor/saved_streams.h"
#include "host/condor/wrapper_loop.h"
#include "host/service/service_protocol.h"
#include "shared/util/file_io.h"
#include "shared/util/unique_fd.h"

extern char** environ;

namespace ringbox::host::condor {
namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// HTCondor's wrapper-failure channel (UserProc::JobReaper, src/condor_starter.V6.1/
// user_proc.cpp): a non-empty file there plus a non-zero exit is a setup failure, and the job
// goes back to the queue instead of completing.
int setup_failure(const std::string& message) {
  std::string text = "ringbox: " + message + "\n";
  std::cerr << text << std::flush;
  if (const char* path = std::getenv("_CONDOR_WRAPPER_ERROR_FILE"); path && *path) {
    UniqueFd f(::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (f) (void)!::write(f.get(), text.data(), text.size());
  }
  return kSetupFailureStatus;
}

// Ends this process with sig as the job's end, as a shell does (no core file).
[[noreturn]] void die_by_signal(int sig) {
  std::cout.flush();
  std::cerr.flush();
  rlimit none{0, 0};
  ::setrlimit(RLIMIT_CORE, &none);
  ::signal(sig, SIG_DFL);
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  ::sigprocmask(SIG_UNBLOCK, &s, nullptr);
  ::raise(sig);
  // A signal whose default is to be ignored (SIGCHLD, SIGURG, ...) did not end us.
  ::_exit(128 + sig);
}

Result<UniqueFd> connect_service(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path))
    return make_error(Errc::kInvalidArgument, "socket path too long: " + path);
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return sys_error("create a socket");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return sys_error("connect to " + path);
  return s;
}

// The text of the job's .chirp.config (HTCondor's IO proxy: "<ip> <port> <cookie>"), read
// here with the job's rights, so the service only ever reaches a proxy the job could reach.
// Its path comes from $_CONDOR_CHIRP_CONFIG (the file is in a sibling of the scratch dir).
Result<std::string> read_chirp_config() {
  const char* path = std::getenv("_CONDOR_CHIRP_CONFIG");
  if (!path || !*path)
    return make_error(Errc::kNotFound,
                      "the job wants its files from the submit side (WantIOProxy) but HTCondor "
                      "started no IO proxy ($_CONDOR_CHIRP_CONFIG is not set: is ENABLE_CHIRP_IO "
                      "false on this node?); or set +RingboxFiles = \"scratch\"");
  UniqueFd f(::open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!f) return sys_error(std::string("open the IO proxy's config ") + path);
  char buf[kMaxChirpConfigBytes + 1];
  auto got = read_all(f.get(), std::as_writable_bytes(std::span(buf)));
  if (!got)
    return sys_error(got.error().sys_errno, std::string("read the IO proxy's config ") + path);
  if (*got == sizeof(buf))
    return make_error(Errc::kTooLarge, std::string("the IO proxy's config ") + path +
                                           " is larger than " +
                                           std::to_string(kMaxChirpConfigBytes) + " bytes");
  return std::string(buf, *got);
}

// The restore file of a vacated job at the top of the scratch dir (docs/vacate.md), opened
// here with the job's user's rights: the root service only ever gets descriptors.
using service::kRestoreName;
using service::kRestorePart;
using service::kRestoreRejected;

// A restore file left by a vacate, to resume from: a regular file (never a link) or nothing.
UniqueFd open_restore_file(int dir) {
  ::unlinkat(dir, kRestorePart, 0);  // a save that never finished: never trusted
  UniqueFd f(::openat(dir, kRestoreName, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st {};
  if (f && (::fstat(f.get(), &st) != 0 || !S_ISREG(st.st_mode))) f.reset();
  return f;
}

Result<ClassAd> read_ad(const char* env_name) {
  const char* path = std::getenv(env_name);
  if (!path || !*path) return ClassAd{};  // not under HTCondor: defaults for everything
  return ClassAd::read_file(path);
}

}  // namespace

int wrapper_main(const std::vector<std::string>& argv) {
  // Before anything can take long: the stop signals are read from a signalfd, never lost.
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGQUIT}) sigaddset(&sigs, s);
  ::sigprocmask(SIG_BLOCK, &sigs, nullptr);
  UniqueFd sigfd(::signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd) return setup_failure(sys_error("create a signalfd").message());

  auto job = read_ad("_CONDOR_JOB_AD");
  if (!job) return setup_failure("read the job ad: " + job.error().message());
  auto machine = read_ad("_CONDOR_MACHINE_AD");
  if (!machine) return setup_failure("read the machine ad: " + machine.error().message());
  std::string scratch = env_or("_CONDOR_SCRATCH_DIR", "");
  if (scratch.empty()) {
    std::vector<char> cwd(4096);
    if (!::getcwd(cwd.data(), cwd.size())) return setup_failure("no scratch directory");
    scratch = cwd.data();
  }
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  auto plan = plan_job(*job, *machine, argv, env, scratch);
  if (!plan) return setup_failure(plan.error().message());
  if (plan->submit_files) {
    auto text = read_chirp_config();
    if (!text) return setup_failure(text.error().message());
    plan->request.add("chirp_config", *text);
  }

  UniqueFd dir(::open(scratch.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return setup_failure(sys_error("open the scratch directory " + scratch).message());
  std::string socket_path = env_or(kSocketEnv, service::kDefaultServiceSocket);
  auto sock = connect_service(socket_path);
  if (!sock)
    return setup_failure("cannot reach ringbox's service: " + sock.error().message() +
                         " (is it running on this node? `systemctl status ringbox-hostd`)");
  UniqueFd restore = open_restore_file(dir.get());
  const int streams[2] = {STDOUT_FILENO, STDERR_FILENO};
  if (restore) {
    // What the job printed before the vacate, which the starter's O_TRUNC dropped; should the
    // service refuse the restore, it truncates the streams again (saved_streams.h).
    if (auto put = restore_streams(dir.get(), streams); !put) {
      std::cerr << "ringbox: cannot put back the job's output from before its vacate ("
                << put.error().message() << "): the job starts from the beginning\n"
                << std::flush;
      ::renameat(dir.get(), kRestoreName, dir.get(), kRestoreRejected);
      restore.reset();
    }
  }
  if (!restore) drop_saved_streams(dir.get());
  int fds[4] = {dir.get(), STDOUT_FILENO, STDERR_FILENO, restore.get()};
  if (auto s = service::send_service_message(sock->get(), plan->request,
                                             std::span<const int>(fds, restore ? 4 : 3));
      !s) {
    // The service refuses some clients as soon as they connect (policy, max_domains) and
    // hangs up: its reason is waiting in the socket.
    auto why = service::recv_service_message(sock->get(), 1000);
    if (why && why->get("op") == "result" && why->has("message"))
      return setup_failure(why->get("message"));
    return setup_failure("send the job to ringbox's service: " + s.error().message());
  }
  restore.reset();

  WrapperIo io;
  io.signals = sigfd.get();
  io.service = sock->get();
  io.scratch = dir.get();
  io.streams[0] = STDOUT_FILENO;
  io.streams[1] = STDERR_FILENO;
  WrapperEnd end = run_wrapper_loop(*plan, io);
  if (!end.failure.empty()) return setup_failure(end.failure);
  if (end.signal != 0) {
    sock->reset();  // the service kills the guest when our end closes
    die_by_signal(end.signal);
  }
  return end.status;
}

int cmd_condor(const std::vector<std::string>& args) {
  std::vector<std::string> job = args;
  if (!job.empty() && job[0] == "--") job.erase(job.begin());
  // A job whose executable is this wrapper, on a node whose USER_JOB_WRAPPER is this wrapper
  // too: one wrapper is enough (the inner one could not reach the service from the guest).
  struct stat self, first;
  if (!job.empty() && ::stat("/proc/self/exe", &self) == 0 && ::stat(job[0].c_str(), &first) == 0 &&
      self.st_dev == first.st_dev && self.st_ino == first.st_ino)
    job.erase(job.begin());
  if (!job.empty() && (job[0] == "--help" || job[0] == "-h")) {
    std::cout << "usage: ringbox-condor JOB ARGS...   (HTCondor's USER_JOB_WRAPPER, or a "
                 "vanilla job's executable; docs/condor.md)\n";
    return 0;
  }
  return wrapper_main(job);
}

}  // namespace ringbox::host::condor
