// Deadline: a point on the monotonic clock a wait must not pass, in the units poll(2) and
// friends take (milliseconds, never negative).
#pragma once

#include <algorithm>
#include <chrono>

namespace ringbox {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;
  // timeout_ms from now; a negative timeout has already passed.
  explicit Deadline(int timeout_ms)
      : end_(Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0))) {}
  // Milliseconds left, 0 once passed.
  int remaining_ms() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end_ - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
  }
  // remaining_ms(), but at most slice_ms: for loops that wake up to re-check a stop flag.
  int slice_ms(int slice_ms) const { return std::min(remaining_ms(), slice_ms); }
  bool passed() const { return Clock::now() >= end_; }

 private:
  Clock::time_point end_;
};

}  // namespace ringbox
