// BackendMonitor: the guest's view of which backend serves its ring (frontend side only).
//
// A thread watches the backend's xenstore directory. Each time the backend says Connected with
// a generation we have not acknowledged (the first backend, or a new ringbox-host after the old
// one died), it runs the restart handler (the RPC client resets its ring and replays unanswered
// requests; with no client yet the ring is still fresh and there is nothing to do) and then
// acknowledges the generation in the frontend directory, which lets that backend start.
//
// Vacate (docs/vacate.md): when the backend writes a vacate nonce, the thread runs the
// channel's quiesce hook (stop the job, drain, end the grants, close the port) and answers with
// vacate-ack. It then waits, watching our own directory by its relative path (which follows a
// new domain id after a restore): once our keys are gone (restored) or the backend withdrew the
// request (a cancelled save), it runs the rebuild hook (fresh grants and port, fresh keys) and
// accepts the next backend generation as after a restart; the resume hook (thaw the job) runs
// after that generation was acknowledged.
//
// Trust: the backend directory is dom0's and the guest cannot write it; its values are still
// parsed with bounds, because a garbled value must not crash the agent.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "shared/transport/channel.h"
#include "shared/transport/xen/xenstore.h"
#include "shared/util/deadline.h"
#include "shared/util/unique_fd.h"

namespace ringbox::transport::xen {

// The channel's side of a vacate; each runs on the monitor thread.
struct VacateHooks {
  // Before the ack; done by `by` (the host's wait less proto::kVacateAckMarginMs). Errc::
  // kCancelled: this guest cannot be saved now (nothing was torn down); the monitor refuses.
  std::function<Result<void>(const Deadline& by)> quiesce;
  std::function<Result<void>(uint32_t domid)> rebuild;  // after restore/cancel; may be new id
  std::function<void()> resume;                         // once the new backend is acknowledged
};

class BackendMonitor {
 public:
  // fe_dir: our (the frontend's) directory; be_dir: the backend's.
  // self: our domain id (fe_dir and be_dir name it).
  static Result<std::unique_ptr<BackendMonitor>> start(std::string fe_dir, std::string be_dir,
                                                       uint32_t self = 0);
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
  // Set once, before the first vacate can arrive (the channel does it at construction).
  void set_vacate_hooks(VacateHooks hooks);
  // True from a vacate request until the reconnect after it (the peer check's grace pauses).
  bool vacating() const { return vacating_.load(std::memory_order_acquire); }

 private:
  BackendMonitor(std::string fe_dir, std::string be_dir, XsHandle xs, XsWatch watch,
                 XsWatch self_watch, UniqueFd stop, uint32_t self);
  void run();
  Result<void> look();
  Result<void> look_vacate();
  Result<void> look_quiesced();

  std::string fe_dir_;  // the thread's alone (they change after a restore); be_dir_ also read
  std::string be_dir_;  // by wait_first_backend's message before any vacate
  XsHandle xs_;
  XsWatch watch_;
  XsWatch self_watch_;  // our own data/ringbox by relative path: follows a restore
  UniqueFd stop_;       // eventfd: written to end the thread

  std::atomic<bool> connected_{false};
  std::atomic<bool> vacating_{false};
  bool quiesced_ = false;        // acked a vacate; waiting for the restore or the cancel
  std::string handled_nonce_;    // the last vacate nonce we acted on
  uint32_t self_ = 0;            // our domain id, from fe_dir_
  std::string pending_refusal_;  // a refusal not yet written (look_vacate retries it)
  VacateHooks vacate_;
  std::atomic<uint32_t> acked_{0};
  std::mutex first_mu_;
  std::condition_variable first_cv_;

  std::mutex handler_mu_;  // held while the handler runs
  RingChannel::RestartHandler handler_;

  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace ringbox::transport::xen
