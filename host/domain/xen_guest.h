// XenGuest: a ringbox guest on Xen as `ringbox-host boot --serve` and `ringbox-host run
// --transport xen` use it: the owned domain (XenDomain), the agent's connection, and a monitor
// thread that notices the domain's end at once.
//
// The monitor waits for the domain to shut down (poweroff, crash, ...) on its own libxl
// context and then destroys it, as on_poweroff/on_crash = destroy ask. That also unblocks
// whoever waits on the guest: xen_accept() and a serving RingServer both fail fast once the
// domain's xenstore directory is gone, instead of running into their timeouts.
//
// The method set matches host/run's Guest interface (connect, kill, wait, cleanup), so the
// `run` launcher is a thin adapter.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "host/domain/domain_exit.h"
#include "host/domain/xen_domain.h"
#include "shared/transport/channel.h"
#include "shared/util/unique_fd.h"

namespace ringbox::host::domain {

class XenGuest {
  struct Key {};  // only launch() constructs one

 public:
  XenGuest(Key, XenDomain domain, LibxlContext monitor_ctx, UniqueFd cancel);
  // Creates the domain (XenDomain::create) and starts the monitor.
  // restore_fd >= 0: restores a saved domain from it instead (XenDomain::restore).
  static Result<std::unique_ptr<XenGuest>> launch(const DomainConfig& cfg,
                                                  const CreateOptions& opts = {},
                                                  int restore_fd = -1);
  XenGuest(const XenGuest&) = delete;
  XenGuest& operator=(const XenGuest&) = delete;
  // Stops the monitor; the XenDomain member then destroys the domain if it still exists.
  ~XenGuest();

  const XenDomain& domain() const { return domain_; }
  uint32_t domid() const { return domain_.domid(); }

  // Waits up to timeout_ms for the agent in the guest to attach over the Xen transport
  // (transport::xen_accept). Fails early if the domain ends first.
  Result<std::unique_ptr<transport::RingChannel>> connect(int timeout_ms);
  // Saves the domain into fd (XenDomain::save). While it runs the monitor takes the domain's
  // suspend for what it is, not for an end; after a failed save the domain runs on, watched.
  Result<void> save(int fd);
  // See XenDomain::set_memory_target.
  Result<void> set_memory_target(uint64_t target_kib, int wait_s) {
    return domain_.set_memory_target(target_kib, wait_s);
  }
  // Destroys the domain now (the job with it). Any thread.
  void kill();
  // Waits up to timeout_ms (< 0: no limit) for the domain to end by itself, destroys it if it
  // has not, and says how it ended: "powered off", "crashed", "killed by ringbox-host", ...
  std::string wait(int timeout_ms);
  // How the domain ended, once it has (nullopt while it runs).
  std::optional<ExitReason> exit_reason() const;
  // Whether the end was our own kill() (or wait()'s timeout), not the guest's doing.
  bool killed() const;
  // Nothing stays behind on this machine once the domain is gone.
  void cleanup() {}

 private:
  void monitor();

  XenDomain domain_;
  LibxlContext monitor_ctx_;  // the monitor's own: it polls, the owner's thread destroys
  UniqueFd cancel_;           // eventfd: readable ends the monitor
  mutable std::mutex mu_;
  std::condition_variable ended_cv_;
  std::optional<ExitReason> exit_;
  bool monitor_done_ = false;
  bool killed_ = false;
  bool saving_ = false;  // a save is under way: a suspend is not the domain's end
  std::thread monitor_;  // last: started once everything above exists
};

// "powered off", "crashed", ... for a message about a domain that ended this way.
std::string describe_exit(ExitReason reason, bool killed);

}  // namespace ringbox::host::domain
