// Busy-polling politely. A spinning ring end must not keep the CPU from the very thread it is
// waiting for: with fewer CPUs than busy threads (the FUSE daemon, the job, the host's ring
// thread on a 2-vCPU machine) that thread may be queued behind us on this CPU. So every few
// hundred nanoseconds the spinner yields; with nobody else runnable, sched_yield returns at once.
#pragma once

#include <sched.h>

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

}  // namespace ringbox::rpc
