#include "shared/transport/xen/evtchn_doorbell.h"

#include <poll.h>

#include <string>

#include "shared/util/file_io.h"

namespace ringbox::transport::xen {

Result<void> EvtchnDoorbell::ring() {
  if (xenevtchn_notify(h_.get(), port_) != 0)
    return sys_error("kick the peer through event channel " + std::to_string(port_));
  return ok();
}

Result<bool> EvtchnDoorbell::wait(int timeout_ms) {
  pollfd p[2] = {{h_.fd(), POLLIN, 0}, {check_.watch_fd(), POLLIN, 0}};
  nfds_t n = p[1].fd >= 0 ? 2 : 1;
  int r = poll_retry(p, n, timeout_ms);
  if (r < 0) return sys_error("wait on event channel " + std::to_string(port_));
  bool kicked = false;
  if (p[0].revents & POLLIN) {
    // poll() said readable, so pending() does not block (xenevtchn.h warns it may otherwise).
    xenevtchn_port_or_error_t got = xenevtchn_pending(h_.get());
    if (got < 0)
      return sys_error("read the pending event of event channel " + std::to_string(port_));
    if (xenevtchn_unmask(h_.get(), static_cast<evtchn_port_t>(got)) != 0)
      return sys_error("unmask event channel " + std::to_string(got));
    kicked = static_cast<evtchn_port_t>(got) == port_;
  }
  bool watch_fired = n == 2 && p[1].revents != 0;
  RINGBOX_TRY(check_.check(watch_fired));
  return kicked;
}

}  // namespace ringbox::transport::xen
