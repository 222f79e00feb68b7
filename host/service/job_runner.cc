#include "host/service/job_runner.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "host/files/chirp_backend.h"
#include "host/files/file_service.h"
#include "host/host_handler.h"
#include "host/job/job_session.h"
#include "host/run/launch.h"
#include "host/service/as_user.h"
#include "host/stop_signals.h"
#include "shared/util/log.h"

namespace ringbox::host::service {
namespace {

void report(int sock, const std::string& kind, int value, const std::string& message) {
  ServiceMessage m;
  m.add("op", "result");
  m.add("kind", kind);
  m.add("value", std::to_string(value));
  if (!message.empty()) m.add("message", message);
  if (auto s = send_service_message(sock, m); !s)
    log::warn("cannot report the job's end to its wrapper: " + s.error().message());
}

int fail(int sock, const std::string& message) {
  log::error(message);
  report(sock, "failed", 0, message);
  return 0;
}

// Watches the wrapper's socket and this process's stop signals while the job runs (the role
// of run's SignalWatch): op=stop -> shutdown event, then a kill after the grace time; hang-up
// or a signal -> kill at once.
class WrapperWatch {
 public:
  WrapperWatch(int sock, job::JobSession& session, run::Guest& guest, int grace_ms)
      : sock_(sock), session_(session), guest_(guest), grace_ms_(grace_ms) {
    thread_ = std::thread([this] { run(); });
  }
  ~WrapperWatch() {
    stop_ = true;
    thread_.join();
  }
  bool wrapper_gone() const { return gone_; }

 private:
  void run() {
    sigset_t set = stop_signals();
    auto kill_at = std::chrono::steady_clock::time_point::max();
    bool socket_open = true;
    while (!stop_) {
      timespec none{0, 0};
      if (int sig = ::sigtimedwait(&set, nullptr, &none); sig > 0) {
        log::warn(std::string("got ") + strsignal(sig) + ": killing the job's guest");
        guest_.kill();
      }
      if (socket_open) {
        pollfd p{sock_, POLLIN | POLLRDHUP, 0};
        if (::poll(&p, 1, 100) > 0) {
          auto m = recv_service_message(sock_, 1000);
          if (m && m->get("op") == "stop") {
            log::info("the wrapper asks to stop the job (vacate, remove or hold)");
            session_.post_event(proto::Event::kShutdown);
            if (kill_at == std::chrono::steady_clock::time_point::max())
              kill_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms_);
          } else if (!m) {
            // The wrapper died or broke the protocol: nobody waits for this job any more.
            log::warn("the wrapper went away (" + m.error().message() +
                      "): killing the job's guest");
            gone_ = true;
            socket_open = false;
            guest_.kill();
          }
        }
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
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
  int grace_ms_;
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
  std::vector<int> raw = {fds[0].get(), fds[1].get(), fds[2].get()};
  auto cfg = build_run_config(*request, policy, raw);
  if (!cfg) return fail(sock, cfg.error().message());
  auto submit_side = submit_side_endpoint(*request);
  if (!submit_side) return fail(sock, submit_side.error().message());
  std::string label = request->get("job", "job");
  log::info(label + ": uid " + std::to_string(who.uid) + " pid " + std::to_string(who.pid) +
            ", mode " + std::string(proto::job_mode_name(cfg->spec.mode)) + ", transport " +
            cfg->transport + ", " + std::to_string(cfg->domain.memory_mib) + " MiB, " +
            std::to_string(cfg->domain.vcpus) + " vCPU, files " +
            (*submit_side ? "on the submit side through the " + (*submit_side)->describe()
                          : std::string("in the scratch dir")));

  FsIdentity id{who.uid, who.gid, who.groups};
  files::FileServiceConfig fcfg;
  fcfg.export_dir = cfg->export_dir;
  fcfg.policy =
      files::Policy::read_write();  // the job owns its scratch dir; its user's rights apply
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
  auto made = job::JobSession::create(jcfg);
  if (!made) return fail(sock, "open the job's output files: " + made.error().message());
  std::unique_ptr<job::JobSession> session = std::move(*made);
  HostHandler handler(*service, *session);
  AsUserHandler as_user(handler, id);

  if (cfg->transport != "xen")
    log::warn(label +
              ": transport local runs the job as an ordinary process on this machine "
              "and isolates nothing (tests only; set transport = xen)");
  auto guest = run::launch_guest(*cfg);
  if (!guest) return fail(sock, "launch the guest: " + guest.error().message());

  std::string agent_end;
  Result<void> served;
  bool wrapper_gone = false;
  {
    WrapperWatch watch(sock, *session, **guest, cfg->shutdown_grace_ms);
    rpc::ServerOptions sopts;
    sopts.workers = cfg->workers;
    sopts.spin_us = cfg->spin_us;
    auto server = (*guest)->connect(cfg->accept_timeout_ms, as_user, sopts);
    if (!server) {
      (*guest)->kill();
      (*guest)->wait(cfg->guest_exit_wait_ms);
      (*guest)->cleanup();
      return fail(sock, "connect to the guest: " + server.error().message());
    }
    ServiceMessage started;
    started.add("op", "started");
    started.add("transport", cfg->transport);
    (void)send_service_message(sock, started);
    served = (*server)->serve();
    session->close();
    server->reset();
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
