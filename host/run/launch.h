// Launching the guest of a `ringbox-host run` and getting the ring channel to it. This is the
// one step that differs by transport; everything else in `run` is the same for all of them.
//
//   local  ringbox-agent --job as a child process on this machine, over a memfd ring handed
//          across a Unix socket in a private temporary directory. Isolates nothing.
//   xen    a PV domain built with libxl (no NIC, no disk), its agent attaching over granted
//          pages (launch_xen.cc over host/domain/xen_guest.h).
//
// To add a transport: implement Guest for it and add a branch to launch_guest().
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "host/run/run_config.h"
#include "shared/transport/channel.h"

namespace ringbox::host::run {

class Guest {
 public:
  virtual ~Guest() = default;
  // Waits for the guest's agent to connect and returns the channel to serve.
  virtual Result<std::unique_ptr<transport::RingChannel>> connect(int timeout_ms) = 0;
  // Ends the guest at once (its job with it).
  virtual void kill() = 0;
  // Waits up to timeout_ms for the guest to end by itself, then kills it. Returns a short
  // description of how it ended, for messages ("exited with status 0", "killed by signal 9").
  virtual std::string wait(int timeout_ms) = 0;
  // Removes what the launch left on this machine (mounts, temporary files).
  virtual void cleanup() = 0;
};

Result<std::unique_ptr<Guest>> launch_guest(const RunConfig& cfg);

// The local transport's launcher (launch_local.cc).
Result<std::unique_ptr<Guest>> launch_local_guest(const RunConfig& cfg);
// The xen transport's launcher (launch_xen.cc), and the agent arguments it puts on the guest's
// kernel command line.
Result<std::unique_ptr<Guest>> launch_xen_guest(const RunConfig& cfg);
std::vector<std::string> xen_agent_args(const RunConfig& cfg);

}  // namespace ringbox::host::run
