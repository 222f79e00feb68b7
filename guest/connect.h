// Opening the agent's connection to the host, whatever the transport: the one place that
// turns "--transport X --connect Y" into a negotiated rpc::Client.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "shared/ring/layout.h"
#include "shared/rpc/call.h"
#include "shared/transport/transport_kind.h"
#include "shared/util/deadline.h"

namespace ringbox::guest {

struct ConnectConfig {
  Transport transport = Transport::kLocal;  // local | tcp | xen
  std::string address;                      // local: socket path; tcp: HOST:PORT; xen: unused
  ring::Geometry geometry;
  int spin_us = 50;
  int connect_timeout_ms = 30000;    // xen: wait this long for the first ringbox-host
  int reconnect_timeout_ms = 60000;  // xen: wait this long for a restarted ringbox-host
  uint64_t features = 0;             // proto::Feature bits to ask for in kHello (client.features())
  // xen: a vacate's start (stop the job) and end (continue it); see XenConnectOptions.
  std::function<Result<void>(const Deadline& by)> on_quiesce;
  std::function<void()> on_resume;
};

// TCP: the most connections the agent opens (one per concurrent call: FUSE threads, the event
// poll, the job's output).
inline constexpr size_t kMaxTcpConnections = 32;

// Connects and negotiates the protocol version (kHello).
Result<std::unique_ptr<rpc::Client>> connect_to_host(const ConnectConfig& cfg);

}  // namespace ringbox::guest
