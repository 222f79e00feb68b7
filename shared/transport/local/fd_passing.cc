#include "shared/transport/local/fd_passing.h"

#include <poll.h>
#include <sys/socket.h>

#include <cstring>
#include <string>

namespace ringbox::transport {

Result<void> send_with_fds(int sock, std::span<const std::byte> msg, std::span<const int> fds) {
  iovec iov{const_cast<std::byte*>(msg.data()), msg.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)] = {};
  if (fds.size() > 8) return make_error(Errc::kInvalidArgument, "too many fds to pass");
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (!fds.empty()) {
    mh.msg_control = control;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n = ::sendmsg(sock, &mh, MSG_NOSIGNAL);
  if (n < 0) return sys_error("send handshake on local socket");
  if (static_cast<size_t>(n) != msg.size())
    return make_error(Errc::kPeerGone, "short send of handshake on local socket");
  return ok();
}

Result<std::vector<UniqueFd>> recv_with_fds(int sock, std::span<std::byte> msg, size_t max_fds,
                                            int timeout_ms) {
  pollfd p{sock, POLLIN, 0};
  int r = ::poll(&p, 1, timeout_ms);
  if (r < 0) return sys_error("poll local socket for handshake");
  if (r == 0) return make_error(Errc::kTimeout, "no handshake from peer on local socket");
  iovec iov{msg.data(), msg.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)] = {};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof(control);
  ssize_t n = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);
  if (n < 0) return sys_error("receive handshake on local socket");
  std::vector<UniqueFd> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds.emplace_back(fd);  // owned even if we reject the message below
    }
  }
  if (static_cast<size_t>(n) != msg.size())
    return make_error(Errc::kPeerGone, "local socket closed during handshake (got " +
                                           std::to_string(n) + " of " + std::to_string(msg.size()) +
                                           " bytes)");
  if ((mh.msg_flags & MSG_CTRUNC) != 0 || fds.size() > max_fds)
    return make_error(Errc::kPeerBroken,
                      "peer passed more file descriptors than the handshake has");
  return fds;
}

}  // namespace ringbox::transport
