#include "host/signal_waiter.h"

#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace ringbox::host {

Result<SignalWaiter> SignalWaiter::open(const sigset_t& set) {
  UniqueFd sig(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sig) return sys_error("signalfd for the stop signals");
  UniqueFd ev(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!ev) return sys_error("eventfd for a watcher's wake-up");
  return SignalWaiter(std::move(sig), std::move(ev));
}

SignalWaiter::Wake SignalWaiter::wait(int timeout_ms, int fd, short events) {
  pollfd p[3] = {{sig_.get(), POLLIN, 0}, {ev_.get(), POLLIN, 0}, {fd, events, 0}};
  Wake w;
  if (::poll(p, fd >= 0 ? 3 : 2, timeout_ms) <= 0) return w;  // timeout or EINTR
  if (p[0].revents & POLLIN) {
    signalfd_siginfo info{};
    if (::read(sig_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info))
      w.signal = static_cast<int>(info.ssi_signo);
  }
  if (p[1].revents & POLLIN) {
    uint64_t n = 0;
    w.woken = ::read(ev_.get(), &n, sizeof n) == static_cast<ssize_t>(sizeof n);
  }
  w.fd_ready = fd >= 0 && p[2].revents != 0;
  return w;
}

void SignalWaiter::wake() {
  uint64_t one = 1;
  // The counter cannot overflow in practice (2^64 - 2 wakes); a failed write leaves the
  // watcher to its next timeout, so there is nothing better to do with an error here.
  [[maybe_unused]] ssize_t n = ::write(ev_.get(), &one, sizeof one);
}

}  // namespace ringbox::host
