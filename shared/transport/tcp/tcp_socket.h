// TCP sockets for the stream transport (the network baseline). TCP_NODELAY everywhere: the
// baseline should be the best the network path can do, not Nagle's delay.
#pragma once

#include <cstdint>
#include <string>

#include "shared/util/unique_fd.h"

namespace ringbox::transport {

struct HostPort {
  std::string host;
  uint16_t port = 0;
};
Result<HostPort> parse_host_port(const std::string& s);  // "127.0.0.1:7000"

Result<UniqueFd> tcp_connect(const HostPort& hp);
// Listens on hp; port 0 picks a free port (see tcp_local_port).
Result<UniqueFd> tcp_listen(const HostPort& hp);
Result<uint16_t> tcp_local_port(int fd);
Result<UniqueFd> tcp_accept(int listen_fd, int timeout_ms);

// Full reads and writes; a peer that closes mid-message is Errc::kPeerGone.
Result<void> write_all(int fd, const void* buf, size_t len);
Result<void> read_all(int fd, void* buf, size_t len);

}  // namespace ringbox::transport
