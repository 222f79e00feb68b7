// EventWatch: keeps one kWaitEvent long poll outstanding for the whole job, so the host can
// tell the guest to shut down (job removed, HTCondor vacating the slot) without ever sending a
// request of its own. On kShutdown, or when the connection to the host is lost for good, it
// calls on_shutdown once; kVacate is logged (on Xen the host suspends the whole domain, which
// the guest need not notice).
#pragma once

#include <atomic>
#include <functional>
#include <thread>

#include "shared/rpc/call.h"

namespace ringbox::guest::job {

inline constexpr uint64_t kEventPollMs = 1000;

class EventWatch {
 public:
  EventWatch(rpc::Client& client, std::function<void()> on_shutdown);
  ~EventWatch();
  // Stops polling; returns once the outstanding poll came back (at most kEventPollMs, at once
  // after the host has the job's exit).
  void stop();
  bool shutdown_requested() const { return shutdown_; }

 private:
  void run();

  rpc::Client& client_;
  std::function<void()> on_shutdown_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> shutdown_{false};
  std::thread thread_;
};

}  // namespace ringbox::guest::job
