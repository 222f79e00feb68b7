// The local and tcp transports' Guest: ringbox-agent --job as a child process of ringbox-host,
// in a private temporary directory:
//
//   <base>/ringbox-run-XXXXXX/  0711: the job (another uid) must walk through to its view
//     ctl/agent.sock            0700 directory: only root reaches the socket (local)
//     agent/                    the agent's --work-dir: view/, cache/, eager/
//
// tcp: the agent connects to a listener on 127.0.0.1 (a free port) instead of the socket. Any
// local user can reach that port, so the listener asks for a fresh random connection token,
// which the agent gets in its environment (ringbox_proto.h, kStreamTokenBytes).
//
// <base> is $TMPDIR, else /dev/shm, else /tmp.
//
// cleanup() detaches any mount the agent left there (a killed agent cannot unmount its view)
// and removes the directory without crossing into a mount.
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "host/own_group_spawn.h"
#include "host/run/launch.h"
#include "shared/transport/local/local_channel.h"
#include "shared/transport/tcp/stream_server.h"
#include "shared/transport/tcp/tcp_socket.h"
#include "shared/util/file_io.h"
#include "shared/util/log.h"

extern char** environ;

namespace ringbox::host::run {
namespace {

std::string agent_beside_us() {
  std::vector<char> buf(4096);
  ssize_t n = ::readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0) return "ringbox-agent";
  std::string self(buf.data(), static_cast<size_t>(n));
  return self.substr(0, self.rfind('/') + 1) + "ringbox-agent";
}

// Mount points at or below dir, deepest first, from /proc/self/mountinfo (field 5).
std::vector<std::string> mounts_below(const std::string& dir) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string f[5];
    for (auto& x : f) fields >> x;
    if (f[4] == dir || f[4].rfind(dir + "/", 0) == 0) out.push_back(f[4]);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.size() > b.size(); });
  return out;
}

// kStreamTokenBytes hex digits from the kernel's random pool.
Result<std::string> new_connect_token() {
  unsigned char raw[proto::kStreamTokenBytes / 2];
  if (::getrandom(raw, sizeof(raw), 0) != static_cast<ssize_t>(sizeof(raw)))
    return sys_error("draw a random connection token");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char b : raw) {
    token.push_back(kHex[b >> 4]);
    token.push_back(kHex[b & 15]);
  }
  return token;
}

int remove_entry(const char* path, const struct stat*, int type, struct FTW*) {
  if (type == FTW_DP)
    ::rmdir(path);
  else
    ::unlink(path);
  return 0;
}

class LocalGuest final : public Guest {
 public:
  static Result<std::unique_ptr<LocalGuest>> start(const RunConfig& cfg) {
    // tmpfs when we can: the agent's cache and staging area live on tmpfs in a domain too, and
    // a disk file system's O_TMPFILE and fsync costs would distort every lazy-file number.
    const char* tmp = std::getenv("TMPDIR");
    struct stat shm;
    std::string base = tmp && *tmp                                             ? tmp
                       : ::stat("/dev/shm", &shm) == 0 && S_ISDIR(shm.st_mode) ? "/dev/shm"
                                                                               : "/tmp";
    std::string templ = base + "/ringbox-run-XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) return sys_error("create a private directory from " + templ);
    std::unique_ptr<LocalGuest> g(new LocalGuest(buf.data()));
    if (::chmod(g->dir_.c_str(), 0711) != 0) return sys_error("set the mode of " + g->dir_);
    std::string ctl = g->dir_ + "/ctl";
    if (::mkdir(ctl.c_str(), 0700) != 0) return sys_error("create " + ctl);
    std::string transport_address;
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    if (cfg.transport == Transport::kTcp) {
      auto listen_fd = transport::tcp_listen({"127.0.0.1", 0});
      if (!listen_fd) return std::move(listen_fd.error());
      auto port = transport::tcp_local_port(listen_fd->get());
      if (!port) return std::move(port.error());
      auto token = new_connect_token();
      if (!token) return std::move(token.error());
      g->tcp_listen_fd_ = std::move(*listen_fd);
      g->token_ = *token;
      transport_address = "127.0.0.1:" + std::to_string(*port);
      env.push_back(std::string(proto::kConnectTokenEnv) + "=" + *token);
    } else {
      transport_address = ctl + "/agent.sock";
      auto listener = transport::LocalListener::listen(transport_address);
      if (!listener) return std::move(listener.error());
      g->listener_.emplace(std::move(*listener));
    }

    std::string agent = cfg.agent_path.empty() ? agent_beside_us() : cfg.agent_path;
    std::vector<std::string> argv = agent_job_args(cfg);
    argv.insert(argv.begin(), agent);
    argv.insert(argv.end(), {"--connect", transport_address, "--work-dir", g->dir_ + "/agent"});
    auto pid = spawn_in_own_group(agent, std::move(argv), std::move(env), nullptr,
                                  "start the agent " + agent + " (see --agent)");
    if (!pid) return std::move(pid.error());
    g->pid_ = *pid;
    return g;
  }

  ~LocalGuest() override {
    if (pid_ > 0) {
      kill();
      (void)wait(0);
    }
    cleanup();
  }

  Result<std::unique_ptr<rpc::Server>> connect(int timeout_ms, rpc::Handler& handler,
                                               const rpc::ServerOptions& opts) override {
    if (tcp_listen_fd_) {
      // The agent's connections are accepted (and their token checked) by the server; it
      // gives up if none comes by the deadline, and returns once the agent closed them all.
      transport::StreamServerOptions sopts;
      sopts.token = token_;
      sopts.first_connection_timeout_ms = timeout_ms;
      sopts.client_alive = [this] { return !reaped_early(); };
      return std::unique_ptr<rpc::Server>(std::make_unique<transport::StreamServer>(
          std::move(tcp_listen_fd_), handler, std::move(sopts)));
    }
    auto channel = accept_ring(timeout_ms);
    if (!channel) return std::move(channel.error());
    auto server = rpc::RingServer::create(std::move(*channel), handler, opts);
    if (!server) return std::move(server.error());
    return std::unique_ptr<rpc::Server>(std::move(*server));
  }

  Result<UniqueFd> accept_agent(int timeout_ms) override {
    if (tcp_listen_fd_)
      return make_error(Errc::kInvalidArgument,
                        "--transport tcp cannot serve from a confined file service");
    return accept_socket(timeout_ms);
  }

  void kill() override {
    if (pid_ > 0) ::kill(pid_, SIGKILL);
  }

  std::string wait(int timeout_ms) override {
    if (pid_ <= 0) return last_;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    int status = 0;
    for (;;) {
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) break;
      if (r < 0 && errno != EINTR) return "lost (" + std::string(std::strerror(errno)) + ")";
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        retry_eintr([&] { return ::waitpid(pid_, &status, 0); });
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
    last_ = describe(status);
    return last_;
  }

  void cleanup() override {
    if (dir_.empty()) return;
    listener_.reset();
    for (const auto& m : mounts_below(dir_)) {
      if (::umount2(m.c_str(), MNT_DETACH) != 0)
        log::warn("cannot unmount " + m + ": " + std::strerror(errno));
    }
    // FTW_MOUNT: never descend into something still mounted; FTW_PHYS: never follow a link.
    ::nftw(dir_.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    dir_.clear();
  }

 private:
  explicit LocalGuest(std::string dir) : dir_(std::move(dir)) {}

  // Whether the agent already ended (reaped here; wait() then reports how).
  bool reaped_early() {
    int status;
    if (pid_ <= 0 || ::waitpid(pid_, &status, WNOHANG) != pid_) return pid_ <= 0;
    pid_ = -1;
    last_ = describe(status);
    return true;
  }

  Result<std::unique_ptr<transport::RingChannel>> accept_ring(int timeout_ms) {
    auto sock = accept_socket(timeout_ms);
    if (!sock) return std::move(sock.error());
    return transport::local_accept(std::move(*sock));
  }

  // The agent's connection on the listener, before the ring is set up on it.
  Result<UniqueFd> accept_socket(int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      auto sock = listener_->accept_socket(100);
      if (sock) {
        listener_.reset();  // one agent per run: nobody else gets to connect
        return sock;
      }
      if (sock.error().code != Errc::kTimeout) return std::move(sock.error());
      if (reaped_early())
        return make_error(Errc::kPeerGone, "the agent ended before it connected (" + last_ + ")");
      if (std::chrono::steady_clock::now() >= deadline)
        return make_error(Errc::kTimeout,
                          "the agent did not connect within " + std::to_string(timeout_ms) + " ms");
    }
  }

  static std::string describe(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
      return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
             strsignal(WTERMSIG(status)) + ")";
    return "ended with wait status " + std::to_string(status);
  }

  std::string dir_;
  std::optional<transport::LocalListener> listener_;  // local
  UniqueFd tcp_listen_fd_;                            // tcp, until connect() hands it over
  std::string token_;                                 // tcp
  pid_t pid_ = -1;
  std::string last_ = "not started";
};

}  // namespace

Result<std::unique_ptr<Guest>> launch_local_guest(const RunConfig& cfg) {
  auto g = LocalGuest::start(cfg);
  if (!g) return std::move(g.error());
  return std::unique_ptr<Guest>(std::move(*g));
}

}  // namespace ringbox::host::run
