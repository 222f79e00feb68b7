// BackendMonitor: the guest's view of which backend serves its ring (frontend side only).
//
// A thread watches the backend's xenstore directory. Each time the backend says Connected with
// a generation we have not acknowledged (the first backend, or a new ringbox-host after the old
// one died), it runs the restart handler (the RPC client resets its ring and replays unanswered
// requests; with no client yet the ring is still fresh and there is nothing to do) and then
// acknowledges the generation in the frontend directory, which lets that backend start.
//
// Trust: the backend directory is dom0's and the guest cannot write it; its values are still
// parsed with bounds, because a garbled value must not crash the agent.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "shared/transport/channel.h"
#include "shared/transport/xen/xenstore.h"
#include "shared/util/unique_fd.h"

namespace ringbox::transport::xen {

class BackendMonitor {
 public:
  // fe_dir: our (the frontend's) directory; be_dir: the backend's.
  static Result<std::unique_ptr<BackendMonitor>> start(std::string fe_dir, std::string be_dir);
  BackendMonitor(const BackendMonitor&) = delete;
  BackendMonitor& operator=(const BackendMonitor&) = delete;
  ~BackendMonitor();  // stops and joins the thread

  // Blocks until some backend generation has been acknowledged, up to timeout_ms.
  Result<uint32_t> wait_first_backend(int timeout_ms);
  // True while the acknowledged backend's state key says Connected.
  bool backend_connected() const { return connected_.load(std::memory_order_acquire); }
  uint32_t generation() const { return acked_.load(std::memory_order_acquire); }
  // See RingChannel::set_restart_handler: replacing or clearing waits for a running call.
  void set_handler(RingChannel::RestartHandler handler);

 private:
  BackendMonitor(std::string fe_dir, std::string be_dir, XsHandle xs, XsWatch watch, UniqueFd stop);
  void run();
  Result<void> look();

  const std::string fe_dir_;
  const std::string be_dir_;
  XsHandle xs_;
  XsWatch watch_;
  UniqueFd stop_;  // eventfd: written to end the thread

  std::atomic<bool> connected_{false};
  std::atomic<uint32_t> acked_{0};
  std::mutex first_mu_;
  std::condition_variable first_cv_;

  std::mutex handler_mu_;  // held while the handler runs
  RingChannel::RestartHandler handler_;

  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace ringbox::transport::xen
