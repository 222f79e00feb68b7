#include "host/run/run_command.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "host/confine/confined_service.h"
#include "host/files/chirp_backend.h"
#include "host/files/file_service.h"
#include "host/host_handler.h"
#include "host/job/job_session.h"
#include "host/run/launch.h"
#include "host/run/restore_file.h"
#include "host/run/transfer_log.h"
#include "host/run/vacate.h"
#include "host/signal_waiter.h"
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

// A restore file that could not be used is kept for a look, under a name no run picks up.
void set_aside(const std::string& path) {
  const std::string to = path + ".rejected";
  if (::rename(path.c_str(), to.c_str()) == 0)
    log::info("moved the unusable restore file to " + to);
  else
    log::warn("cannot move the unusable restore file " + path + " aside: " + strerror(errno));
}

// The restore file's names (it, its part while a save runs, a set-aside one) as export-relative
// paths, when it lies at the top of the export: the job must neither read nor plant them (a
// planted file would reach libxl's restore at the next run). Empty when it lies outside.
// Errors (xen): it lies deeper in the export, where the job could swap a directory on its
// path for one of its own; its place cannot be worked out. Other transports never restore.
Result<std::vector<std::string>> restore_names_in_export(const RunConfig& cfg) {
  if (cfg.export_dir.empty()) return std::vector<std::string>{};
  namespace fs = std::filesystem;
  std::error_code e1, e2, e3;
  const fs::path file = fs::absolute(cfg.restore_file, e1);
  const fs::path dir = fs::weakly_canonical(file.parent_path(), e2);
  const fs::path root = fs::weakly_canonical(cfg.export_dir, e3);
  const bool xen = cfg.transport == Transport::kXen;
  if (e1 || e2 || e3 || !file.has_filename() || file.filename() == "." || file.filename() == "..") {
    if (!xen) return std::vector<std::string>{};
    return make_error(Errc::kInvalidArgument, "cannot tell whether --restore-file " +
                                                  cfg.restore_file + " lies in the export " +
                                                  cfg.export_dir + "; give a file's full path");
  }
  const fs::path rel = dir.lexically_relative(root);
  if (rel.empty() || *rel.begin() == "..") return std::vector<std::string>{};
  if (rel != ".") {
    if (!xen) return std::vector<std::string>{};
    return make_error(Errc::kInvalidArgument,
                      "--restore-file " + cfg.restore_file + " lies in " + rel.generic_string() +
                          " inside the export, where the job could put a directory of its own "
                          "and plant a restore file; keep it at the export's top level (the "
                          "default, run from the export) or outside the export");
  }
  std::vector<std::string> names;
  for (const char* suffix : {"", ".part", ".rejected"})
    names.push_back(file.filename().string() + suffix);
  return names;
}

// The job's policy as rule lists (the confined service builds it from them, host/confine).
Result<files::PolicyRules> policy_rules(const RunConfig& cfg) {
  files::PolicyRules rules;
  if (cfg.readable.empty() && cfg.writable.empty()) {
    // No rules at all: the job owns its export, as a job owns its scratch directory.
    rules.read = rules.write = {"."};
  } else {
    rules.read = cfg.readable;
    rules.write = cfg.writable;
    rules.read.insert(rules.read.end(), cfg.spec.inputs.begin(), cfg.spec.inputs.end());
    rules.write.insert(rules.write.end(), cfg.spec.outputs.begin(), cfg.spec.outputs.end());
  }
  auto reserved = restore_names_in_export(cfg);
  if (!reserved) return std::move(reserved.error());
  rules.reserved = std::move(*reserved);
  return rules;
}

// Turns SIGTERM/SIGINT/SIGHUP into a shutdown event (first) and a kill (second, or after the
// grace time), SIGUSR1 into a vacate (xen), and so does the --checkpoint-every timer. The signals
// are blocked in every thread and taken here from a signalfd (host/signal_waiter.h), so nothing
// runs in a signal handler and the watcher ends the moment the run does.
class SignalWatch {
 public:
  SignalWatch(job::JobSession& session, Guest& guest, const RunConfig& cfg, VacateState& vacate)
      : session_(session),
        guest_(guest),
        cfg_(cfg),
        grace_ms_(cfg.shutdown_grace_ms),
        vacate_(vacate),
        waiter_(SignalWaiter::open(run_signals())) {
    if (!waiter_) log::warn("signals will be seen late: " + waiter_.error().message());
    thread_ = std::thread([this] { run(); });
  }
  ~SignalWatch() {
    stop_ = true;
    if (waiter_) waiter_->wake();
    thread_.join();
  }
  // The vacate under way was the --checkpoint-every timer's.
  bool checkpointing() const { return checkpointing_; }

 private:
  void run() {
    sigset_t set = run_signals();
    std::chrono::steady_clock::time_point kill_at{};
    bool asked = false;
    auto checkpoint_at = std::chrono::steady_clock::time_point::max();
    if (cfg_.checkpoint_every_s > 0)
      checkpoint_at =
          std::chrono::steady_clock::now() +
          std::chrono::milliseconds(static_cast<int64_t>(cfg_.checkpoint_every_s * 1000));
    while (!stop_) {
      // Timed only while a deadline is pending; otherwise a signal or the owner's wake() ends it.
      const bool timed = asked || checkpoint_at != std::chrono::steady_clock::time_point::max();
      int sig = take_signal(set, timed ? 100 : -1);
      if (sig == SIGUSR1) {
        vacate("got SIGUSR1");
        continue;
      }
      if (!asked && std::chrono::steady_clock::now() >= checkpoint_at &&
          vacate_.get() == VacateState::Step::kNone) {  // not while a SIGUSR1 vacate runs
        checkpoint_at = std::chrono::steady_clock::time_point::max();
        checkpointing_ = true;
        if (!vacate("--checkpoint-every " + std::to_string(cfg_.checkpoint_every_s / 60) +
                    " min")) {
          checkpointing_ = false;  // refused (or not xen): try again after another period
          if (guest_.can_vacate())
            checkpoint_at =
                std::chrono::steady_clock::now() +
                std::chrono::milliseconds(static_cast<int64_t>(cfg_.checkpoint_every_s * 1000));
        }
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

  // A signal of SET within timeout_ms (< 0: until one comes or the owner wakes us), else 0.
  int take_signal(const sigset_t& set, int timeout_ms) {
    if (waiter_) return waiter_->wait(timeout_ms).signal;
    timespec slice{0, 100 * 1000 * 1000};  // no signalfd: poll the pending set instead
    return ::sigtimedwait(&set, nullptr, &slice);
  }

  // False when the guest refused: it runs on, and so does the run.
  bool vacate(const std::string& why) {
    if (!cfg_.confine_user.empty()) {
      log::warn(why + ": a run with --confine-user cannot be vacated yet; ignored");
      return false;
    }
    if (!guest_.can_vacate()) {
      log::warn(why + ": only --transport xen can vacate a job; ignored");
      return false;
    }
    if (vacate_.get() != VacateState::Step::kNone) {
      log::warn(why + ": a vacate is already under way");
      return true;
    }
    return prepare_guest_vacate(guest_, cfg_, vacate_, why, true) != VacateState::Step::kNone;
  }

  job::JobSession& session_;
  Guest& guest_;
  const RunConfig& cfg_;
  int grace_ms_;
  VacateState& vacate_;
  Result<SignalWaiter> waiter_;
  std::atomic<bool> checkpointing_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The agent served by a confined file service (host/confine) instead of this process.
// The transfer log's first line.
std::string transfer_log_header(const RunConfig& cfg) {
  return "ringbox-host run --transport " + transport_name(cfg.transport) + " --mode " +
         std::string(proto::job_mode_name(cfg.spec.mode)) + " " + files_option(cfg);
}

Result<std::unique_ptr<rpc::Server>> connect_confined(Guest& guest, const RunConfig& cfg,
                                                      const files::PolicyRules& rules,
                                                      job::JobSession& session) {
  confine::ConfinedServiceSpec spec;
  UniqueFd transfer_log;
  if (!cfg.transfer_log.empty()) {
    transfer_log.reset(::open(cfg.transfer_log.c_str(), O_WRONLY | O_CLOEXEC));
    if (!transfer_log) return sys_error("open the transfer log " + cfg.transfer_log);
    spec.transfer_log_header = transfer_log_header(cfg);
  }
  spec.xen_domid = guest.xen_domid();
  spec.accept_timeout_ms = cfg.accept_timeout_ms;
  Result<UniqueFd> agent = UniqueFd();
  if (spec.xen_domid == 0) agent = guest.accept_agent(cfg.accept_timeout_ms);
  if (!agent) return std::move(agent.error());
  spec.export_dir = cfg.export_dir;
  spec.uid = cfg.confine_uid;
  spec.gid = cfg.confine_gid;
  spec.policy = rules;
  spec.workers = cfg.workers;
  spec.spin_us = cfg.spin_us;
  auto server =
      confine::ConfinedServer::start(spec, std::move(*agent), session, std::move(transfer_log));
  if (!server) return std::move(server.error());
  log::info("serving the job's files from a confined process as uid " +
            std::to_string(cfg.confine_uid));
  return std::unique_ptr<rpc::Server>(std::move(*server));
}

}  // namespace

int run_job(const RunConfig& cfg) {
  // Before any thread exists, so every thread inherits the mask and only SignalWatch takes them.
  sigset_t sigs = run_signals();
  ::pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  auto rules = policy_rules(cfg);
  auto policy = rules ? files::policy_from_rules(*rules) : Result<files::Policy>(rules.error());
  if (!policy) {
    log::error("policy: " + policy.error().message());
    return kUsageStatus;
  }
  const std::string policy_text = policy->describe();
  // The file service in this process; none with --confine-user, whose service opens the export
  // itself, as its user, inside its sandbox (connect_confined).
  std::unique_ptr<files::FileService> service;
  if (cfg.confine_user.empty()) {
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
    auto s = files::FileService::create(std::move(fcfg));
    if (!s) {
      log::error("serve the job's files " + files_source(cfg) + ": " + s.error().message());
      return kRingboxFailureStatus;
    }
    service = std::move(*s);
  }
  // A restore file from a vacate resumes the job; a damaged one is set aside and the job
  // starts over (docs/vacate.md).
  std::optional<OpenedRestore> restore;
  if (cfg.transport == Transport::kXen) {
    auto r = open_restore_file(cfg.restore_file, cfg.restore_key_file);
    if (r) {
      restore = std::move(*r);
    } else if (r.error().code != Errc::kNotFound && r.error().code != Errc::kInvalidArgument) {
      // Not the file's fault (the key, memory, I/O): keep it for a run that can check it.
      log::error("cannot check the restore file " + cfg.restore_file + ": " + r.error().message() +
                 "; it is kept: fix this and run the same command again");
      return kRingboxFailureStatus;
    } else if (r.error().code != Errc::kNotFound) {
      log::error("cannot resume from the restore file: " + r.error().message() +
                 "; starting the job from the beginning");
      set_aside(cfg.restore_file);
    }
  }
  if (cfg.transport != Transport::kXen)
    std::cerr << "ringbox-host run: WARNING: --transport " << cfg.transport
              << " runs the job as an ordinary process on this machine and isolates nothing; "
                 "use --transport xen to sandbox it\n";
  log::info("job: mode " + std::string(proto::job_mode_name(cfg.spec.mode)) + ", files " +
            files_source(cfg) + ", policy " + policy_text);
  Result<std::unique_ptr<Guest>> guest = make_error(Errc::kNotFound, "no guest");
  bool resumed = false;
  if (restore) {
    double took = 0;
    guest = restore_guest(cfg, *restore, &took);
    if (guest) {
      resumed = true;
      char secs[32];
      std::snprintf(secs, sizeof secs, "%.2f", took);
      log::info("resumed the job's domain from " + cfg.restore_file + " in " + secs + " s (" +
                std::to_string(restore->header.memory_mib) + " MiB)");
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
  HostHandler handler = service ? HostHandler(*service, **session) : HostHandler();
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
    SignalWatch watch(**session, **guest, cfg, vacate);
    rpc::ServerOptions sopts;
    sopts.workers = cfg.workers;
    sopts.spin_us = cfg.spin_us;
    for (;;) {
      auto server = cfg.confine_user.empty()
                        ? (*guest)->connect(cfg.accept_timeout_ms, transfers, sopts)
                        : connect_confined(**guest, cfg, *rules, **session);
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
        auto size = save_guest_to_path(**guest, cfg, cfg.restore_file);
        if (size) {
          if (service) service->end_connection();
          (*guest)->cleanup();
          bool checkpoint = watch.checkpointing();
          log::info(std::string(checkpoint ? "checkpointed" : "vacated") + ": " + cfg.restore_file +
                    " holds the job's domain; run the same command again (with this file in "
                    "place) to resume it");
          return checkpoint ? kCheckpointStatus : kVacatedStatus;
        }
        if (!(*guest)->resumed_after_failed_save()) {
          // The suspend went through (what failed came after it), or the domain could not be
          // resumed: there is nothing left to go on with.
          log::error("vacate: " + size.error().message() +
                     "; the guest is gone and no restore file was kept: the job must re-run "
                     "from the start");
          (*guest)->kill();
          (*guest)->wait(cfg.guest_exit_wait_ms);
          (*guest)->cleanup();
          return kRingboxFailureStatus;
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
      if (service) service->end_connection();
      break;
    }
    agent_end = (*guest)->wait(cfg.guest_exit_wait_ms);
  }
  (*guest)->cleanup();
  if (!cfg.confine_user.empty()) {
    // The confined service recorded them, logged its line and wrote the transfer log.
    log::info("guest " + agent_end);
  } else {
    log::info("guest " + agent_end + "; transfers: " + transfers.summary());
    if (!cfg.transfer_log.empty()) {
      if (auto w = transfers.write(cfg.transfer_log, transfer_log_header(cfg)); !w)
        log::error(w.error().message());
    }
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
