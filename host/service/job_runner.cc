#include "host/service/job_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <iterator>
#include <mutex>
#include <thread>
#include <utility>

#include "host/files/chirp_backend.h"
#include "host/files/file_service.h"
#include "host/host_handler.h"
#include "host/job/job_session.h"
#include "host/run/launch.h"
#include "host/run/vacate.h"
#include "host/service/as_user.h"
#include "host/service/service_protocol.h"
#include "host/signal_waiter.h"
#include "host/stop_signals.h"
#include "shared/util/log.h"

namespace ringbox::host::service {
namespace {

// The wrapper's socket is written by the serving thread and by WrapperWatch's: one frame at
// a time (send_service_message may take several sendmsg calls for one frame).
std::mutex send_mu;

Result<void> send_to_wrapper(int sock, const ServiceMessage& m) {
  std::lock_guard lk(send_mu);
  return send_service_message(sock, m);
}

void report(int sock, const std::string& kind, int value, const std::string& message) {
  ServiceMessage m;
  m.add("op", "result");
  m.add("kind", kind);
  m.add("value", std::to_string(value));
  if (!message.empty()) m.add("message", message);
  if (auto s = send_to_wrapper(sock, m); !s)
    log::warn("cannot report the job's end to its wrapper: " + s.error().message());
}

int fail(int sock, const std::string& message) {
  log::error(message);
  report(sock, "failed", 0, message);
  return 0;
}

// The descriptor an op=vacate carries: the restore file the wrapper created at the top of
// its scratch dir, a regular file open for reading and writing (the save truncates it first).
bool usable_restore_target(const std::vector<UniqueFd>& fds) {
  if (fds.size() != 1) return false;
  int fl = ::fcntl(fds[0].get(), F_GETFL);
  struct stat st {};
  return fl >= 0 && (fl & O_ACCMODE) == O_RDWR && !(fl & O_PATH) &&
         ::fstat(fds[0].get(), &st) == 0 && S_ISREG(st.st_mode);
}

// Watches the wrapper's socket and this process's stop signals while the job runs (the role
// of run's SignalWatch): op=stop -> shutdown event, then a kill after the grace time; op=vacate
// (xen) -> the guest is asked to get ready for a save into the descriptor the message carries
// (the serving thread then saves it: docs/vacate.md); hang-up or a signal -> kill at once.
class WrapperWatch {
 public:
  WrapperWatch(int sock, job::JobSession& session, run::Guest& guest, const run::RunConfig& cfg,
               run::VacateState& vacate)
      : sock_(sock),
        session_(session),
        guest_(guest),
        cfg_(cfg),
        grace_ms_(cfg.shutdown_grace_ms),
        vacate_(vacate) {
    thread_ = std::thread([this] { run(); });
  }
  // The wrapper's restore file, once an op=vacate brought it (read after vacate_ settled).
  int restore_target() const {
    std::lock_guard lk(mu_);
    return target_.get();
  }
  // Whether that op=vacate was the wrapper's checkpoint (not HTCondor's eviction).
  bool checkpointing() const {
    std::lock_guard lk(mu_);
    return checkpoint_;
  }
  // A checkpoint that did not happen (the guest refused, or the save failed) and the job goes
  // on: forgets its restore file, so a later op=vacate is taken, and tells the wrapper why.
  void checkpoint_not_taken(const std::string& why) {
    {
      std::lock_guard lk(mu_);
      target_.reset();
      checkpoint_ = false;
    }
    ServiceMessage refused;
    refused.add("op", "refused");
    refused.add("message", why);
    if (auto s = send_to_wrapper(sock_, refused); !s)
      log::warn("cannot tell the wrapper its checkpoint was not taken: " + s.error().message());
  }
  ~WrapperWatch() {
    stop_ = true;
    if (waiter_) waiter_->wake();
    thread_.join();
  }
  bool wrapper_gone() const { return gone_; }

 private:
  void run() {
    sigset_t set = stop_signals();
    auto kill_at = std::chrono::steady_clock::time_point::max();
    bool socket_open = true;
    while (!stop_) {
      const bool timed = kill_at != std::chrono::steady_clock::time_point::max();
      SignalWaiter::Wake w;
      if (waiter_) {
        w = waiter_->wait(timed ? 100 : -1, socket_open ? sock_ : -1, POLLIN | POLLRDHUP);
      } else {  // no signalfd: poll the pending set and the socket in slices
        timespec none{0, 0};
        w.signal = ::sigtimedwait(&set, nullptr, &none);
        pollfd p{socket_open ? sock_ : -1, POLLIN | POLLRDHUP, 0};
        w.fd_ready = ::poll(&p, 1, 100) > 0 && socket_open;
      }
      if (w.signal > 0) {
        log::warn(std::string("got ") + strsignal(w.signal) + ": killing the job's guest");
        guest_.kill();
      }
      if (w.fd_ready) {
        std::vector<UniqueFd> fds;
        auto m = recv_service_message(sock_, 1000, &fds);
        if (m && m->get("op") == "vacate" && restore_target() < 0 && guest_.can_vacate() &&
            usable_restore_target(fds)) {
          // HTCondor's vacate takes the job away: a guest that cannot be saved is destroyed.
          // The wrapper's own checkpoint (checkpoint=1) does not: a refusal lets the job go on.
          const bool checkpoint = m->get("checkpoint") == "1";
          {
            std::lock_guard lk(mu_);
            target_ = std::move(fds[0]);
            checkpoint_ = checkpoint;
          }
          auto step = run::prepare_guest_vacate(
              guest_, cfg_, vacate_,
              checkpoint ? "the wrapper's checkpoint" : "the wrapper's vacate (SIGTERM)",
              checkpoint);
          if (checkpoint && step == run::VacateState::Step::kNone)
            checkpoint_not_taken(
                "the guest could not stop the job's file requests within the vacate's budget of " +
                std::to_string(cfg_.vacate_ack_timeout_ms) + " ms");
        } else if (m && (m->get("op") == "stop" || m->get("op") == "vacate")) {
          if (m->get("op") == "vacate")
            log::warn("the wrapper asks for a vacate, but " +
                      std::string(guest_.can_vacate() ? "its restore file is not usable"
                                                      : "only the xen transport saves a job") +
                      ": stopping the job instead");
          log::info("the wrapper asks to stop the job (vacate, remove or hold)");
          session_.post_event(proto::Event::kShutdown);
          if (kill_at == std::chrono::steady_clock::time_point::max())
            kill_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms_);
        } else if (!m) {
          // The wrapper died or broke the protocol: nobody waits for this job any more.
          log::warn("the wrapper went away (" + m.error().message() + "): killing the job's guest");
          gone_ = true;
          socket_open = false;
          guest_.kill();
        }
      }
      if (std::chrono::steady_clock::now() >= kill_at) {
        log::warn("the job did not stop within " + std::to_string(grace_ms_) +
                  " ms: killing its guest");
        guest_.kill();
        kill_at = std::chrono::steady_clock::time_point::max();
      }
    }
  }

  int sock_;
  job::JobSession& session_;
  run::Guest& guest_;
  const run::RunConfig& cfg_;
  int grace_ms_;
  run::VacateState& vacate_;
  mutable std::mutex mu_;  // target_, checkpoint_
  UniqueFd target_;
  bool checkpoint_ = false;
  Result<SignalWaiter> waiter_ = SignalWaiter::open(stop_signals());
  std::atomic<bool> stop_{false};
  std::atomic<bool> gone_{false};
  std::thread thread_;
};

}  // namespace

int run_client_job(UniqueFd sock_fd, const ClientCredentials& who, const ServicePolicy& policy) {
  int sock = sock_fd.get();
  // Before any thread exists: only WrapperWatch takes the stop signals.
  sigset_t sigs = stop_signals();
  ::pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  std::vector<UniqueFd> fds;
  auto request = recv_service_message(sock, kRequestTimeoutMs, &fds);
  if (!request) return fail(sock, "read the job request: " + request.error().message());
  if (request->get("op") != "run")
    return fail(sock, "expected a job request (op=run), got op=" + request->get("op"));
  if (auto c = check_request_fds(fds); !c) return fail(sock, c.error().message());
  std::vector<int> raw = {fds[0].get(), fds[1].get(), fds[2].get()};  // [3]: a restore file
  auto cfg = build_run_config(*request, policy, raw);
  if (!cfg) return fail(sock, cfg.error().message());
  auto submit_side = submit_side_endpoint(*request);
  if (!submit_side) return fail(sock, submit_side.error().message());
  std::string label = request->get("job", "job");
  log::info(label + ": uid " + std::to_string(who.uid) + " pid " + std::to_string(who.pid) +
            ", mode " + std::string(proto::job_mode_name(cfg->spec.mode)) + ", transport " +
            transport_name(cfg->transport) + ", " + std::to_string(cfg->domain.memory_mib) +
            " MiB, " + std::to_string(cfg->domain.vcpus) + " vCPU, files " +
            (*submit_side ? "on the submit side through the " + (*submit_side)->describe()
                          : std::string("in the scratch dir")));

  FsIdentity id{who.uid, who.gid, who.groups};
  files::FileServiceConfig fcfg;
  fcfg.export_dir = cfg->export_dir;
  fcfg.policy =
      files::Policy::read_write();  // the job owns its scratch dir; its user's rights apply
  if (!*submit_side) {
    // ...but for the wrapper's files at its top, which the job neither reads nor plants.
    auto p = fcfg.policy.with_reserved(
        std::vector<std::string>(std::begin(kWrapperFileNames), std::end(kWrapperFileNames)));
    if (!p) return fail(sock, p.error().message());
    fcfg.policy = std::move(*p);
  }
  std::unique_ptr<files::FileService> service;
  {
    // The export is opened with the client's rights (and served with them, below).
    auto as_user = ScopedFsIdentity::enter(id);
    if (!as_user) return fail(sock, as_user.error().message());
    if (*submit_side) {
      // Connected with the client's fsuid, so the sockets belong to the job's user (sock_alloc
      // takes the creator's fsuid; the owner match of netfilter sees that user); reconnects
      // happen on the worker threads, which serve as the job's user too.
      auto backend = files::ChirpBackend::create(std::move(**submit_side));
      if (!backend)
        return fail(sock, "reach the job's files on the submit side through HTCondor's IO proxy: " +
                              backend.error().message() +
                              " (is the job's shadow still there? the StarterLog says more)");
      fcfg.backend = std::move(*backend);
    }
    auto s = files::FileService::create(std::move(fcfg));
    if (!s) return fail(sock, "serve the scratch directory: " + s.error().message());
    service = std::move(*s);
  }
  // The output files are the wrapper's own descriptors, checked to be open for writing
  // (check_request_fds): reopening them for writing gives nothing the client did not hold
  // already, whoever owns the file (the starter may have created it).
  job::JobSessionConfig jcfg;
  jcfg.spec = cfg->spec;
  jcfg.stdout_path = cfg->stdout_path;
  jcfg.stderr_path = cfg->stderr_path;
  jcfg.max_output_bytes = cfg->max_output_bytes << 20;
  if (cfg->transport != Transport::kXen)
    log::warn(label +
              ": transport local runs the job as an ordinary process on this machine "
              "and isolates nothing (tests only; set transport = xen)");
  // A relaunch after a vacate: the wrapper's restore file (docs/vacate.md). It is hostile input
  // (it came back from elsewhere): checked, bounded by what this request was allowed, and on
  // any doubt the job starts from the beginning.
  std::string restore_outcome;
  Result<std::unique_ptr<run::Guest>> guest = make_error(Errc::kNotFound, "no guest");
  if (fds.size() == 4) {
    auto r =
        cfg->transport == Transport::kXen
            ? run::check_restore_fd(std::move(fds[3]), "the job's restore file",
                                    cfg->restore_key_file, cfg->domain.memory_mib,
                                    cfg->domain.vcpus)
            : make_error(Errc::kInvalidArgument, "the local transport cannot restore a domain");
    if (!r && r.error().code != Errc::kInvalidArgument)
      // Not the file's fault (the key, memory, I/O): the wrapper keeps it for a relaunch.
      return fail(sock, "cannot check the job's restore file: " + r.error().message() +
                            "; it is kept (the service's log says more)");
    double took = 0;
    if (r) guest = run::restore_guest(*cfg, *r, &took);
    if (r && guest) {
      restore_outcome = "resumed";
      log::info(label + ": resumed the job's domain from its restore file in " +
                std::to_string(took).substr(0, 5) + " s");
    } else {
      restore_outcome = "cannot resume from ringbox's restore file: " +
                        (r ? guest.error().message() : r.error().message()) +
                        "; the job starts from the beginning";
      log::error(label + ": " + restore_outcome);
    }
  }
  jcfg.resumed = restore_outcome == "resumed";
  auto made = job::JobSession::create(jcfg);
  if (!made) {
    if (guest) (*guest)->kill();
    return fail(sock, "open the job's output files: " + made.error().message());
  }
  std::unique_ptr<job::JobSession> session = std::move(*made);
  HostHandler handler(*service, *session);
  AsUserHandler as_user(handler, id);
  if (!guest) guest = run::launch_guest(*cfg);
  if (!guest) return fail(sock, "launch the guest: " + guest.error().message());

  std::string agent_end;
  Result<void> served;
  bool wrapper_gone = false;
  run::VacateState vacate;
  {
    WrapperWatch watch(sock, *session, **guest, *cfg, vacate);
    rpc::ServerOptions sopts;
    sopts.workers = cfg->workers;
    sopts.spin_us = cfg->spin_us;
    bool started_sent = false;
    std::string not_taken;  // a checkpoint whose save failed, told once the guest is back
    std::unique_ptr<rpc::Server> server;
    for (;;) {
      auto connected = (*guest)->connect(cfg->accept_timeout_ms, as_user, sopts);
      if (!connected) {
        (*guest)->kill();
        (*guest)->wait(cfg->guest_exit_wait_ms);
        (*guest)->cleanup();
        return fail(sock, "connect to the guest: " + connected.error().message());
      }
      server = std::move(*connected);
      if (!not_taken.empty()) watch.checkpoint_not_taken(std::exchange(not_taken, {}));
      if (!std::exchange(started_sent, true)) {
        ServiceMessage started;
        started.add("op", "started");
        started.add("transport", transport_name(cfg->transport));
        if (!restore_outcome.empty()) started.add("restore", restore_outcome);
        (void)send_to_wrapper(sock, started);
      }
      served = server->serve();
      restore_root_fs_identity();  // inline requests ran on this thread as the job's user
      if (vacate.settle() != run::VacateState::Step::kReady) break;
      // The guest ended its grants: wake a blocked event poll so the workers can be joined.
      session->post_event(proto::Event::kVacate);
      server.reset();
      auto size = run::save_guest(**guest, *cfg, watch.restore_target(), "the job's restore file");
      if (!size && watch.checkpointing() && (*guest)->resumed_after_failed_save()) {
        // Not an eviction, and the suspend was cancelled: the job goes on here, as `run` does
        // (the guest reconnects in place and replays what had no answer). The wrapper hears
        // of it once the guest is back: a vacate it sent meanwhile would find it quiesced.
        log::error(label + ": checkpoint: " + size.error().message() +
                   "; the job goes on here (the guest reconnects in place)");
        auto withdrawn = (*guest)->cancel_vacate();
        if (withdrawn) {
          vacate.set(run::VacateState::Step::kNone);
          not_taken = "the save failed: " + size.error().message();
          continue;
        }
        log::error("withdraw the vacate: " + withdrawn.error().message());
      }
      {
        auto as_job_user = ScopedFsIdentity::enter(id);
        service->end_connection();
      }
      if (!size) {
        // HTCondor is taking the job away: no point in going on here.
        (*guest)->kill();
        (*guest)->wait(cfg->guest_exit_wait_ms);
        (*guest)->cleanup();
        return fail(sock, "vacate: " + size.error().message() +
                              "; the guest was destroyed and the job will re-run from the start");
      }
      (*guest)->cleanup();
      ServiceMessage done;
      done.add("op", "result");
      done.add("kind", "vacated");
      done.add("value", "0");
      done.add("bytes", std::to_string(*size));
      if (auto sent = send_to_wrapper(sock, done); !sent)
        log::warn("cannot tell the wrapper the job was saved: " + sent.error().message());
      return 0;
    }
    session->close();
    server.reset();
    {
      // Dropping the connection's unfinished uploads touches the job's files: as its user.
      auto as_job_user = ScopedFsIdentity::enter(id);
      if (!as_job_user) log::warn(label + ": " + as_job_user.error().message());
      service->end_connection();
    }
    agent_end = (*guest)->wait(cfg->guest_exit_wait_ms);
    wrapper_gone = watch.wrapper_gone();
  }
  (*guest)->cleanup();
  log::info(label + ": guest " + agent_end);
  if (wrapper_gone) return 0;
  if (!served) log::warn(label + ": serving the guest: " + served.error().message());
  auto outcome = session->outcome();
  if (!outcome)
    return fail(sock, "the guest ended without reporting the job's end (agent " + agent_end +
                          "); the job's stderr may say why");
  if (outcome->writeback_failures > 0)
    return fail(sock, std::to_string(outcome->writeback_failures) +
                          " output file(s) could not be returned to the scratch directory "
                          "(see the job's stderr); the job's results are incomplete");
  report(sock, outcome->kind == proto::ExitKind::kExited ? "exited" : "signaled",
         static_cast<int>(outcome->value), "");
  return 0;
}

}  // namespace ringbox::host::service
