// SignalWaiter: a watcher thread's wait for the stop signals, for one more descriptor, or for
// its owner's wake(), with no signal handler and no polling slice.
//
// The signals must already be blocked in every thread (host/stop_signals.h); they are taken
// from a signalfd (signalfd(2)), and wake() writes an eventfd, so a watcher thread ends the
// moment its owner asks instead of at the end of a sleep slice (a 100 ms slice used to add up
// to 100 ms to every `ringbox-host run`).
#pragma once

#include <poll.h>
#include <signal.h>

#include "shared/util/result.h"
#include "shared/util/unique_fd.h"

namespace ringbox::host {

class SignalWaiter {
 public:
  // What one wait() saw: the signal taken (0: none), whether `fd` is ready, whether wake()
  // was called. All false/0 on a timeout.
  struct Wake {
    int signal = 0;
    bool fd_ready = false;
    bool woken = false;
  };

  // SET: the signals to take (blocked in every thread). Errors: signalfd(2)/eventfd(2)'s.
  static Result<SignalWaiter> open(const sigset_t& set);

  // Waits up to timeout_ms (< 0: no bound) for a signal of the set, wake(), or `events` on fd
  // (fd < 0: none). EINTR is retried as a timeout-less spurious wake-up (all false).
  Wake wait(int timeout_ms, int fd = -1, short events = POLLIN);

  // Makes the current or the next wait() return with woken = true. Safe from any thread.
  void wake();

 private:
  SignalWaiter(UniqueFd sig, UniqueFd ev) : sig_(std::move(sig)), ev_(std::move(ev)) {}
  UniqueFd sig_;
  UniqueFd ev_;
};

}  // namespace ringbox::host
