// Accepting one agent over a transport and serving it until it goes away.
#pragma once

#include <cstdint>
#include <string>

#include "shared/rpc/handler.h"
#include "shared/rpc/ring_server.h"
#include "shared/transport/transport_kind.h"

namespace ringbox::host {

struct ServeConfig {
  Transport transport = Transport::kLocal;  // local | tcp | xen
  std::string address;                      // local: socket path; tcp: HOST:PORT; xen: unused
  uint32_t domid = 0;                       // xen: the guest domain to attach to
  int accept_timeout_ms = 30000;
  rpc::ServerOptions server;
};

// Listens, accepts one agent, serves it until it disconnects. xen: attaches to the agent of
// cfg.domid, whether it is new or was served by a ringbox-host that died (re-attach).
Result<void> serve_one(const ServeConfig& cfg, rpc::Handler& handler);

}  // namespace ringbox::host
