#include "host/run/run_command.h"

#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include "host/files/chirp_backend.h"
#include "host/files/file_service.h"
#include "host/host_handler.h"
#include "host/job/job_session.h"
#include "host/run/launch.h"
#include "host/run/transfer_log.h"
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

Result<files::Policy> make_policy(const RunConfig& cfg) {
  // No rules at all: the job owns its export, as a job owns its scratch directory.
  if (cfg.readable.empty() && cfg.writable.empty()) return files::Policy::read_write();
  std::vector<std::string> read = cfg.readable, write = cfg.writable;
  read.insert(read.end(), cfg.spec.inputs.begin(), cfg.spec.inputs.end());
  write.insert(write.end(), cfg.spec.outputs.begin(), cfg.spec.outputs.end());
  return files::Policy::create(std::move(read), std::move(write));
}

// Turns SIGTERM/SIGINT/SIGHUP into a shutdown event (first) and a kill (second, or after the
// grace time). The signals are blocked in every thread and taken here with sigtimedwait, so
// nothing runs in a signal handler.
class SignalWatch {
 public:
  SignalWatch(job::JobSession& session, Guest& guest, int grace_ms)
      : session_(session), guest_(guest), grace_ms_(grace_ms) {
    thread_ = std::thread([this] { run(); });
  }
  ~SignalWatch() {
    stop_ = true;
    thread_.join();
  }

 private:
  void run() {
    sigset_t set = stop_signals();
    std::chrono::steady_clock::time_point kill_at{};
    bool asked = false;
    while (!stop_) {
      timespec slice{0, 100 * 1000 * 1000};
      int sig = ::sigtimedwait(&set, nullptr, &slice);
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

  job::JobSession& session_;
  Guest& guest_;
  int grace_ms_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

int run_job(const RunConfig& cfg) {
  // Before any thread exists, so every thread inherits the mask and only SignalWatch takes them.
  sigset_t sigs = stop_signals();
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
  job::JobSessionConfig jcfg;
  jcfg.spec = cfg.spec;
  jcfg.stdout_path = cfg.stdout_path;
  jcfg.stderr_path = cfg.stderr_path;
  if (cfg.max_output_bytes > 0) jcfg.max_output_bytes = cfg.max_output_bytes << 20;
  auto session = job::JobSession::create(jcfg);
  if (!session) {
    log::error("prepare the job: " + session.error().message());
    return kRingboxFailureStatus;
  }
  HostHandler handler(**service, **session);
  TransferLog transfers(handler);
  if (!cfg.transfer_log.empty()) {
    // Fail before the guest exists, not after the job ran, when the log cannot be written.
    if (auto w = transfers.write(cfg.transfer_log, "nothing transferred yet"); !w) {
      log::error(w.error().message());
      return kRingboxFailureStatus;
    }
  }

  if (cfg.transport != "xen")
    std::cerr << "ringbox-host run: WARNING: --transport " << cfg.transport
              << " runs the job as an ordinary process on this machine and isolates nothing; "
                 "use --transport xen to sandbox it\n";
  log::info("job: mode " + std::string(proto::job_mode_name(cfg.spec.mode)) + ", files " +
            files_source(cfg) + ", policy " + (*service)->policy().describe());
  auto guest = launch_guest(cfg);
  if (!guest) {
    log::error("launch the guest: " + guest.error().message());
    return kRingboxFailureStatus;
  }
  std::string agent_end;
  Result<void> served;
  {
    SignalWatch watch(**session, **guest, cfg.shutdown_grace_ms);
    rpc::ServerOptions sopts;
    sopts.workers = cfg.workers;
    sopts.spin_us = cfg.spin_us;
    auto server = (*guest)->connect(cfg.accept_timeout_ms, transfers, sopts);
    if (!server) {
      log::error("connect to the guest: " + server.error().message());
      (*guest)->kill();
      (*guest)->wait(cfg.guest_exit_wait_ms);
      (*guest)->cleanup();
      return kRingboxFailureStatus;
    }
    served = (*server)->serve();
    // Wake the guest's event poll before the workers are joined, and drop what the connection
    // left half-done (unfinished uploads never reach the export).
    (*session)->close();
    server->reset();
    (*service)->end_connection();
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
