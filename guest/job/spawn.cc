#include "guest/job/spawn.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "shared/util/file_io.h"

namespace ringbox::guest::job {
namespace {

constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

// What the child writes to the error pipe when it cannot exec.
struct ChildReport {
  int step;
  int err;
};
enum Step { kStepCreds = 1, kStepChdir = 2, kStepExec = 3, kStepParent = 4, kStepLimits = 5 };

const char* step_name(int step) {
  switch (step) {
    case kStepCreds:
      return "drop privileges to the job's uid/gid";
    case kStepChdir:
      return "enter the working directory";
    case kStepExec:
      return "run";
    case kStepParent:
      return "stay tied to the agent";
    case kStepLimits:
      return "set the job's open-file limit";
    default:
      return "start";
  }
}

std::vector<std::string> exec_candidates(const SpawnSpec& spec) {
  const std::string& prog = spec.argv[0];
  if (prog.find('/') != std::string::npos) return {prog};
  std::string path = kDefaultPath;
  for (const auto& e : spec.env)
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t colon = path.find(':', start);
    std::string dir = path.substr(start, colon == std::string::npos ? colon : colon - start);
    out.push_back((dir.empty() ? std::string(".") : dir) + "/" + prog);
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return out;
}

[[noreturn]] void child_fail(int fd, int step, int err) {
  ChildReport r{step, err};
  (void)!::write(fd, &r, sizeof(r));
  _exit(127);
}

}  // namespace

Result<Spawned> spawn_job(const SpawnSpec& spec, SpawnFailure& failure) {
  std::vector<std::string> candidates = exec_candidates(spec);
  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int out[2], err[2], report[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return sys_error("create the job's stdout pipe");
  UniqueFd out_r(out[0]), out_w(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) return sys_error("create the job's stderr pipe");
  UniqueFd err_r(err[0]), err_w(err[1]);
  if (::pipe2(report, O_CLOEXEC) != 0) return sys_error("create the exec report pipe");
  UniqueFd report_r(report[0]), report_w(report[1]);
  UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!devnull) return sys_error("open /dev/null for the job's stdin");
  const bool drop = spec.uid != 0 || spec.gid != 0;
  const pid_t agent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) return sys_error("fork the job");
  if (pid == 0) {
    // Child: system calls only from here to exec.
    int rfd = report_w.get();
    ::setpgid(0, 0);
    ::dup2(devnull.get(), 0);
    ::dup2(out_w.get(), 1);
    ::dup2(err_w.get(), 2);
    // Nothing of the agent's leaks into the job (the report pipe closes itself at exec).
    ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
    if (spec.nofile.rlim_max > 0 && ::setrlimit(RLIMIT_NOFILE, &spec.nofile) != 0)
      child_fail(rfd, kStepLimits, errno);
    if (drop) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(spec.gid) != 0 || ::setuid(spec.uid) != 0)
        child_fail(rfd, kStepCreds, errno);
    }
    // After the credential change, which would clear it.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(rfd, kStepParent, errno);
    if (::getppid() != agent) child_fail(rfd, kStepParent, ESRCH);  // the agent already died
    if (::chdir(spec.cwd.c_str()) != 0) child_fail(rfd, kStepChdir, errno);
    int exec_err = ENOENT;
    for (const auto& c : candidates) {
      ::execve(c.c_str(), argv.data(), envp.data());
      if (errno != ENOENT && errno != ENOTDIR) exec_err = errno;
      if (errno != ENOENT && errno != ENOTDIR && errno != EACCES) break;
    }
    child_fail(rfd, kStepExec, exec_err);
  }

  // Parent. Set the group here too: whichever of the two runs first, the job is in its own
  // group before anyone signals it.
  ::setpgid(pid, pid);
  report_w.reset();
  out_w.reset();
  err_w.reset();
  ChildReport r{};
  ssize_t n = retry_eintr([&] { return ::read(report_r.get(), &r, sizeof(r)); });
  if (n == 0) return Spawned{pid, std::move(out_r), std::move(err_r)};  // exec succeeded

  int status;
  retry_eintr([&] { return ::waitpid(pid, &status, 0); });
  if (n != sizeof(r)) {
    failure = {"the job's process ended before it could start '" + spec.argv[0] + "'", 126};
    return Spawned{};
  }
  std::string what = std::string(step_name(r.step));
  if (r.step == kStepExec) what += " '" + spec.argv[0] + "'";
  if (r.step == kStepChdir) what += " " + spec.cwd;
  failure = {"cannot " + what + ": " + std::strerror(r.err),
             r.step == kStepExec && r.err == ENOENT ? 127 : 126};
  return Spawned{};
}

}  // namespace ringbox::guest::job
