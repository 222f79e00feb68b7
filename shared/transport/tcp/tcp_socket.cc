#include "shared/transport/tcp/tcp_socket.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <charconv>

#include "shared/util/file_io.h"

namespace ringbox::transport {
namespace {

Result<sockaddr_in> resolve(const HostPort& hp) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(hp.port);
  std::string host = hp.host.empty() || hp.host == "localhost" ? "127.0.0.1" : hp.host;
  if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1)
    return make_error(Errc::kInvalidArgument,
                      "'" + hp.host + "' is not an IPv4 address (use e.g. 127.0.0.1)");
  return a;
}

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

Result<HostPort> parse_host_port(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos)
    return make_error(Errc::kInvalidArgument, "'" + s + "' is not HOST:PORT");
  HostPort hp;
  hp.host = s.substr(0, colon);
  unsigned port = 0;
  auto [p, ec] = std::from_chars(s.data() + colon + 1, s.data() + s.size(), port);
  if (ec != std::errc() || p != s.data() + s.size() || port > 65535)
    return make_error(Errc::kInvalidArgument, "'" + s + "' has no valid port");
  hp.port = static_cast<uint16_t>(port);
  return hp;
}

Result<UniqueFd> tcp_connect(const HostPort& hp) {
  auto addr = resolve(hp);
  if (!addr) return std::move(addr.error());
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return sys_error("create TCP socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) != 0)
    return sys_error("connect to " + hp.host + ":" + std::to_string(hp.port));
  set_nodelay(fd.get());
  return fd;
}

Result<UniqueFd> tcp_listen(const HostPort& hp) {
  auto addr = resolve(hp);
  if (!addr) return std::move(addr.error());
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return sys_error("create TCP socket");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) != 0)
    return sys_error("bind TCP " + hp.host + ":" + std::to_string(hp.port));
  if (::listen(fd.get(), 16) != 0)
    return sys_error("listen on TCP port " + std::to_string(hp.port));
  return fd;
}

Result<uint16_t> tcp_local_port(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return sys_error("getsockname on TCP socket");
  return ntohs(a.sin_port);
}

Result<UniqueFd> tcp_accept(int listen_fd, int timeout_ms) {
  pollfd p{listen_fd, POLLIN, 0};
  int r = poll_retry(&p, 1, timeout_ms);
  if (r < 0) return sys_error("poll TCP listener");
  if (r == 0) return make_error(Errc::kTimeout, "no TCP connection arrived");
  UniqueFd fd(retry_eintr([&] { return ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC); }));
  if (!fd) return sys_error("accept TCP connection");
  set_nodelay(fd.get());
  return fd;
}

Result<void> write_all(int fd, const void* buf, size_t len) {
  auto w = ringbox::send_all(fd, std::span(static_cast<const std::byte*>(buf), len));
  if (w) return ok();
  int err = w.error().sys_errno;
  if (err == EPIPE || err == ECONNRESET)
    return make_error(Errc::kPeerGone, "peer closed the TCP connection");
  return sys_error(err, "send on TCP connection");
}

Result<void> read_all(int fd, void* buf, size_t len) {
  auto n = ringbox::read_all(fd, std::span(static_cast<std::byte*>(buf), len));
  if (!n && n.error().sys_errno == ECONNRESET)
    return make_error(Errc::kPeerGone, "peer reset the TCP connection");
  if (!n) return sys_error(n.error().sys_errno, "receive on TCP connection");
  if (*n < len) return make_error(Errc::kPeerGone, "peer closed the TCP connection");
  return ok();
}

}  // namespace ringbox::transport
