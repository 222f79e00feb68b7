// Busy-polling, politely and adaptively.
//
// Spinner: a spinning ring end must not keep the CPU from the very thread it is waiting for:
// with fewer CPUs than busy threads (the FUSE daemon, the job, the host's ring thread on a
// 2-vCPU machine) that thread may be queued behind us on this CPU. So every few hundred
// nanoseconds the spinner yields; with nobody else runnable, sched_yield returns at once.
//
// PollWindow: how long to poll before sleeping on the doorbell, adapted the way KVM adapts
// halt polling, with the limit taken from what a wake-up costs on this connection. A sleep that
// the doorbell ended soon after it began means a longer window would have caught the message
// without a wake-up: the window doubles, up to the limit. A sleep that ended long after (or
// timed out) means polling would not have helped: the window goes back to the configured base.
// So a peer that answers in 60 us (a round trip under emulation, a slow disk) is polled for, and
// an idle one costs only the base. A base of 0 turns polling off altogether.
//
// The limit estimates the wake-up's cost as the first quartile of the last kWakeSamples
// doorbell-ended sleeps, within [kPollMinLimitUs, kPollMaxLimitUs], and "soon" is measured from
// when the message came: the sleep's length less that limit. Under QEMU TCG a wake-up can cost
// over a millisecond; with a fixed 200 us limit such a sleep never counted as soon, the window
// stayed at its base and every round trip paid a wake-up (docs/benchmarks.md, "Ring vs vif in
// nested Xen"). Sleep lengths alone cannot tell a dear wake-up from a peer that writes every few
// milliseconds, so whether polling pays is also measured: kMissesToBackOff sleeps in a row with
// the window above its base and no message caught by polling between them put the window back
// to its base for a hold of sleeps that doubles each time (up to kMaxHoldSleeps); a message
// caught by polling (caught()) ends the hold's growth.
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

// The least the window may grow to, whatever a wake-up costs (KVM's default halt_poll_ns is
// the same 200 us), and the most (under TCG a woken vCPU can take milliseconds; polling longer
// than this costs the peer's host CPU when the host is loaded).
inline constexpr int kPollMinLimitUs = 200;
inline constexpr int kPollMaxLimitUs = 2000;

class PollWindow {
 public:
  using us = std::chrono::microseconds;
  static constexpr int kWakeSamples = 32;
  static constexpr int kMissesToBackOff = 8;
  static constexpr int kMaxHoldSleeps = 256;

  explicit PollWindow(int base_us) : base_(std::max(0, base_us)), window_(base_) {}
  us window() const { return us(window_); }
  // The most the window grows to now: 0 with a base of 0, else the wake-up's estimated cost
  // within [max(base, kPollMinLimitUs), max(base, kPollMaxLimitUs)].
  us limit() const {
    if (base_ == 0) return us(0);
    return us(
        std::clamp(wake_us_, std::max(base_, kPollMinLimitUs), std::max(base_, kPollMaxLimitUs)));
  }
  // A message came while polling: no sleep was needed.
  void caught() {
    misses_ = 0;
    hold_growth_ = 1;
  }
  // After a sleep on the doorbell: how long it lasted, and whether the doorbell ended it.
  void slept(us how_long, bool rang) {
    const int64_t len = how_long.count();
    if (rang) note_wake(len);
    // A window still growing is judged too. Judging only a window at its limit kept the gain
    // under a CPU quota but, beside a CPU-bound process, kept polling that starved the peer's
    // vCPU (docs/benchmarks.md, "What decides the nested ring's round trip").
    if (window_ > base_ && ++misses_ >= kMissesToBackOff) {
      // Polling past the base caught nothing: the sleeps are the peer's pace, not wake-ups.
      misses_ = 0;
      hold_ = hold_growth_;
      hold_growth_ = std::min(hold_growth_ * 2, kMaxHoldSleeps);
      window_ = base_;
      return;
    }
    if (hold_ > 0) {
      --hold_;
      window_ = base_;
      return;
    }
    const int64_t lim = limit().count();
    if (rang && len - lim <= lim)
      window_ =
          static_cast<int>(std::min<int64_t>(lim, std::max<int64_t>(int64_t{window_} * 2, base_)));
    else
      window_ = base_;
  }

 private:
  void note_wake(int64_t len) {
    samples_[next_ % kWakeSamples] = static_cast<int>(std::clamp<int64_t>(len, 0, 1'000'000));
    ++next_;
    const int n = static_cast<int>(std::min<uint32_t>(next_, kWakeSamples));
    if (n < kWakeSamples / 4) return;  // too few to tell a wake-up from a late message
    int sorted[kWakeSamples];
    std::copy(samples_, samples_ + n, sorted);
    std::nth_element(sorted, sorted + n / 4, sorted + n);
    wake_us_ = sorted[n / 4];
  }

  int base_;
  int window_;
  int wake_us_ = 0;  // the estimated cost of a wake-up; 0 until enough sleeps were seen
  int samples_[kWakeSamples] = {};
  uint32_t next_ = 0;
  int misses_ = 0;       // sleeps in a row with the window above its base
  int hold_ = 0;         // sleeps left at the base before the window may grow again
  int hold_growth_ = 1;  // the next hold's length
};

}  // namespace ringbox::rpc
