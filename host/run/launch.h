// Launching the guest of a `ringbox-host run` and getting the ring channel to it. This is the
// one step that differs by transport; everything else in `run` is the same for all of them.
//
//   local  ringbox-agent --job as a child process on this machine, over a memfd ring handed
//          across a Unix socket in a private temporary directory. Isolates nothing.
//   tcp    the same child process, its requests over TCP on the loopback instead of a ring:
//          the network path, for comparing against the ring. Isolates nothing.
//   xen    a PV domain built with libxl (no NIC, no disk), its agent attaching over granted
//          pages (launch_xen.cc over host/domain/xen_guest.h).
//
// To add a transport: implement Guest for it and add a branch to launch_guest().
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "host/run/run_config.h"
#include "shared/rpc/handler.h"
#include "shared/rpc/ring_server.h"
#include "shared/rpc/server.h"
#include "shared/util/unique_fd.h"

namespace ringbox::host::run {

class Guest {
 public:
  virtual ~Guest() = default;
  // Waits for the guest's agent to connect and returns the server that answers it through
  // `handler` (a RingServer with `opts` for the ring transports).
  virtual Result<std::unique_ptr<rpc::Server>> connect(int timeout_ms, rpc::Handler& handler,
                                                       const rpc::ServerOptions& opts) = 0;
  // For the confined file service (host/confine). xen: the guest's domain, to which the
  // service attaches itself (0 for the other transports).
  virtual uint32_t xen_domid() const { return 0; }
  // local: waits for the agent to connect and returns its connection before anything is set
  // up on it, for the service to set up.
  virtual Result<UniqueFd> accept_agent(int timeout_ms) {
    (void)timeout_ms;
    return make_error(Errc::kInvalidArgument,
                      "this transport cannot serve from a confined file service");
  }
  // Ends the guest at once (its job with it).
  virtual void kill() = 0;
  // Waits up to timeout_ms for the guest to end by itself, then kills it. Returns a short
  // description of how it ended, for messages ("exited with status 0", "killed by signal 9").
  virtual std::string wait(int timeout_ms) = 0;
  // Removes what the launch left on this machine (mounts, temporary files).
  virtual void cleanup() = 0;

  // Vacate (xen only; docs/vacate.md). Whether this guest can be vacated at all.
  virtual bool can_vacate() const { return false; }
  // Asks the guest to get ready for a save and waits up to
  // timeout_ms for its acknowledgement (Errc::kTimeout: it did not).
  virtual Result<void> prepare_vacate(int timeout_ms) {
    (void)timeout_ms;
    return make_error(Errc::kInvalidArgument, "only --transport xen can vacate a job");
  }
  // Before the save: shrinks the prepared guest to what it says it needs, never below the
  // image's floor. Returns a line for the log. After a restore: back to full size.
  virtual std::string shrink_for_save() { return "not shrunk"; }
  virtual void grow_after_restore() {}
  // Saves the prepared guest into fd; on success the guest is gone. On failure it runs on if
  // resumed_after_failed_save() says so.
  virtual Result<void> save(int fd) {
    (void)fd;
    return make_error(Errc::kInvalidArgument, "only --transport xen can save a job");
  }
  // After a failed save: whether the guest runs on (resumed, or never suspended; else gone).
  virtual bool resumed_after_failed_save() const { return false; }
  // Withdraws the vacate after a failed save: the guest reconnects in place.
  virtual Result<void> cancel_vacate() { return ok(); }
  // The guest's memory and vCPUs, for the restore file's header (0: none).
  virtual std::pair<uint32_t, uint32_t> memory_mib_and_vcpus() const { return {0, 0}; }
};

Result<std::unique_ptr<Guest>> launch_guest(const RunConfig& cfg);

// The local and tcp transports' launcher (launch_local.cc).
Result<std::unique_ptr<Guest>> launch_local_guest(const RunConfig& cfg);
// The xen transport's launcher (launch_xen.cc). restore_fd >= 0: restore a saved domain from
// it (a restore file's stream) instead of booting a new one.
Result<std::unique_ptr<Guest>> launch_xen_guest(const RunConfig& cfg, int restore_fd = -1);
// The agent's arguments for a job over cfg.transport, whatever starts it (a local process, the
// guest's init): --job, the transport, and the options run passes on. The launcher adds where to
// connect and the work directory where it has them.
std::vector<std::string> agent_job_args(const RunConfig& cfg);

}  // namespace ringbox::host::run
