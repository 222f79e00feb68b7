#include "guest/job/job_runner.h"

#include "guest/fd_limit.h"

#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "guest/fs/fuse_busy.h"
#include "guest/fs/lazy_cache.h"
#include "guest/fs/mount.h"
#include "guest/fs/view.h"
#include "guest/job/eager.h"
#include "guest/job/event_watch.h"
#include "guest/job/output_pump.h"
#include "guest/job/spawn.h"
#include "guest/vacate_hooks.h"
#include "shared/protocol/job_spec.h"
#include "shared/util/file_io.h"
#include "shared/util/log.h"

namespace ringbox::guest::job {
namespace {

constexpr int kOutputGraceMs = 2000;
// A job's stderr names at most this many lost outputs (then how many more); all are counted.
constexpr size_t kMaxNamedFailures = 200;

Result<proto::JobSpec> fetch_spec(rpc::Client& client) {
  std::vector<std::byte> out(client.max_payload());
  rpc::Call c;
  c.opcode = proto::Opcode::kJobGet;
  c.out = out;
  auto r = client.call(c);
  if (!r) return std::move(r.error());
  if (r->status == -static_cast<int32_t>(proto::WireError::kOverflow))
    return make_error(Errc::kTooLarge, "the job spec is " + std::to_string(r->val[0]) +
                                           " bytes, more than this ring's message limit of " +
                                           std::to_string(client.max_payload()) +
                                           " bytes; start the agent with more --data-pages");
  if (!r->ok())
    return Error{Errc::kRemote, proto::errno_from_wire_status(r->status), "kJobGet refused"};
  return proto::decode_job_spec(std::span(out).first(r->out_len));
}

// kJobExit; `lost` (the outputs not returned, "path: reason") goes in the payload, one per
// line, as far as it fits, for the host's log.
Result<void> send_exit(rpc::Client& client, proto::ExitKind kind, uint32_t value, uint32_t failures,
                       const std::vector<std::string>& lost = {}) {
  std::string text;
  size_t cap = std::min<size_t>(client.max_payload(), proto::kMaxJobExitReportBytes);
  for (const auto& l : lost) {
    if (text.size() + l.size() + 1 > cap) break;
    text += l + "\n";
  }
  rpc::Call c;
  c.opcode = proto::Opcode::kJobExit;
  c.arg = {static_cast<uint64_t>(kind), value, failures, 0};
  c.in = std::as_bytes(std::span(text.data(), text.size()));
  auto r = client.call(c);
  if (!r) return std::move(r.error());
  if (!r->ok()) return make_error(Errc::kProtocol, "the host refused the job's exit report");
  return ok();
}

Result<std::string> make_dir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return sys_error("create " + path);
  // mkdir(2) applies the umask; the job (another uid) must be able to walk down to its view.
  if (::chmod(path.c_str(), mode) != 0) return sys_error("set the mode of " + path);
  return path;
}

// The job's process and everything it left behind. The leader is waited for without being
// reaped (WNOWAIT), so its pid, which names the process group, cannot be reused while we
// still signal the group.
class JobProcess {
 public:
  explicit JobProcess(pid_t pid) : pid_(pid) {}

  // Blocks until the job's main process ends; returns its wait status.
  int wait() {
    siginfo_t info{};
    retry_eintr([&] { return ::waitid(P_PID, pid_, &info, WEXITED | WNOWAIT); });
    std::lock_guard lk(mu_);
    ::kill(-pid_, SIGKILL);  // whatever it left running in its group goes too
    int status = 0;
    retry_eintr([&] { return ::waitpid(pid_, &status, 0); });
    ended_ = true;
    return status;
  }

  // Signals the group unless the job has already ended (thread-safe).
  void signal(int sig) {
    std::lock_guard lk(mu_);
    if (!ended_) ::kill(-pid_, sig);
  }
  bool ended() {
    std::lock_guard lk(mu_);
    return ended_;
  }

 private:
  pid_t pid_;
  std::mutex mu_;
  bool ended_ = false;
};

// Kills and reaps every process that ended up as our child (the agent is a child subreaper,
// so orphans of the job that left its process group come here too).
void kill_leftovers() {
  for (int round = 0; round < 50; ++round) {
    bool any = false;
    DIR* proc = ::opendir("/proc");
    if (!proc) return;
    while (dirent* e = ::readdir(proc)) {
      pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
      if (pid <= 0) continue;
      std::ifstream stat("/proc/" + std::string(e->d_name) + "/stat");
      std::string line;
      std::getline(stat, line);
      size_t close = line.rfind(')');
      if (close == std::string::npos) continue;
      char state = 0;
      int ppid = 0;
      if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) != 2) continue;
      if (ppid != ::getpid()) continue;
      any = true;
      ::kill(pid, SIGKILL);
    }
    ::closedir(proc);
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (!any) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

struct Staging {
  std::unique_ptr<fs::LazyCache> cache;
  std::unique_ptr<fs::View> view;
  std::unique_ptr<fs::FuseMount> mount;
  std::unique_ptr<EagerStage> eager;
  std::string cwd;
};

Result<Staging> build_view(rpc::Client& client, fs::Remote& remote, const proto::JobSpec& spec,
                           const JobOptions& opts) {
  Staging s;
  RINGBOX_TRY(make_dir(opts.work_dir, 0755));
  if (spec.mode == proto::JobMode::kEager) {
    auto dir = make_dir(opts.work_dir + "/eager", 0755);
    if (!dir) return std::move(dir.error());
    if (::chown(dir->c_str(), spec.uid, spec.gid) != 0)
      return sys_error("give " + *dir + " to the job");
    s.eager = std::make_unique<EagerStage>(remote, client, *dir, spec.uid, spec.gid);
    auto t0 = std::chrono::steady_clock::now();
    auto staged = s.eager->stage_in(spec.inputs);
    if (!staged) return std::move(staged.error());
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    log::info("eager: staged " + std::to_string(spec.inputs.size()) + " inputs, " +
              std::to_string(*staged) + " bytes, in " + std::to_string(static_cast<int>(ms)) +
              " ms");
    auto cwd = s.eager->prepare_cwd(spec.cwd);
    if (!cwd) return std::move(cwd.error());
    s.cwd = *cwd;
    return s;
  }
  if (spec.mode == proto::JobMode::kLazyFile || spec.mode == proto::JobMode::kAuto) {
    auto dir = make_dir(opts.work_dir + "/cache", 0700);
    if (!dir) return std::move(dir.error());
    auto cache = fs::LazyCache::create(remote, *dir, opts.cache_max_bytes);
    if (!cache) return std::move(cache.error());
    s.cache = std::move(*cache);
  }
  auto view_dir = make_dir(opts.work_dir + "/view", 0755);
  if (!view_dir) return std::move(view_dir.error());
  s.view = std::make_unique<fs::View>(remote, s.cache.get(),
                                      fs::ViewOptions{spec.mode, spec.uid, spec.gid});
  auto mount = fs::FuseMount::mount(*view_dir, *s.view);
  if (!mount) return std::move(mount.error());
  s.mount = std::move(*mount);
  s.cwd = spec.cwd == "." ? *view_dir : *view_dir + "/" + spec.cwd;
  return s;
}

}  // namespace

int run_job(rpc::Client& client, const JobOptions& opts) {
  auto spec = fetch_spec(client);
  if (!spec) {
    log::error("get the job from the host: " + spec.error().message());
    return 1;
  }
  if (spec->mode == proto::JobMode::kNode) {
    report_to_job_stderr(client, std::string("mode '") + proto::job_mode_name(spec->mode) +
                                     "' is not implemented yet; use auto, remote-io, lazy-file or "
                                     "eager");
    return 3;
  }
  // Orphans of the job become our children, so nothing of it outlives the agent's clean-up.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);

  fs::Remote remote(client);
  auto staging = build_view(client, remote, *spec, opts);
  if (!staging) {
    report_to_job_stderr(client, "cannot prepare the job's files (" +
                                     std::string(proto::job_mode_name(spec->mode)) +
                                     "): " + staging.error().message());
    return 1;
  }

  SpawnSpec ss{spec->argv, spec->env, staging->cwd, spec->uid, spec->gid, job_fd_limit()};
  SpawnFailure failure;
  auto spawned = spawn_job(ss, failure);
  if (!spawned) {
    report_to_job_stderr(client, "cannot start the job: " + spawned.error().message());
    return 1;
  }
  if (spawned->pid < 0) {
    report_to_job_stderr(client, failure.message);
    staging->mount.reset();
    auto sent =
        send_exit(client, proto::ExitKind::kExited, static_cast<uint32_t>(failure.exit_code), 0);
    if (!sent) log::error("report the job's exit: " + sent.error().message());
    return sent ? 0 : 1;
  }
  log::info("job started: pid " + std::to_string(spawned->pid) + ", mode " +
            proto::job_mode_name(spec->mode));

  JobProcess proc(spawned->pid);
  set_vacate_job(spawned->pid);
  OutputPump pump(client, std::move(spawned->stdout_fd), std::move(spawned->stderr_fd));
  const int grace_ms = opts.kill_grace_ms;
  EventWatch events(client, [&proc, grace_ms] {
    fs::release_holds_for_stop();  // a task waiting on a fetch could not die before its end
    proc.signal(SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
    while (!proc.ended() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    proc.signal(SIGKILL);
  });

  int status = proc.wait();
  set_vacate_job(0);
  // auto: a background fetch still running would only delay the write-back; cancelling it
  // also lets a leftover task waiting on it be killed, and the view unmounted.
  if (staging->view) staging->view->stop_background();
  kill_leftovers();
  pump.finish(kOutputGraceMs);
  if (staging->mount) {
    if (auto r = staging->mount->unmount(); !r) log::warn(r.error().message());
  }

  proto::ExitKind kind =
      WIFSIGNALED(status) ? proto::ExitKind::kSignaled : proto::ExitKind::kExited;
  uint32_t value =
      static_cast<uint32_t>(WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
  uint32_t failures = 0;
  std::vector<std::string> lost;
  bool shutdown = events.shutdown_requested();
  if (kind == proto::ExitKind::kExited && !shutdown && (staging->cache || staging->eager)) {
    auto t0 = std::chrono::steady_clock::now();
    fs::WritebackReport report =
        staging->cache ? staging->cache->write_back() : staging->eager->stage_out(spec->outputs);
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    log::info("returned " + std::to_string(report.pushed) + " files, " +
              std::to_string(report.bytes) + " bytes, in " + std::to_string(static_cast<int>(ms)) +
              " ms");
    // Every one named (as far as a job's stderr should take: the first kMaxNamedFailures).
    for (size_t i = 0; i < report.failures.size() && i < kMaxNamedFailures; ++i) {
      report_to_job_stderr(client, "output not returned: " + report.failures[i]);
    }
    if (report.failures.size() > kMaxNamedFailures)
      report_to_job_stderr(client, "... and " +
                                       std::to_string(report.failures.size() - kMaxNamedFailures) +
                                       " more outputs not returned");
    failures =
        static_cast<uint32_t>(std::min<size_t>(report.failures.size(), proto::kMaxJobFiles + 1u));
    lost = std::move(report.failures);
  } else if (staging->cache || staging->eager) {
    report_to_job_stderr(client, shutdown
                                     ? "the host shut the job down; its outputs are not returned"
                                     : "the job was killed by signal " + std::to_string(value) +
                                           " (" + strsignal(static_cast<int>(value)) +
                                           "); its outputs are not returned");
  }
  auto sent = send_exit(client, kind, value, failures, lost);
  events.stop();
  if (!sent) {
    log::error("report the job's exit: " + sent.error().message());
    return 1;
  }
  return 0;
}

}  // namespace ringbox::guest::job
