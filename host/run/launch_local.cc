// The local transport's Guest: ringbox-agent --job as a child process of ringbox-host, in a
// private temporary directory:
//
//   <base>/ringbox-run-XXXXXX/  0711: the job (another uid) must walk through to its view
//     ctl/agent.sock            0700 directory: only root reaches the socket
//     agent/                    the agent's --work-dir: view/, cache/, eager/
//
// <base> is $TMPDIR, else /dev/shm, else /tmp.
//
// cleanup() detaches any mount the agent left there (a killed agent cannot unmount its view)
// and removes the directory without crossing into a mount.
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
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

#include "host/run/launch.h"
#include "shared/transport/local/local_channel.h"
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
    std::string sock = ctl + "/agent.sock";
    auto listener = transport::LocalListener::listen(sock);
    if (!listener) return std::move(listener.error());
    g->listener_.emplace(std::move(*listener));

    std::string agent = cfg.agent_path.empty() ? agent_beside_us() : cfg.agent_path;
    std::vector<std::string> argv = {agent,       "--job", "--transport", "local",
                                     "--connect", sock,    "--work-dir",  g->dir_ + "/agent"};
    if (cfg.cache_max_mb > 0) {
      argv.push_back("--cache-max-mb");
      argv.push_back(std::to_string(cfg.cache_max_mb));
    }
    if (cfg.spin_us != RunConfig{}.spin_us) {
      argv.push_back("--spin-us");
      argv.push_back(std::to_string(cfg.spin_us));
    }
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    // Its own process group, so a terminal's ^C reaches only ringbox-host, which turns it into
    // an orderly shutdown; and a clean signal mask (ours blocks the shutdown signals).
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
    pid_t pid;
    int rc = ::posix_spawn(&pid, agent.c_str(), nullptr, &attr, cargv.data(), environ);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return sys_error(rc, "start the agent " + agent + " (see --agent)");
    g->pid_ = pid;
    return g;
  }

  ~LocalGuest() override {
    if (pid_ > 0) {
      kill();
      (void)wait(0);
    }
    cleanup();
  }

  Result<std::unique_ptr<transport::RingChannel>> connect(int timeout_ms) override {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      auto sock = listener_->accept_socket(100);
      if (sock) {
        listener_.reset();  // one agent per run: nobody else gets to connect
        return transport::local_accept(std::move(*sock));
      }
      if (sock.error().code != Errc::kTimeout) return std::move(sock.error());
      int status;
      if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return make_error(Errc::kPeerGone,
                          "the agent ended before it connected (" + describe(status) + ")");
      }
      if (std::chrono::steady_clock::now() >= deadline)
        return make_error(Errc::kTimeout,
                          "the agent did not connect within " + std::to_string(timeout_ms) + " ms");
    }
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
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
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
  static std::string describe(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
      return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
             strsignal(WTERMSIG(status)) + ")";
    return "ended with wait status " + std::to_string(status);
  }

  std::string dir_;
  std::optional<transport::LocalListener> listener_;
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
