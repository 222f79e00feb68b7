#include "host/condor/wrapper.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <span>
#include <utility>

#include "host/condor/class_ad.h"
#include "host/condor/job_plan.h"
#include "host/condor/saved_streams.h"
#include "host/service/service_protocol.h"
#include "shared/util/file_io.h"
#include "shared/util/unique_fd.h"

extern char** environ;

namespace ringbox::host::condor {
namespace {

using Clock = std::chrono::steady_clock;

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

// The restore file of a vacated job at the top of the scratch dir (docs/vacate.md), opened or
// created here with the job's user's rights: the root service only ever gets descriptors.
// PART is renamed to NAME once the service reported the save complete and synced.
using service::kRestoreName;
using service::kRestorePart;
using service::kRestoreRejected;
constexpr int kVacatedStatus = 75;     // as `ringbox-host run` (host/run/run_command.h)
constexpr int kCheckpointStatus = 85;  // HTCondor's checkpoint_exit_code (host/run/vacate.h)

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

  bool stopping = false;
  bool vacating = false;  // a save into kRestorePart was asked for
  std::string transport;  // from op=started: "xen" can be vacated
  bool checkpointing = false;
  // A stop signal that came during a checkpoint, acted on if the checkpoint is not taken, and
  // when it came (HTCondor's vacate time counts from then).
  int held_signal = 0;
  auto held_at = Clock::time_point::max();
  const auto checkpoint_period =
      std::chrono::milliseconds(static_cast<int64_t>(plan->checkpoint_minutes * 60000));
  auto checkpoint_at = Clock::time_point::max();  // counted from op=started: the job's own time
  auto give_up_at = Clock::time_point::max();
  auto give_up_later = [&](Clock::time_point since) {
    give_up_at = since + std::chrono::milliseconds(int64_t{plan->stop_budget_ms} * 95 / 100);
  };
  // The service's answer to a stop signal: SIGTERM is HTCondor's vacate (kill_sig), which
  // saves a xen job instead of losing it; the others stop it.
  auto begin_stop = [&](int sig, Clock::time_point since) {
    stopping = true;
    service::ServiceMessage stop;
    stop.add("op", "stop");
    UniqueFd part;
    if (sig == SIGTERM && transport == "xen" && plan->save_on_vacate)
      part = UniqueFd(::openat(dir.get(), kRestorePart,
                               O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (part) {
      stop.fields.clear();
      stop.add("op", "vacate");
      int pfd = part.get();
      vacating = service::send_service_message(sock->get(), stop, std::span<const int>(&pfd, 1))
                     .has_value();
    } else {
      (void)service::send_service_message(sock->get(), stop);
    }
    give_up_later(since);
  };
  for (;;) {
    int timeout = -1;
    if (!stopping && transport == "xen" && checkpoint_at != Clock::time_point::max()) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(checkpoint_at - Clock::now())
              .count();
      if (left <= 0) {
        // A checkpoint: the same save as a vacate, then exit 85 so HTCondor carries the file
        // and relaunches the job from it. checkpoint=1: a guest that cannot be saved now
        // refuses, and the job goes on (op=refused) instead of being destroyed.
        checkpoint_at = Clock::time_point::max();
        UniqueFd part(::openat(dir.get(), kRestorePart,
                               O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
        service::ServiceMessage m;
        m.add("op", "vacate");
        m.add("checkpoint", "1");
        int pfd = part.get();
        if (part && service::send_service_message(sock->get(), m, std::span<const int>(&pfd, 1))) {
          stopping = vacating = checkpointing = true;
          give_up_later(Clock::now());
        } else {
          std::cerr << "ringbox: cannot checkpoint the job (" << kRestorePart
                    << "): it goes on without\n";
        }
        continue;
      }
      timeout = static_cast<int>(std::min<int64_t>(left, 1 << 30));
    }
    if (give_up_at != Clock::time_point::max()) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(give_up_at - Clock::now()).count();
      if (left <= 0) {
        // The service kills the guest when our end closes.
        std::cerr << "ringbox: the job did not stop in time; its guest is killed\n";
        sock->reset();
        if (vacating) ::unlinkat(dir.get(), kRestorePart, 0);
        die_by_signal(SIGTERM);
      }
      timeout = static_cast<int>(left);
    }
    pollfd p[2] = {{sigfd.get(), POLLIN, 0}, {sock->get(), POLLIN, 0}};
    if (::poll(p, 2, timeout) < 0 && errno != EINTR)
      return setup_failure(sys_error("poll").message());
    if (p[0].revents & POLLIN) {
      signalfd_siginfo si;
      while (::read(sigfd.get(), &si, sizeof(si)) == sizeof(si)) {
        int sig = static_cast<int>(si.ssi_signo);
        if (sig == SIGQUIT) {
          sock->reset();
          die_by_signal(SIGQUIT);
        }
        if (!stopping) {
          begin_stop(sig, Clock::now());
        } else if (checkpointing && (held_signal == 0 || held_signal == SIGTERM)) {
          // The checkpoint's save ends the job anyway; one not taken does not. A later
          // remove or hold (not SIGTERM) replaces a held SIGTERM: stop rather than save.
          if (held_signal == 0) {
            held_at = Clock::now();
            give_up_at = std::min(
                give_up_at,
                held_at + std::chrono::milliseconds(int64_t{plan->stop_budget_ms} * 95 / 100));
          }
          held_signal = sig;
        }
      }
    }
    if (!(p[1].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    auto m = service::recv_service_message(sock->get(), 10000);
    if (!m) {
      if (vacating) ::unlinkat(dir.get(), kRestorePart, 0);
      if (stopping) die_by_signal(SIGTERM);
      return setup_failure("ringbox's service ended the job without a result (" +
                           m.error().message() +
                           "); see the service's log (`journalctl -u "
                           "ringbox-hostd`)");
    }
    if (m->get("op") == "started") {
      transport = m->get("transport");
      if (plan->checkpoint_minutes > 0) checkpoint_at = Clock::now() + checkpoint_period;
      std::string r = m->get("restore");
      if (r == "resumed") {
        // Used: a later exit must never ship it again.
        ::unlinkat(dir.get(), kRestoreName, 0);
      } else if (!r.empty()) {
        std::cerr << "ringbox: " << r << "\n" << std::flush;
        ::renameat(dir.get(), kRestoreName, dir.get(), kRestoreRejected);
      }
      if (!r.empty()) drop_saved_streams(dir.get());
      continue;
    }
    if (m->get("op") == "refused" && checkpointing) {
      // No checkpoint this time (a file request outlasted the vacate's budget, or the save
      // failed and the domain was resumed): the job runs on, the next one a period later.
      std::cerr << "ringbox: no checkpoint this time (" << m->get("message", "the guest refused")
                << "); the job goes on\n"
                << std::flush;
      ::unlinkat(dir.get(), kRestorePart, 0);
      stopping = vacating = checkpointing = false;
      give_up_at = Clock::time_point::max();
      checkpoint_at = Clock::now() + checkpoint_period;
      if (held_signal != 0) begin_stop(std::exchange(held_signal, 0), held_at);
      continue;
    }
    if (m->get("op") != "result") continue;
    std::string kind = m->get("kind");
    if (kind == "vacated" && vacating) {
      // The job's output so far goes with the restore file: the relaunch's starter truncates
      // the streams. Without it a resume would lose that output: start afresh instead.
      if (auto kept = save_streams(dir.get(), streams); !kept) {
        std::cerr << "ringbox: cannot keep the job's output across the vacate ("
                  << kept.error().message() << "): the job will start from the beginning\n";
        drop_saved_streams(dir.get());
        ::unlinkat(dir.get(), kRestorePart, 0);
        die_by_signal(SIGTERM);
      }
      // Complete and synced by the service: only now does it get the name a relaunch trusts.
      if (::renameat(dir.get(), kRestorePart, dir.get(), kRestoreName) != 0) {
        std::cerr << "ringbox: cannot rename the saved job " << kRestorePart << " to "
                  << kRestoreName << ": " << std::strerror(errno) << "\n";
        die_by_signal(SIGTERM);
      }
      ::fsync(dir.get());
      return checkpointing ? kCheckpointStatus : kVacatedStatus;
    }
    if (vacating) {
      // No save: nothing may be resumed from this scratch dir (a job could have left a file
      // under the restore file's name).
      ::unlinkat(dir.get(), kRestorePart, 0);
      ::unlinkat(dir.get(), kRestoreName, 0);
      drop_saved_streams(dir.get());
    }
    int value = std::atoi(m->get("value", "0").c_str());
    if (kind == "exited") return value;
    if (kind == "signaled" && value > 0 && value < 65) die_by_signal(value);
    if (stopping) die_by_signal(SIGTERM);
    return setup_failure(m->get("message", "ringbox's service reported a failure"));
  }
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
