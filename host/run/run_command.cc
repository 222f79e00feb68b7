#include "host/run/run_command.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "host/files/chirp_backend.h"
#include "host/files/file_service.h"
#include "host/host_handler.h"
#include "host/job/job_session.h"
#include "host/run/launch.h"
#include "host/run/restore_file.h"
#include "host/run/transfer_log.h"
#include "host/run/zstd_pipe.h"
#include "host/stop_signals.h"
#include "shared/util/log.h"

namespace ringbox::host::run {
namespace {

// Where the job's files are, as the option that said so ("--export /srv/job").
std::string files_option(const RunConfig& cfg) {
  if (!cfg.submit_url.empty()) return "--submit " + cfg.submit_url;
  if (!cfg.chirp_config.empty()) return "--chirp-config " + cfg.chirp_config;
  return "--export " + cfg.export_dir;
}
std::string files_source(const RunConfig& cfg) {
  return files_option(cfg).substr(2);
}

// The signals run takes in its signal thread: the stop signals, and SIGUSR1 (vacate).
sigset_t run_signals() {
  sigset_t set = stop_signals();
  sigaddset(&set, SIGUSR1);
  return set;
}

std::string seconds_since(std::chrono::steady_clock::time_point t0) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return buf;
}

// A restore file that could not be used is kept for a look, under a name no run picks up.
void set_aside(const std::string& path) {
  const std::string to = path + ".rejected";
  if (::rename(path.c_str(), to.c_str()) == 0)
    log::info("moved the unusable restore file to " + to);
  else
    log::warn("cannot move the unusable restore file " + path + " aside: " + strerror(errno));
}

Result<files::Policy> make_policy(const RunConfig& cfg) {
  // No rules at all: the job owns its export, as a job owns its scratch directory.
  if (cfg.readable.empty() && cfg.writable.empty()) return files::Policy::read_write();
  std::vector<std::string> read = cfg.readable, write = cfg.writable;
  read.insert(read.end(), cfg.spec.inputs.begin(), cfg.spec.inputs.end());
  write.insert(write.end(), cfg.spec.outputs.begin(), cfg.spec.outputs.end());
  return files::Policy::create(std::move(read), std::move(write));
}

// Where a vacate (SIGUSR1, docs/vacate.md) stands; the signal thread moves it on, the main
// thread waits for it to settle once the guest's connection ended.
class VacateState {
 public:
  enum class Step { kNone, kAsking, kReady, kFailed };
  void set(Step s) {
    std::lock_guard lk(mu_);
    step_ = s;
    cv_.notify_all();
  }
  Step get() {
    std::lock_guard lk(mu_);
    return step_;
  }
  // Waits while the guest is being asked; returns where it settled.
  Step settle() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return step_ != Step::kAsking; });
    return step_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  Step step_ = Step::kNone;
};

// Turns SIGTERM/SIGINT/SIGHUP into a shutdown event (first) and a kill (second, or after the
// grace time), and SIGUSR1 into a vacate (xen). The signals are blocked in every thread and
// taken here with sigtimedwait, so nothing runs in a signal handler.
class SignalWatch {
 public:
  SignalWatch(job::JobSession& session, Guest& guest, int grace_ms, VacateState& vacate,
              int vacate_ack_ms)
      : session_(session),
        guest_(guest),
        grace_ms_(grace_ms),
        vacate_(vacate),
        vacate_ack_ms_(vacate_ack_ms) {
    thread_ = std::thread([this] { run(); });
  }
  ~SignalWatch() {
    stop_ = true;
    thread_.join();
  }

 private:
  void run() {
    sigset_t set = run_signals();
    std::chrono::steady_clock::time_point kill_at{};
    bool asked = false;
    while (!stop_) {
      timespec slice{0, 100 * 1000 * 1000};
      int sig = ::sigtimedwait(&set, nullptr, &slice);
      if (sig == SIGUSR1) {
        vacate();
        continue;
      }
      if (sig > 0) {
        if (!asked) {
          log::warn(std::string("got ") + strsignal(sig) + ": asking the guest to stop the job");
          session_.post_event(proto::Event::kShutdown);
          asked = true;
          kill_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms_);
        } else {
          log::warn(std::string("got ") + strsignal(sig) + " again: killing the guest");
          guest_.kill();
        }
      }
      if (asked && std::chrono::steady_clock::now() >= kill_at) {
        log::warn("the guest did not stop in time: killing it");
        guest_.kill();
        asked = false;  // once
        kill_at = std::chrono::steady_clock::time_point::max();
      }
    }
  }

  void vacate() {
    if (!guest_.can_vacate()) {
      log::warn("got SIGUSR1: only --transport xen can vacate a job; ignored");
      return;
    }
    if (vacate_.get() != VacateState::Step::kNone) {
      log::warn("got SIGUSR1 again: a vacate is already under way");
      return;
    }
    log::warn("got SIGUSR1: vacating the job (asking the guest to get ready for a save)");
    vacate_.set(VacateState::Step::kAsking);
    auto t0 = std::chrono::steady_clock::now();
    auto ready = guest_.prepare_vacate(vacate_ack_ms_);
    if (ready) {
      log::info("the guest is ready for the save after " +
                std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now() - t0)
                                   .count()) +
                " ms");
      vacate_.set(VacateState::Step::kReady);
      return;
    }
    log::error("vacate: " + ready.error().message() +
               "; destroying the guest: the job will re-run from the start");
    vacate_.set(VacateState::Step::kFailed);
    guest_.kill();
  }

  job::JobSession& session_;
  Guest& guest_;
  int grace_ms_;
  VacateState& vacate_;
  int vacate_ack_ms_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

int run_job(const RunConfig& cfg) {
  // Before any thread exists, so every thread inherits the mask and only SignalWatch takes them.
  sigset_t sigs = run_signals();
  ::pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  auto policy = make_policy(cfg);
  if (!policy) {
    log::error("policy: " + policy.error().message());
    return kUsageStatus;
  }
  files::FileServiceConfig fcfg;
  fcfg.export_dir = cfg.export_dir;
  fcfg.policy = std::move(*policy);
  if (cfg.export_dir.empty()) {  // else the default: an ExportBackend on export_dir
    auto ep = cfg.submit_url.empty() ? chirp::read_chirp_config(cfg.chirp_config)
                                     : chirp::parse_chirp_url(cfg.submit_url);
    auto backend = ep ? files::ChirpBackend::create(std::move(*ep)) : ep.error();
    if (!backend) {
      log::error("reach the job's files at " + files_source(cfg) + ": " +
                 backend.error().message() + " (is the Chirp server running and allowing us?)");
      return kRingboxFailureStatus;
    }
    fcfg.backend = std::move(*backend);
  }
  auto service = files::FileService::create(std::move(fcfg));
  if (!service) {
    log::error("serve the job's files " + files_source(cfg) + ": " + service.error().message());
    return kRingboxFailureStatus;
  }
  // A restore file from a vacate resumes the job; a damaged one is set aside and the job
  // starts over (docs/vacate.md).
  std::optional<OpenedRestore> restore;
  if (cfg.transport == "xen") {
    auto r = open_restore_file(cfg.restore_file);
    if (r) {
      restore = std::move(*r);
    } else if (r.error().code != Errc::kNotFound) {
      log::error("cannot resume from the restore file: " + r.error().message() +
                 "; starting the job from the beginning");
      set_aside(cfg.restore_file);
    }
  }
  if (cfg.transport != "xen")
    std::cerr << "ringbox-host run: WARNING: --transport " << cfg.transport
              << " runs the job as an ordinary process on this machine and isolates nothing; "
                 "use --transport xen to sandbox it\n";
  log::info("job: mode " + std::string(proto::job_mode_name(cfg.spec.mode)) + ", files " +
            files_source(cfg) + ", policy " + (*service)->policy().describe());
  Result<std::unique_ptr<Guest>> guest = make_error(Errc::kNotFound, "no guest");
  bool resumed = false;
  if (restore) {
    RunConfig rcfg = cfg;
    rcfg.domain.memory_mib = restore->header.memory_mib;
    rcfg.domain.vcpus = restore->header.vcpus;
    auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<Decompressor> unzstd;
    int stream_fd = restore->fd.get();
    if (restore->header.zstd) {
      auto dz = Decompressor::start(restore->fd.get());
      if (dz) {
        unzstd = std::move(*dz);
        stream_fd = unzstd->fd();
      } else {
        guest = std::move(dz.error());
      }
    }
    if (!restore->header.zstd || unzstd) guest = launch_xen_guest(rcfg, stream_fd);
    if (unzstd) {
      auto z = unzstd->finish();
      if (!guest && !z)
        guest = make_error(guest.error().code,
                           guest.error().message() + " (" + z.error().message() + ")");
    }
    if (guest) {
      resumed = true;
      (*guest)->grow_after_restore();
      log::info("resumed the job's domain from " + cfg.restore_file + " in " + seconds_since(t0) +
                " s (" + std::to_string(restore->header.memory_mib) + " MiB)");
      if (::unlink(cfg.restore_file.c_str()) != 0)
        log::warn("cannot remove the used restore file " + cfg.restore_file + ": " +
                  strerror(errno));
    } else {
      log::error("cannot resume from " + cfg.restore_file + ": " + guest.error().message() +
                 "; starting the job from the beginning");
      set_aside(cfg.restore_file);
    }
    restore.reset();
  }
  if (!resumed) guest = launch_guest(cfg);
  if (!guest) {
    log::error("launch the guest: " + guest.error().message());
    return kRingboxFailureStatus;
  }

  job::JobSessionConfig jcfg;
  jcfg.spec = cfg.spec;
  jcfg.stdout_path = cfg.stdout_path;
  jcfg.stderr_path = cfg.stderr_path;
  jcfg.resumed = resumed;
  if (cfg.max_output_bytes > 0) jcfg.max_output_bytes = cfg.max_output_bytes << 20;
  auto session = job::JobSession::create(jcfg);
  if (!session) {
    log::error("prepare the job: " + session.error().message());
    return kRingboxFailureStatus;
  }
  HostHandler handler(**service, **session);
  TransferLog transfers(handler);
  if (!cfg.transfer_log.empty()) {
    if (auto w = transfers.write(cfg.transfer_log, "nothing transferred yet"); !w) {
      log::error(w.error().message());
      return kRingboxFailureStatus;
    }
  }

  std::string agent_end;
  Result<void> served;
  VacateState vacate;
  {
    SignalWatch watch(**session, **guest, cfg.shutdown_grace_ms, vacate, cfg.vacate_ack_timeout_ms);
    rpc::ServerOptions sopts;
    sopts.workers = cfg.workers;
    sopts.spin_us = cfg.spin_us;
    for (;;) {
      auto server = (*guest)->connect(cfg.accept_timeout_ms, transfers, sopts);
      if (!server) {
        log::error("connect to the guest: " + server.error().message());
        (*guest)->kill();
        (*guest)->wait(cfg.guest_exit_wait_ms);
        (*guest)->cleanup();
        return kRingboxFailureStatus;
      }
      served = (*server)->serve();
      if (vacate.settle() == VacateState::Step::kReady) {
        // The guest ended its grants: the connection is over. Wake a blocked event poll so the
        // workers can be joined (the guest replays the poll on the next host).
        (*session)->post_event(proto::Event::kVacate);
        server->reset();
        auto [mem, vcpus] = (*guest)->memory_mib_and_vcpus();
        if (cfg.vacate_balloon) log::info("vacate: guest memory " + (*guest)->shrink_for_save());
        auto t0 = std::chrono::steady_clock::now();
        auto size =
            write_restore_file(cfg.restore_file, {mem, vcpus, cfg.restore_zstd, 0}, [&](int fd) {
              if (!cfg.restore_zstd) return (*guest)->save(fd);
              return write_compressed(fd, [&](int pipe_fd) { return (*guest)->save(pipe_fd); });
            });
        if (size) {
          (*service)->end_connection();
          (*guest)->cleanup();
          log::info("vacated: saved the job's domain (" + std::to_string(mem) + " MiB) to " +
                    cfg.restore_file + ", " + std::to_string(*size) + " bytes" +
                    (cfg.restore_zstd ? " (zstd)" : " (uncompressed)") + ", in " +
                    seconds_since(t0) +
                    " s; run the same command again (with this file in place) to resume it");
          return kVacatedStatus;
        }
        log::error("vacate: " + size.error().message() +
                   "; the job goes on here (the guest reconnects in place)");
        if (auto c = (*guest)->cancel_vacate(); !c)
          log::error("withdraw the vacate: " + c.error().message());
        vacate.set(VacateState::Step::kNone);
        continue;
      }
      // Wake the guest's event poll before the workers are joined, and drop what the
      // connection left half-done (unfinished uploads never reach the export).
      (*session)->close();
      server->reset();
      (*service)->end_connection();
      break;
    }
    agent_end = (*guest)->wait(cfg.guest_exit_wait_ms);
  }
  (*guest)->cleanup();
  log::info("guest " + agent_end + "; transfers: " + transfers.summary());
  if (!cfg.transfer_log.empty()) {
    auto w = transfers.write(cfg.transfer_log,
                             "ringbox-host run --transport " + cfg.transport + " --mode " +
                                 std::string(proto::job_mode_name(cfg.spec.mode)) + " " +
                                 files_option(cfg));
    if (!w) log::error(w.error().message());
  }

  if (!served) log::error("serving the guest: " + served.error().message());
  auto outcome = (*session)->outcome();
  if (!outcome) {
    log::error("the guest ended without reporting the job's end (agent " + agent_end +
               "); the job's stderr is in " + cfg.stderr_path);
    return kRingboxFailureStatus;
  }
  if (outcome->writeback_failures > 0) {
    log::error(std::to_string(outcome->writeback_failures) +
               " output(s) could not be returned (the job itself ended with status " +
               std::to_string(outcome->shell_status()) + "); see " + cfg.stderr_path);
    return kRingboxFailureStatus;
  }
  return outcome->shell_status();
}

void request_vacate() {
  ::kill(::getpid(), SIGUSR1);
}

int cmd_run(const std::vector<std::string>& args) {
  ParsedRun parsed = parse_run_args(args);
  switch (parsed.what) {
    case ParsedRun::What::kHelp:
      std::cout << parsed.message << "\n";
      return 0;
    case ParsedRun::What::kBadUsage:
      std::cerr << "ringbox-host run: " << parsed.message << " (see --help)\n";
      return kUsageStatus;
    case ParsedRun::What::kRun:
      break;
  }
  return run_job(parsed.cfg);
}

}  // namespace ringbox::host::run
