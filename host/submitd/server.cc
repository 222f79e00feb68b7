#include "host/submitd/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "shared/util/log.h"

namespace ringbox::submitd {
namespace {

std::string peer_address(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(ss).sin_addr, buf, sizeof(buf));
  } else if (ss.ss_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr, buf, sizeof(buf));
  }
  return buf;
}

}  // namespace

Result<std::unique_ptr<Server>> Server::listen(ServerConfig cfg) {
  std::unique_ptr<Server> s(new Server(std::move(cfg)));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(s->cfg_.port);
  int rc = ::getaddrinfo(s->cfg_.listen_host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0)
    return make_error(Errc::kInvalidArgument,
                      "listen address '" + s->cfg_.listen_host + "': " + ::gai_strerror(rc));
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, ::freeaddrinfo);
  UniqueFd fd(::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return sys_error("socket for ringbox-submitd");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd.get(), res->ai_addr, res->ai_addrlen) != 0)
    return sys_error("bind " + s->cfg_.listen_host + ":" + port +
                     " (is another server on that port? --port 0 picks a free one)");
  if (::listen(fd.get(), 128) != 0) return sys_error("listen on " + s->cfg_.listen_host);
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  s->port_ = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(ss).sin6_port
                                            : reinterpret_cast<sockaddr_in&>(ss).sin_port);
  s->listen_fd_ = std::move(fd);
  s->stop_fd_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!s->stop_fd_) return sys_error("eventfd for ringbox-submitd");
  return s;
}

Server::~Server() {
  stop();
  // Client threads hold a pointer to this; wait until they are gone.
  while (clients_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

void Server::stop() {
  if (stopping_.exchange(true)) return;
  uint64_t one = 1;
  if (stop_fd_) (void)!::write(stop_fd_.get(), &one, sizeof(one));
  std::lock_guard lock(mu_);
  for (int fd : client_fds_) ::shutdown(fd, SHUT_RDWR);
}

void Server::run() {
  while (!stopping_.load()) {
    pollfd p[2] = {{listen_fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
    int n = ::poll(p, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      log::error(sys_error("poll on the listening socket").message());
      return;
    }
    if (p[1].revents) return;
    if (!(p[0].revents & POLLIN)) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    UniqueFd c(::accept4(listen_fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC));
    if (!c) {
      // EMFILE and friends: back off briefly rather than spin; the listener stays up.
      log::warn(sys_error("accept").message());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    std::string peer = peer_address(ss);
    if (clients_.load() >= cfg_.max_clients) {
      log::warn("refusing " + peer + ": already serving " + std::to_string(cfg_.max_clients) +
                " clients (--max-clients)");
      continue;
    }
    int one = 1;
    ::setsockopt(c.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ++clients_;
    {
      std::lock_guard lock(mu_);
      client_fds_.insert(c.get());
    }
    std::thread([this, fd = std::move(c), peer]() mutable {
      serve_client(std::move(fd), peer);
    }).detach();
  }
}

void Server::serve_client(UniqueFd fd, std::string peer) {
  int raw = fd.get();
  {
    // Until authenticated a client gets the short request deadline even while idle: an
    // anonymous connection must not hold one of the --max-clients slots for long.
    chirp::Timeouts pre = cfg_.timeouts;
    pre.idle_ms = std::min(pre.idle_ms, pre.line_ms);
    chirp::Stream s(std::move(fd), pre);
    auto who = authenticate(s, peer, cfg_.auth);
    s.set_timeouts(cfg_.timeouts);
    if (!who) {
      log::info("client " + peer + " not authenticated: " + who.error().message());
    } else {
      log::debug("client " + peer + " is " + who->subject + " -> " + who->tenant->root->dir());
      Session session(s, *who, cfg_.limits);
      auto end = session.serve();
      if (end.error().code != Errc::kPeerGone)
        log::info("client " + peer + " (" + who->subject + ") cut off: " + end.error().message());
    }
    // Closed under the lock: stop() never shuts down a reused fd number.
    std::lock_guard lock(mu_);
    client_fds_.erase(raw);
    s.close();
  }
  --clients_;
}

}  // namespace ringbox::submitd
