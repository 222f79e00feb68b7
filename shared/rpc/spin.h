// Busy-polling, politely and adaptively.
//
// Spinner: a spinning ring end must not keep the CPU from the very thread it is waiting for:
// with fewer CPUs than busy threads (the FUSE daemon, the job, the host's ring thread on a
// 2-vCPU machine) that thread may be queued behind us on this CPU. So every few hundred
// nanoseconds the spinner yields; with nobody else runnable, sched_yield returns at once.
//
// PollWindow: how long to poll before sleeping on the doorbell, adapted the way KVM adapts
// halt polling. A sleep that ended with a doorbell within kPollGrowLimitUs means a longer
// window would have caught the message without a wake-up: the window doubles, up to that
// limit. A sleep longer than the limit (or one that timed out) means polling would not have
// helped: the window goes back to the configured base. So a peer that answers in 60 us (a
// round trip under emulation, a slow disk) is polled for, and an idle one costs only the base.
// A base of 0 turns polling off altogether.
#pragma once

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace ringbox::rpc {

class Spinner {
 public:
  void pause() {
    __builtin_ia32_pause();
    if ((++count_ & (kYieldEvery - 1)) == 0) ::sched_yield();
  }

 private:
  static constexpr uint32_t kYieldEvery = 16;  // a power of two
  uint32_t count_ = 0;
};

// The most a window grows to (KVM's default halt_poll_ns is the same 200 us).
inline constexpr int kPollGrowLimitUs = 200;

class PollWindow {
 public:
  using us = std::chrono::microseconds;
  explicit PollWindow(int base_us)
      : base_(std::max(0, base_us)),
        limit_(base_ == 0 ? 0 : std::max(base_, kPollGrowLimitUs)),
        window_(base_) {}
  us window() const { return us(window_); }
  // After a sleep on the doorbell: how long it lasted, and whether the doorbell ended it.
  void slept(us how_long, bool rang) {
    if (rang && how_long.count() <= limit_)
      window_ = std::min(limit_, std::max(window_ * 2, base_));
    else
      window_ = base_;
  }

 private:
  int base_;
  int limit_;
  int window_;
};

}  // namespace ringbox::rpc
