#include "host/confine/confined_service.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// Linux's Xen device ioctls; they use Xen's domid_t.
#include <xen/xen.h>

#include <xen/sys/evtchn.h>
#include <xen/sys/gntdev.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <mutex>
#include <optional>

#include "host/command_options.h"
#include "host/confine/sandbox.h"
#include "host/files/file_service.h"
#include "host/host_handler.h"
#include "host/own_group_spawn.h"
#include "host/run/transfer_log.h"
#include "shared/rpc/ring_server.h"
#include "shared/transport/local/local_channel.h"
#include "shared/transport/tcp/stream_rpc.h"
#include "shared/transport/xen/backend_lock.h"
#include "shared/transport/xen/xen_channel.h"
#include "shared/util/file_io.h"
#include "shared/util/log.h"

extern char** environ;

namespace po = boost::program_options;

namespace ringbox::host::confine {
namespace {

// The first descriptor number the service's inherited descriptors are given.
constexpr int kFirstServiceFd = 3;
// posix_spawn's dup2 actions run in order: sources moved here first can never be clobbered.
constexpr int kSpawnHighFd = 100;

// The job opcodes, sent to the parent over the job channel as they came.
class JobForwarder final : public rpc::Handler {
 public:
  explicit JobForwarder(rpc::Client& parent) : parent_(parent) {}
  rpc::Reply handle(const rpc::Request& req) override {
    rpc::Call c;
    c.opcode = static_cast<proto::Opcode>(req.opcode);
    c.flags = req.flags;
    c.arg = req.arg;
    c.in = req.in.opaque();  // framed as is; the parent copies before it interprets
    c.out = req.out.first(std::min<size_t>(req.out.size(), proto::kMaxStreamPayload));
    c.long_poll = req.opcode == static_cast<uint16_t>(proto::Opcode::kWaitEvent);
    auto r = parent_.call(c);
    if (!r) {
      log::error("forward opcode " + std::to_string(req.opcode) +
                 " to ringbox-host: " + r.error().message());
      return rpc::Reply::error(proto::WireError::kIo);
    }
    return *r;
  }

 private:
  rpc::Client& parent_;
};

// Closes every descriptor from 3 up but `keep` (sorted).
void close_all_but(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned first = kFirstServiceFd;
  for (int fd : keep) {
    if (fd < kFirstServiceFd) continue;
    if (static_cast<unsigned>(fd) > first) ::close_range(first, fd - 1, 0);
    first = static_cast<unsigned>(fd) + 1;
  }
  ::close_range(first, ~0u, 0);
}

struct ServiceArgs {
  ConfinedServiceSpec spec;
  int agent_fd = -1;  // local: the agent's socket; xen: run's notice that the frontend left
  uint32_t xen_domid = 0;
  int accept_timeout_ms = 60000;
  bool probe_xen = false;  // the probe holds Xen's device descriptors, as a xen service does
  int transfer_log_fd = -1;
  std::vector<int> job_fds;
  bool probe = false;
  std::vector<std::string> probe_paths;     // must be refused
  std::vector<std::string> probe_controls;  // must be allowed: the sandbox still serves
};

// One attempt of the probe: runs `call` (a system call; >= 0: it worked), takes its errno at
// once, and prints the verdict. True when it was refused.
template <typename Call>
bool attempt(const std::string& what, Call call) {
  const long rc = call();
  const int err = errno;
  if (rc >= 0) {
    std::cout << "probe: " << what << ": ALLOWED\n";
    return false;
  }
  std::cout << "probe: " << what << ": refused (" << std::strerror(err) << ")\n";
  return true;
}

// What a compromised handler would try, from inside the confined service.
int run_probe(const std::vector<std::string>& paths, const std::vector<std::string>& controls,
              const std::vector<UniqueFd>& xen_devices) {
  bool all_refused = true;
  for (const auto& c : controls) {
    int fd = ::open(c.c_str(), O_RDONLY | O_CLOEXEC);
    std::cout << "probe: control: open " << c << ": "
              << (fd >= 0 ? "allowed" : std::string("REFUSED (") + std::strerror(errno) + ")")
              << "\n";
    all_refused &= fd >= 0;
    if (fd >= 0) ::close(fd);
  }
  std::vector<std::string> files = paths;
  for (const char* p : {"/etc/passwd", "/etc/shadow", "/root", "/dev/xen/privcmd",
                        "/dev/xen/gntdev", "/dev/xen/evtchn", "/dev/xen/xenbus", "/dev/mem",
                        "/proc/1/root/etc/passwd", "/export/../etc/passwd"})
    files.push_back(p);
  // What an attempt opened or created stays open: the probe ends right after.
  for (const auto& f : files)
    all_refused &= attempt("open " + f, [&] { return ::open(f.c_str(), O_RDONLY | O_CLOEXEC); });
  all_refused &=
      attempt("socket(AF_INET)", [] { return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); });
  all_refused &=
      attempt("socket(AF_UNIX)", [] { return ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0); });
  all_refused &= attempt("setuid(0)", [] { return ::setuid(0); });
  all_refused &= attempt("unshare(CLONE_NEWUSER)", [] { return ::unshare(CLONE_NEWUSER); });
  all_refused &= attempt("clone(CLONE_NEWUSER)",
                         [] { return ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0); });
  all_refused &= attempt("mount tmpfs on /export",
                         [] { return ::mount("x", "/export", "tmpfs", 0, nullptr); });
  all_refused &= attempt("ptrace(PTRACE_ATTACH, the parent)",
                         [] { return ::ptrace(PTRACE_ATTACH, ::getppid(), 0, 0); });
  all_refused &= attempt("kill(-1, 0)", [] { return ::kill(-1, 0); });
  all_refused &=
      attempt("mkdir /escape in the sandbox's root", [] { return ::mkdir("/escape", 0700); });
  if (!xen_devices.empty()) {
    // Holding the devices a xen service holds, reach for another domain: domain 1 stands for
    // any (the ioctl is refused before Xen is asked).
    ioctl_evtchn_bind_interdomain bind{};
    bind.remote_domain = 1;
    bind.remote_port = 1;
    all_refused &= attempt("ioctl(evtchn, BIND_INTERDOMAIN, domain 1)", [&] {
      return ::ioctl(xen_devices[0].get(), IOCTL_EVTCHN_BIND_INTERDOMAIN, &bind);
    });
    ioctl_evtchn_bind_unbound_port unbound{};
    unbound.remote_domain = 1;
    all_refused &= attempt("ioctl(evtchn, BIND_UNBOUND_PORT, domain 1)", [&] {
      return ::ioctl(xen_devices[0].get(), IOCTL_EVTCHN_BIND_UNBOUND_PORT, &unbound);
    });
    ioctl_gntdev_map_grant_ref map{};
    map.count = 1;
    map.refs[0].domid = 1;
    map.refs[0].ref = 8;
    all_refused &= attempt("ioctl(gntdev, MAP_GRANT_REF, domain 1)", [&] {
      return ::ioctl(xen_devices[1].get(), IOCTL_GNTDEV_MAP_GRANT_REF, &map);
    });
  }
  std::cout << "probe: "
            << (all_refused ? "every attempt was refused"
                            : "SOMETHING WAS ALLOWED (or a control refused)")
            << std::endl;  // flushed: the sandbox ends in _exit
  return all_refused ? 0 : 1;
}

// pid 1 of the sandbox: confine, then serve (or probe).
int sandbox_main(const ServiceArgs& a) {
  // It dies with the process that waits for it, whatever step it is at.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return 1;
  // xen: the handshake needs xenstore and Xen's devices, so it comes before the new root, as
  // root; afterwards the channel keeps no xenstore connection (XenAcceptOptions).
  std::unique_ptr<transport::RingChannel> channel;
  if (a.xen_domid != 0 && !a.probe) {
    transport::XenAcceptOptions o;
    o.peer_notice_fd = a.agent_fd;
    o.take_backend_lock = false;  // run holds it (ConfinedServer::start)
    auto ch = transport::xen_accept(a.xen_domid, a.accept_timeout_ms, o);
    if (!ch) {
      log::error("attach to domain " + std::to_string(a.xen_domid) + ": " + ch.error().message());
      return 1;
    }
    channel = std::move(*ch);
  }
  std::vector<UniqueFd> xen_devices;  // --probe-xen
  if (a.probe_xen)
    for (const char* dev : {"/dev/xen/evtchn", "/dev/xen/gntdev"}) {
      xen_devices.emplace_back(::open(dev, O_RDWR | O_CLOEXEC));
      if (!xen_devices.back()) {
        log::error(std::string("open ") + dev + ": " + std::strerror(errno));
        return 1;
      }
    }
  if (auto r = enter_export_root(a.spec.export_dir); !r) {
    log::error(r.error().message());
    return 1;
  }
  if (auto d = drop_privileges(a.spec.uid, a.spec.gid); !d) {
    log::error(d.error().message());
    return 1;
  }
  // local: the agent's handshake is the first guest input: read as the user, in the new root.
  if (!a.probe && a.xen_domid == 0) {
    auto ch = transport::local_accept(UniqueFd(a.agent_fd));
    if (!ch) {
      log::error("set up the agent's ring: " + ch.error().message());
      return 1;
    }
    channel = std::move(*ch);
  }
  auto policy = files::policy_from_rules(a.spec.policy);
  if (!policy) {
    log::error("policy: " + policy.error().message());
    return 1;
  }
  files::FileServiceConfig fcfg;
  fcfg.export_dir = kSandboxExport;
  fcfg.policy = std::move(*policy);
  auto files = files::FileService::create(std::move(fcfg));
  if (!files) {
    log::error("serve the export " + a.spec.export_dir + " as uid " + std::to_string(a.spec.uid) +
               ": " + files.error().message() + " (does that user own the export?)");
    return 1;
  }
  std::vector<UniqueFd> job_fds;
  for (int fd : a.job_fds) job_fds.emplace_back(fd);
  std::mutex pool_mu;
  transport::StreamClient parent(
      [&]() -> Result<UniqueFd> {
        std::lock_guard lk(pool_mu);
        if (job_fds.empty())
          return make_error(Errc::kPeerGone, "the job channel to ringbox-host is used up");
        UniqueFd fd = std::move(job_fds.back());
        job_fds.pop_back();
        return fd;
      },
      kJobConnections);
  if (auto v = rpc::negotiate_version(parent); !v) {
    log::error("greet ringbox-host on the job channel: " + v.error().message());
    return 1;
  }
  JobForwarder job(parent);
  HostHandler handler(**files, job);
  if (auto f = install_syscall_filter(); !f) {
    log::error(f.error().message());
    return 1;
  }
  if (a.probe) return run_probe(a.probe_paths, a.probe_controls, xen_devices);
  rpc::ServerOptions opts;
  opts.workers = a.spec.workers;
  opts.spin_us = a.spec.spin_us;
  opts.features = a.spec.features;
  std::optional<run::TransferLog> transfers;  // run's --transfer-log, recorded here
  if (a.transfer_log_fd >= 0) transfers.emplace(handler);
  rpc::Handler& serving = transfers ? static_cast<rpc::Handler&>(*transfers) : handler;
  auto server = rpc::RingServer::create(std::move(channel), serving, opts);
  if (!server) {
    log::error("serve the agent: " + server.error().message());
    return 1;
  }
  auto served = (*server)->serve();
  // A forwarded long poll may still wait in run: end the job channel so the workers return.
  for (int fd : a.job_fds) ::shutdown(fd, SHUT_RDWR);
  server->reset();
  (*files)->end_connection();
  if (transfers) {
    log::info("transfers: " + transfers->summary());
    if (auto w = transfers->write_to(a.transfer_log_fd, a.spec.transfer_log_header); !w)
      log::error(w.error().message());
  }
  if (!served) {
    log::error("serving the agent: " + served.error().message());
    return 1;
  }
  return 0;
}

// Copies the service's log to ours, a line at a time (at most kMaxLogLine bytes; longer ones
// are cut), each under the service's name: whatever it writes, it cannot pass for run's own.
void relay_log(int fd) {
  constexpr size_t kMaxLogLine = 4096;
  constexpr std::string_view kOwn = "ringbox-host file-service: ";
  std::string line;
  char buf[4096];
  auto flush = [&] {
    if (line.substr(0, kOwn.size()) != kOwn) line.insert(0, "ringbox-host file-service: (raw) ");
    line.push_back('\n');
    (void)write_all(STDERR_FILENO, std::as_bytes(std::span(line)));
    line.clear();
  };
  for (;;) {
    ssize_t n = retry_eintr([&] { return ::read(fd, buf, sizeof buf); });
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == '\n') {
        flush();
      } else if (line.size() < kMaxLogLine) {
        line.push_back(buf[i]);
      }
    }
  }
  if (!line.empty()) flush();
}

}  // namespace

std::vector<std::string> service_args(const ConfinedServiceSpec& spec, int agent_fd,
                                      const std::vector<int>& job_fds) {
  std::vector<std::string> a = {"--export", spec.export_dir,
                                "--uid",    std::to_string(spec.uid),
                                "--gid",    std::to_string(spec.gid)};
  for (const auto& p : spec.policy.read) a.insert(a.end(), {"--read", p});
  for (const auto& p : spec.policy.write) a.insert(a.end(), {"--write", p});
  for (const auto& p : spec.policy.reserved) a.insert(a.end(), {"--reserve", p});
  a.insert(a.end(), {"--agent-fd", std::to_string(agent_fd)});
  if (!spec.transfer_log_header.empty())
    a.insert(a.end(), {"--transfer-log-fd", std::to_string(agent_fd + 1 + kJobConnections),
                       "--transfer-log-header", spec.transfer_log_header});
  if (spec.xen_domid != 0)
    a.insert(a.end(), {"--xen-domid", std::to_string(spec.xen_domid), "--accept-timeout-ms",
                       std::to_string(spec.accept_timeout_ms)});
  for (int fd : job_fds) a.insert(a.end(), {"--job-fd", std::to_string(fd)});
  a.insert(a.end(), {"--workers", std::to_string(spec.workers), "--spin-us",
                     std::to_string(spec.spin_us), "--features", std::to_string(spec.features)});
  return a;
}

int confined_service_main(const std::vector<std::string>& args) {
  log::set_program("ringbox-host file-service");
  ServiceArgs a;
  po::options_description desc(
      "ringbox-host confined-file-service: internal, started by `run --confine-user`");
  desc.add_options()("help,h", "show this help")("export", po::value(&a.spec.export_dir))(
      "uid", po::value(&a.spec.uid))("gid", po::value(&a.spec.gid))(
      "read", po::value(&a.spec.policy.read))("write", po::value(&a.spec.policy.write))(
      "reserve", po::value(&a.spec.policy.reserved))("agent-fd", po::value(&a.agent_fd))(
      "job-fd", po::value(&a.job_fds))("workers", po::value(&a.spec.workers))(
      "spin-us", po::value(&a.spec.spin_us))("features", po::value(&a.spec.features))(
      "transfer-log-fd", po::value(&a.transfer_log_fd))("transfer-log-header",
                                                        po::value(&a.spec.transfer_log_header))(
      "xen-domid", po::value(&a.xen_domid))("accept-timeout-ms", po::value(&a.accept_timeout_ms))(
      "probe-xen", po::bool_switch(&a.probe_xen))("probe", po::bool_switch(&a.probe))(
      "probe-path", po::value(&a.probe_paths))("probe-control", po::value(&a.probe_controls));
  po::variables_map vm;
  if (auto done = parse_command_options(args, desc, vm)) return *done;
  if (a.spec.export_dir.empty() || (!a.probe && (a.agent_fd < 0 || a.job_fds.empty()))) {
    std::cerr << "ringbox-host " << kConfinedServiceCommand
              << ": needs --export, and --agent-fd and --job-fd unless --probe\n";
    return 2;
  }
  // This process and the sandbox die with ringbox-host run (which may itself be killed).
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() == 1) return 1;
  std::vector<int> keep = a.job_fds;
  keep.push_back(a.agent_fd);
  if (a.transfer_log_fd >= 0) keep.push_back(a.transfer_log_fd);
  std::vector<UniqueFd> probe_job;  // the probe's own job channel: nobody answers it
  if (a.probe) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 1;
    probe_job.emplace_back(sv[1]);
    a.job_fds = {sv[0]};
  }
  close_all_but(a.probe ? std::vector<int>{a.job_fds[0], probe_job[0].get()} : keep);
  if (auto u = unshare_namespaces(); !u) {
    log::error(u.error().message());
    return 1;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    log::error(std::string("fork the sandbox: ") + std::strerror(errno));
    return 1;
  }
  if (pid == 0) {
    if (a.probe) {
      // The probe greets nobody: answer its kHello from a thread of its own.
      std::thread([fd = probe_job[0].release()] {
        struct Nothing final : rpc::Handler {
          rpc::Reply handle(const rpc::Request&) override {
            return rpc::Reply::error(proto::WireError::kNoSys);
          }
        } nothing;
        (void)transport::serve_stream(fd, nothing);
      }).detach();
    }
    ::_exit(sandbox_main(a));
  }
  // This process only waits for pid 1 of the sandbox and reports how it ended.
  for (int fd : keep) ::close(fd);
  probe_job.clear();
  for (int fd : a.job_fds) ::close(fd);
  int status = 0;
  if (retry_eintr([&] { return ::waitpid(pid, &status, 0); }) != pid) ::_exit(1);
  if (WIFEXITED(status)) ::_exit(WEXITSTATUS(status));
  log::error(std::string("the sandbox was killed by signal ") + std::to_string(WTERMSIG(status)));
  // _exit: the pid namespace died with its pid 1, and exit handlers that fork (LeakSanitizer's)
  // would fail in it.
  ::_exit(128 + WTERMSIG(status));
}

// --- the parent's side --------------------------------------------------------------------

ConfinedServer::ConfinedServer(pid_t pid, std::vector<UniqueFd> job_fds, UniqueFd log,
                               rpc::Handler& job, uint32_t xen_domid, UniqueFd notice,
                               UniqueFd lock)
    : pid_(pid),
      job_fds_(std::move(job_fds)),
      log_(std::move(log)),
      xen_domid_(xen_domid),
      notice_(std::move(notice)),
      lock_(std::move(lock)) {
  threads_.emplace_back([fd = log_.get()] { relay_log(fd); });
  if (xen_domid_ != 0)
    watcher_ = std::thread([this] {
      auto r = transport::xen_watch_frontend(xen_domid_, notice_.get(), watch_stop_);
      if (!r && !watch_stop_) {
        // Nobody else would tell the service: end its connection rather than leave it waiting
        // on a frontend nobody watches (a guest can write a state key that does not parse).
        log::warn("watch domain " + std::to_string(xen_domid_) + "'s frontend for the confined " +
                  "file service: " + r.error().message() + "; ending its connection");
        const char byte = 1;
        if (::write(notice_.get(), &byte, 1) != 1) ::kill(pid_, SIGKILL);
      }
    });
  for (auto& fd : job_fds_) {
    threads_.emplace_back([&job, fd = fd.get()] {
      transport::StreamServeOptions o;
      o.peer = "the confined file service";
      if (auto r = transport::serve_stream(fd, job, o); !r)
        log::warn("the job channel to the confined file service: " + r.error().message());
    });
  }
}

Result<std::unique_ptr<ConfinedServer>> ConfinedServer::start(const ConfinedServiceSpec& spec,
                                                              UniqueFd agent, rpc::Handler& job,
                                                              UniqueFd transfer_log) {
  // xen: the service's end of the notice pipe takes the agent's place (XenAcceptOptions), and
  // the one-backend-per-domain lock is held here, past the service's end, until the backend's
  // directory is closed (the service would record pid 1 of its namespace in it).
  UniqueFd notice, lock;
  if (spec.xen_domid != 0) {
    auto l = transport::lock_backend(spec.xen_domid);
    if (!l) return std::move(l.error());
    lock = std::move(*l);
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return sys_error("create the confined service's notice pipe");
    agent.reset(p[0]);
    notice.reset(p[1]);
  }
  std::vector<UniqueFd> ours, theirs;
  for (int i = 0; i < kJobConnections; ++i) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      return sys_error("create the confined file service's job channel");
    ours.emplace_back(sv[0]);
    theirs.emplace_back(sv[1]);
  }
  // The service's descriptors: the agent at 3, the job channel at 4.., nothing else (every
  // other descriptor of ours is close-on-exec, and the service closes any that is not).
  std::vector<UniqueFd> high;
  high.emplace_back(::fcntl(agent.get(), F_DUPFD_CLOEXEC, kSpawnHighFd));
  for (auto& t : theirs) high.emplace_back(::fcntl(t.get(), F_DUPFD_CLOEXEC, kSpawnHighFd));
  if (!spec.transfer_log_header.empty()) {
    if (!transfer_log) return make_error(Errc::kInvalidArgument, "no transfer log to write");
    high.emplace_back(::fcntl(transfer_log.get(), F_DUPFD_CLOEXEC, kSpawnHighFd));
  }
  for (auto& h : high)
    if (!h) return sys_error("prepare the confined file service's descriptors");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  // Nothing to read, and its log through a pipe that run relays: it never holds run's stderr.
  int log_pipe[2];
  if (::pipe2(log_pipe, O_CLOEXEC) != 0) return sys_error("create the confined service's log pipe");
  UniqueFd log_read(log_pipe[0]), log_write(log_pipe[1]);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, log_write.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, log_write.get(), 2);
  std::vector<int> job_fds;
  for (size_t i = 0; i < high.size(); ++i) {
    posix_spawn_file_actions_adddup2(&fa, high[i].get(), kFirstServiceFd + static_cast<int>(i));
    if (i > 0 && i <= static_cast<size_t>(kJobConnections))
      job_fds.push_back(kFirstServiceFd + static_cast<int>(i));
  }
  std::vector<std::string> argv = {"/proc/self/exe", kConfinedServiceCommand};
  auto rest = service_args(spec, kFirstServiceFd, job_fds);
  argv.insert(argv.end(), rest.begin(), rest.end());
  // Its environment: only what the sanitizers' runtime reads, none of run's.
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view v(*e);
    for (std::string_view keep : {"ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS="})
      if (v.substr(0, keep.size()) == keep) env.emplace_back(v);
  }
  auto pid = spawn_in_own_group("/proc/self/exe", std::move(argv), std::move(env), &fa,
                                "start the confined file service");
  posix_spawn_file_actions_destroy(&fa);
  if (!pid) return std::move(pid.error());
  log_write.reset();  // the service holds the only write end: its exit ends the relay
  return std::unique_ptr<ConfinedServer>(
      new ConfinedServer(*pid, std::move(ours), std::move(log_read), job, spec.xen_domid,
                         std::move(notice), std::move(lock)));
}

Result<void> ConfinedServer::serve() {
  int status = 0;
  if (retry_eintr([&] { return ::waitpid(pid_, &status, 0); }) != pid_)
    return sys_error("wait for the confined file service");
  reaped_ = true;
  stop_watcher();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return ok();
  return make_error(
      Errc::kPeerGone,
      "the confined file service " +
          (WIFEXITED(status) ? "ended with status " + std::to_string(WEXITSTATUS(status))
                             : "was killed by signal " + std::to_string(WTERMSIG(status))) +
          " (its log lines above say why, when it could write any)");
}

void ConfinedServer::stop_watcher() {
  if (!watcher_.joinable()) return;
  watch_stop_ = true;
  watcher_.join();
  transport::xen_close_backend_dir(xen_domid_);  // the service's channel is gone by now
  lock_.reset();
}

void ConfinedServer::stop() {
  if (!reaped_) ::kill(pid_, SIGKILL);
}

ConfinedServer::~ConfinedServer() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    int status;
    retry_eintr([&] { return ::waitpid(pid_, &status, 0); });
  }
  stop_watcher();
  // The service is gone, so every connection reads end of file; a long poll still running in
  // the JobSession ends when the run closes it (JobSession::close), before this.
  for (auto& fd : job_fds_) ::shutdown(fd.get(), SHUT_RDWR);
  for (auto& t : threads_) t.join();
}

}  // namespace ringbox::host::confine
