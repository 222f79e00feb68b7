#include "shared/transport/local/eventfd_doorbell.h"

#include <poll.h>
#include <sys/socket.h>

#include <cstdint>

#include "shared/util/file_io.h"

namespace ringbox::transport {

Result<void> EventfdDoorbell::ring() {
  uint64_t one = 1;
  if (::write(kick_peer_.get(), &one, sizeof(one)) != sizeof(one))
    return sys_error("kick peer through eventfd");
  return ok();
}

Result<bool> EventfdDoorbell::wait(int timeout_ms) {
  pollfd p[2] = {{kicked_.get(), POLLIN, 0}, {liveness_, POLLIN | POLLRDHUP, 0}};
  int r = poll_retry(p, 2, timeout_ms);
  if (r < 0) return sys_error("wait for a kick on eventfd");
  if (p[0].revents & POLLIN) {
    uint64_t count;
    if (::read(kicked_.get(), &count, sizeof(count)) < 0 && errno != EAGAIN)
      return sys_error("read kick eventfd");
    return true;
  }
  if (p[1].revents != 0) {
    char byte;
    ssize_t n = ::recv(liveness_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN))
      return make_error(Errc::kPeerGone, "peer closed the local channel");
  }
  return false;
}

}  // namespace ringbox::transport
