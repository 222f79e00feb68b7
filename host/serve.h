// Accepting one agent over a transport and serving it until it goes away.
#pragma once

#include <string>

#include "shared/rpc/handler.h"
#include "shared/rpc/ring_server.h"

namespace ringbox::host {

struct ServeConfig {
  std::string transport = "local";  // local | tcp
  std::string address;              // local: socket path; tcp: HOST:PORT
  int accept_timeout_ms = 30000;
  rpc::ServerOptions server;
};

// Listens, accepts one agent, serves it until it disconnects.
Result<void> serve_one(const ServeConfig& cfg, rpc::Handler& handler);

}  // namespace ringbox::host
