// The confined file service (issue 12; docs/file-service.md, "The confined service"): the part of
// ringbox-host that decodes a guest's requests and touches its export, in a process of its own
// that can reach nothing else.
//
//   ringbox-host run (root)                     ringbox-host confined-file-service
//     JobSession  <-- job channel (4 sockets) --  HostHandler: files -> FileService("/export")
//     guest launch, libxl, signals                             job   -> forwarded
//                                                 RingServer on the agent's channel
//
// The parent execs /proc/self/exe as the service, with the agent's connection (not yet set up)
// and the child ends of the job channel as its only descriptors. The service unshares its
// namespaces, forks pid 1 of them (the first process stays to report the exit status), which
// binds the export into an empty read-only root, sets up the ring, becomes the export's user
// with no capabilities, opens the export, installs the seccomp filter, and serves. The job
// opcodes (16..20) go back to the parent over the job channel in the TCP transport's framing
// (stream_rpc.h), through the same sanitize step as every transport; file opcodes never do.
//
// xen: the service maps the guest's grants and binds its event channel itself (a grant mapping
// is VM_DONTCOPY: it cannot be handed over), before it confines itself, and then closes its
// xenstore connection; run keeps the xenstore half (the frontend's state, the backend's
// directory) and tells the service over a pipe when the frontend leaves.
// Today: local and xen transports, the export back end (`ringbox-host run --confine-user`).
// Not yet: the Chirp back end, vacate, the root service.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "host/files/policy.h"
#include "shared/rpc/handler.h"
#include "shared/rpc/server.h"
#include "shared/util/unique_fd.h"

namespace ringbox::host::confine {

// The internal command the parent execs (host_main.cc).
inline constexpr const char* kConfinedServiceCommand = "confined-file-service";
// Connections of the job channel: two long polls (JobSession's kMaxEventWaiters) and two for
// output and the job's end, so a poll never delays the job's output.
inline constexpr int kJobConnections = 4;

struct ConfinedServiceSpec {
  std::string export_dir;  // the job's files; the service sees them as kSandboxExport
  uid_t uid = 0;           // the unprivileged user it serves as (never 0)
  gid_t gid = 0;
  files::PolicyRules policy;
  uint32_t xen_domid = 0;         // xen: the domain whose agent to attach to; 0: local
  int accept_timeout_ms = 60000;  // xen: for the agent to appear
  // Non-empty: the service records what moves (run's --transfer-log) and writes it, under this
  // header, into the file run opened for it (start()'s transfer_log).
  std::string transfer_log_header;
  int workers = 0;  // rpc::ServerOptions
  int spin_us = 50;
  uint64_t features = 0;
};

// The parent's side: the service process, and the job channel it answers with `job` (the
// JobSession, which must outlive this object). serve() returns when the service has ended: ok
// when it served its agent to the end, else an error with its exit status (its own log lines
// say why). stop() kills it.
class ConfinedServer final : public rpc::Server {
 public:
  // Starts the service on `agent` (local transport: the accepted socket, before local_accept;
  // xen: empty, the service attaches to spec.xen_domid itself, with its xenstore half here).
  // Errors: the socketpair(2) or posix_spawn(3) that failed.
  static Result<std::unique_ptr<ConfinedServer>> start(const ConfinedServiceSpec& spec,
                                                       UniqueFd agent, rpc::Handler& job,
                                                       UniqueFd transfer_log = {});
  ~ConfinedServer() override;  // kills the service if it still runs, joins the job channel
  Result<void> serve() override;
  void stop() override;

 private:
  ConfinedServer(pid_t pid, std::vector<UniqueFd> job_fds, UniqueFd log, rpc::Handler& job,
                 uint32_t xen_domid, UniqueFd notice, UniqueFd lock);
  // xen: ends the frontend watch and closes the backend's xenstore directory (once).
  void stop_watcher();
  pid_t pid_;
  bool reaped_ = false;
  std::vector<UniqueFd> job_fds_;
  UniqueFd log_;  // the read end of the service's stdout and stderr
  uint32_t xen_domid_;
  UniqueFd notice_;  // xen: written when the frontend leaves (xen_watch_frontend)
  UniqueFd lock_;    // xen: the domain's backend lock (backend_lock.h)
  std::atomic<bool> watch_stop_{false};
  std::thread watcher_;
  std::vector<std::thread> threads_;
};

// The service's main: `ringbox-host confined-file-service --export DIR --uid U --gid G
// [--read P]... [--write P]... [--reserve P]... --agent-fd N --job-fd N... [--workers N]
// [--spin-us N] [--features F] [--transfer-log-fd N --transfer-log-header H]`, or with --probe
// [--probe-path P]... [--probe-control P]... instead of --agent-fd: confine as for serving, then
// try what a compromised handler would (open outside the export, the network, Xen's devices,
// privileges) and print one line per attempt; status 0 when every one was refused and every control
// path (inside the sandbox) could be opened, 1 otherwise, 2 on bad arguments.
int confined_service_main(const std::vector<std::string>& args);

// The arguments confined_service_main() parses, for the spec and the descriptor numbers.
std::vector<std::string> service_args(const ConfinedServiceSpec& spec, int agent_fd,
                                      const std::vector<int>& job_fds);

}  // namespace ringbox::host::confine
