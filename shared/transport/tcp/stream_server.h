// StreamServer: the host side of the TCP transport. Accepts the connections of one client on
// a listening socket and serves each on its own thread (one call at a time per connection, as
// the client sends them), so a long poll on one connection never holds up the others.
//
// serve() returns once the client has come and gone: at least one connection was served and
// every one of them was closed by the peer. With a token (ringbox_proto.h, kStreamTokenBytes),
// a connection that does not send it within token_timeout_ms is closed unserved.
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <thread>

#include "shared/rpc/handler.h"
#include "shared/rpc/server.h"
#include "shared/util/unique_fd.h"

namespace ringbox::transport {

struct StreamServerOptions {
  std::string token;                     // empty: no token asked (the benchmark's listener)
  int token_timeout_ms = 5000;           // to send the token after connecting
  int first_connection_timeout_ms = -1;  // serve() fails if nobody connects by then; -1: wait
  size_t max_connections = 256;          // more at once are refused
  uint64_t features = 0;                 // proto::Feature bits granted to a peer that asks (kHello)
  // While nobody has connected: asked every poll slice whether the client may still come
  // (its process is alive); false ends serve() with kPeerGone at once. Empty: always.
  std::function<bool()> client_alive;
};

class StreamServer final : public rpc::Server {
 public:
  StreamServer(UniqueFd listen_fd, rpc::Handler& handler, StreamServerOptions opts);
  ~StreamServer() override;  // stops, shuts every connection down and joins its thread
  Result<void> serve() override;
  void stop() override { stopping_ = true; }
  uint64_t connections_served() const { return served_.load(); }

 private:
  struct Connection {
    UniqueFd fd;
    std::thread thread;
    std::atomic<bool> authenticated{false};
    std::atomic<bool> finished{false};
    bool peer_closed = false;  // seen by serve(); no longer polled (it would report it forever)
  };
  void run_connection(Connection& c);
  bool check_token(int fd);
  void reap_finished();

  UniqueFd listen_fd_;
  rpc::Handler& handler_;
  StreamServerOptions opts_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> served_{0};
  std::list<Connection> conns_;  // only the serve() thread adds and removes
};

}  // namespace ringbox::transport
