#include "shared/transport/tcp/stream_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "shared/transport/tcp/stream_rpc.h"
#include "shared/util/deadline.h"
#include "shared/util/log.h"

namespace ringbox::transport {
namespace {
using Clock = std::chrono::steady_clock;
constexpr int kPollSliceMs = 100;  // how often serve() re-checks stop() and the deadlines

// Compares in time independent of where the first difference is.
bool same_bytes(const char* a, const char* b, size_t n) {
  unsigned char diff = 0;
  for (size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}
}  // namespace

StreamServer::StreamServer(UniqueFd listen_fd, rpc::Handler& handler, StreamServerOptions opts)
    : listen_fd_(std::move(listen_fd)), handler_(handler), opts_(std::move(opts)) {}

StreamServer::~StreamServer() {
  stopping_ = true;
  // Wakes every thread blocked reading its connection; handlers must already be woken.
  for (auto& c : conns_) ::shutdown(c.fd.get(), SHUT_RDWR);
  for (auto& c : conns_)
    if (c.thread.joinable()) c.thread.join();
  if (served_ > 0) handler_.connection_ended();  // every connection's handler calls returned
}

bool StreamServer::check_token(int fd) {
  std::string got(opts_.token.size(), '\0');
  size_t have = 0;
  const Deadline deadline(opts_.token_timeout_ms);
  while (have < got.size()) {
    if (deadline.passed() || stopping_) return false;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, deadline.slice_ms(kPollSliceMs));
    if (r < 0 && errno != EINTR) return false;
    if (r <= 0) continue;
    ssize_t n = ::recv(fd, got.data() + have, got.size() - have, MSG_DONTWAIT);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return false;
    }
    have += static_cast<size_t>(n);
  }
  return same_bytes(got.data(), opts_.token.data(), got.size());
}

void StreamServer::run_connection(Connection& c) {
  if (!opts_.token.empty() && !check_token(c.fd.get())) {
    log::warn("closed a TCP connection that did not present this run's connection token");
    c.finished = true;
    return;
  }
  c.authenticated = true;
  ++served_;
  Result<void> r = ok();
  try {
    r = serve_stream(c.fd.get(), handler_,
                     {.stop = &stopping_, .features = opts_.features, .peer = "a TCP peer"});
  } catch (...) {  // out of memory outside a handler: this connection ends, the others go on
    r = make_error(Errc::kCancelled, "ran out of memory serving it");
  }
  if (!r) log::warn("dropping a TCP connection: " + r.error().message());
  c.finished = true;
}

void StreamServer::reap_finished() {
  for (auto it = conns_.begin(); it != conns_.end();) {
    if (!it->finished) {
      ++it;
      continue;
    }
    it->thread.join();
    it = conns_.erase(it);  // closes the descriptor, now that nobody uses it
  }
}

Result<void> StreamServer::serve() {
  const auto started = Clock::now();
  std::vector<pollfd> fds;
  while (!stopping_) {
    reap_finished();
    // Come and gone: served someone, and every connection left is closed by the peer (its
    // thread may still be inside a handler, a long poll, until the owner wakes it).
    fds.assign(1, pollfd{listen_fd_.get(), POLLIN, 0});
    for (auto& c : conns_) fds.push_back(pollfd{c.peer_closed ? -1 : c.fd.get(), POLLRDHUP, 0});
    if (::poll(fds.data(), fds.size(), kPollSliceMs) < 0 && errno != EINTR)
      return sys_error("poll the TCP listener and its connections");
    bool all_gone = true;
    size_t i = 1;
    for (auto& c : conns_) {
      if (fds[i++].revents & (POLLRDHUP | POLLHUP | POLLERR)) c.peer_closed = true;
      if (!c.peer_closed) all_gone = false;
    }
    if (served_ > 0 && all_gone) return ok();
    if (served_ == 0 && opts_.first_connection_timeout_ms >= 0 &&
        Clock::now() - started > std::chrono::milliseconds(opts_.first_connection_timeout_ms))
      return make_error(
          Errc::kTimeout,
          "nobody connected within " + std::to_string(opts_.first_connection_timeout_ms) + " ms");
    if (served_ == 0 && conns_.empty() && opts_.client_alive && !opts_.client_alive())
      return make_error(Errc::kPeerGone, "the client ended before it connected");
    if (!(fds[0].revents & POLLIN)) continue;
    UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!fd) {
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
      return sys_error("accept a TCP connection");
    }
    if (conns_.size() >= opts_.max_connections) {
      log::warn("refused a TCP connection: already " + std::to_string(conns_.size()) +
                " open (the most one client may hold)");
      continue;
    }
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    Connection& c = conns_.emplace_back();
    c.fd = std::move(fd);
    c.thread = std::thread([this, &c] { run_connection(c); });
  }
  return ok();
}

}  // namespace ringbox::transport
