#include "host/service/daemon.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstring>
#include <iostream>
#include <map>

#include "host/command_options.h"
#include "host/service/job_runner.h"
#include "host/service/service_protocol.h"
#include "host/stop_signals.h"
#include "shared/util/log.h"

namespace po = boost::program_options;

namespace ringbox::host::service {
namespace {

Result<ClientCredentials> peer_credentials(int sock) {
  ClientCredentials c;
  ucred uc{};
  socklen_t len = sizeof(uc);
  if (::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0)
    return sys_error("read the client's credentials (SO_PEERCRED)");
  c.pid = uc.pid;
  c.uid = uc.uid;
  c.gid = uc.gid;
  std::vector<gid_t> groups(256);
  socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
  if (::getsockopt(sock, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) != 0)
    return sys_error("read the client's groups (SO_PEERGROUPS)");
  groups.resize(glen / sizeof(gid_t));
  c.groups = std::move(groups);
  return c;
}

Result<UniqueFd> listen_on(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path))
    return make_error(Errc::kInvalidArgument, "socket path too long: " + path);
  std::string dir = path.substr(0, path.rfind('/'));
  if (!dir.empty()) ::mkdir(dir.c_str(), 0755);
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return sys_error("create the service socket");
  ::unlink(path.c_str());
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return sys_error("bind the service socket " + path);
  // Every local user may connect; SO_PEERCRED and the policy decide what they get.
  if (::chmod(path.c_str(), 0666) != 0) return sys_error("set the mode of " + path);
  if (::listen(s.get(), 64) != 0) return sys_error("listen on " + path);
  return s;
}

void refuse(int sock, const std::string& why) {
  log::warn("refused a client: " + why);
  ServiceMessage m;
  m.add("op", "result");
  m.add("kind", "failed");
  m.add("value", "0");
  m.add("message", why);
  (void)send_service_message(sock, m);
}

}  // namespace

int run_daemon(const DaemonConfig& cfg, const ServicePolicy& policy) {
  sigset_t sigs = stop_signals();
  sigaddset(&sigs, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &sigs, nullptr);
  UniqueFd sigfd;
  {
    int fd = ::signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0) {
      log::error(sys_error("create a signalfd").message());
      return 1;
    }
    sigfd.reset(fd);
  }
  auto listener = listen_on(cfg.socket_path);
  if (!listener) {
    log::error(listener.error().message());
    return 1;
  }
  log::info("listening on " + cfg.socket_path + " (transport " + transport_name(policy.transport) +
            ", at most " + std::to_string(policy.max_domains) + " guests)");
  if (policy.transport != Transport::kXen)
    log::warn(
        "transport local: jobs run as ordinary processes on this machine; this isolates "
        "nothing (tests only)");

  std::map<pid_t, uid_t> children;  // job child -> its client's uid
  bool stopping = false;
  while (!stopping || !children.empty()) {
    pollfd p[2] = {{sigfd.get(), POLLIN, 0}, {stopping ? -1 : listener->get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0 && errno != EINTR) {
      log::error(sys_error("poll").message());
      return 1;
    }
    if (p[0].revents & POLLIN) {
      signalfd_siginfo si;
      while (::read(sigfd.get(), &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGCHLD) continue;
        if (!stopping) {
          log::info(std::string("got ") + strsignal(static_cast<int>(si.ssi_signo)) +
                    ": stopping every job");
          stopping = true;
          for (auto& [pid, uid] : children) ::kill(pid, SIGTERM);
        }
      }
      for (;;) {
        int status;
        pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid <= 0) break;
        children.erase(pid);
      }
    }
    if (stopping || !(p[1].revents & POLLIN)) continue;
    UniqueFd client(::accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) continue;
    auto who = peer_credentials(client.get());
    if (!who) {
      refuse(client.get(), who.error().message());
      continue;
    }
    if (!policy.allows(who->uid, who->groups)) {
      refuse(client.get(), "uid " + std::to_string(who->uid) +
                               " may not run ringbox jobs on this node (allow_users / "
                               "allow_groups in the service policy)");
      continue;
    }
    uint32_t mine = 0;
    for (auto& [pid, uid] : children) mine += uid == who->uid;
    if (children.size() >= policy.max_domains || mine >= policy.max_domains_per_user) {
      refuse(client.get(), "this node runs " + std::to_string(children.size()) +
                               " ringbox jobs already (" + std::to_string(mine) +
                               " of this user); policy max_domains " +
                               std::to_string(policy.max_domains) + ", max_domains_per_user " +
                               std::to_string(policy.max_domains_per_user));
      continue;
    }
    pid_t pid = ::fork();
    if (pid < 0) {
      refuse(client.get(), sys_error("fork a job process").message());
      continue;
    }
    if (pid == 0) {
      listener->reset();
      sigfd.reset();
      sigset_t chld;
      sigemptyset(&chld);
      sigaddset(&chld, SIGCHLD);
      ::sigprocmask(SIG_UNBLOCK, &chld, nullptr);
      // The daemon dying (even by SIGKILL) must not leave a guest running.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      int rc = run_client_job(std::move(client), *who, policy);
      std::fflush(nullptr);
      ::_exit(rc);
    }
    children[pid] = who->uid;
  }
  log::info("stopped");
  return 0;
}

int cmd_daemon(const std::vector<std::string>& args) {
  DaemonConfig cfg;
  cfg.socket_path = kDefaultServiceSocket;
  po::options_description desc(
      "ringbox-host daemon: ringbox's root service for HTCondor's job wrapper (docs/condor.md)");
  desc.add_options()("help,h", "show this help")(
      "socket", po::value(&cfg.socket_path)->default_value(cfg.socket_path),
      "the Unix socket wrappers connect to")(
      "policy", po::value(&cfg.policy_path)->default_value(cfg.policy_path),
      "the admin's policy file (users, caps, transport, images)");
  po::variables_map vm;
  if (auto done = parse_command_options(args, desc, vm)) return *done;
  if (::geteuid() != 0) {
    std::cerr << "ringbox-host daemon: must run as root (it creates domains and mounts for "
                 "unprivileged wrappers)\n";
    return 1;
  }
  auto policy = read_service_policy(cfg.policy_path);
  if (!policy) {
    std::cerr << "ringbox-host daemon: " << policy.error().message() << "\n";
    return 2;
  }
  return run_daemon(cfg, *policy);
}

}  // namespace ringbox::host::service
