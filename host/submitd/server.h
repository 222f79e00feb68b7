// Server: ringbox-submitd's listener. One thread per client, at most Config::max_clients of
// them (a client beyond that is closed at once, with a log line); each thread authenticates
// its client and runs a Session. A client that stalls is cut off by the stream deadlines, a
// client that breaks the protocol loses only its own connection, and nothing a client sends
// can stop the listener.
#pragma once

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "host/submitd/server_auth.h"
#include "host/submitd/session.h"

namespace ringbox::submitd {

struct ServerConfig {
  std::string listen_host = "127.0.0.1";
  uint16_t port = 9094;
  int max_clients = 64;
  Limits limits;
  chirp::Timeouts timeouts{};
  AuthConfig auth;
};

class Server {
 public:
  static Result<std::unique_ptr<Server>> listen(ServerConfig cfg);
  ~Server();

  uint16_t port() const { return port_; }
  // Accepts until stop() is called (from a signal-watching thread).
  void run();
  void stop();

 private:
  explicit Server(ServerConfig cfg) : cfg_(std::move(cfg)) {}
  void serve_client(UniqueFd fd, std::string peer);

  ServerConfig cfg_;
  UniqueFd listen_fd_;
  UniqueFd stop_fd_;  // eventfd: wakes the accept loop
  uint16_t port_ = 0;
  std::atomic<int> clients_{0};
  std::mutex mu_;
  std::set<int> client_fds_;  // shut down on stop()
  std::atomic<bool> stopping_{false};
};

}  // namespace ringbox::submitd
