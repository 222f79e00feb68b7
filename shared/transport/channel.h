// The seam between the ring and whatever carries it.
//
// A RingChannel is a shared region plus a two-way doorbell. The ring code (shared/ring) and the
// RPC layer (shared/rpc) see only this interface, so they are byte-for-byte the same whether the
// region is a memfd between two processes (transport/local) or granted pages between a domU and
// dom0 (transport/xen). The stream transport (transport/tcp) is the network baseline and carries
// the same messages framed over a socket instead (shared/rpc/stream_*).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>

#include "shared/ring/layout.h"
#include "shared/util/result.h"

namespace ringbox::transport {

class Doorbell {
 public:
  virtual ~Doorbell() = default;
  // Kicks the peer. Cheap enough to call per batch, not per message.
  virtual Result<void> ring() = 0;
  // Blocks until the peer kicks us (true), timeout_ms passes (false; -1 = no limit), or the peer
  // is gone (Errc::kPeerGone). Consumes the pending kick.
  virtual Result<bool> wait(int timeout_ms) = 0;
};

class RingChannel {
 public:
  virtual ~RingChannel() = default;
  virtual std::span<std::byte> region() = 0;
  virtual const ring::Geometry& geometry() const = 0;
  virtual Doorbell& doorbell() = 0;
  // A short human description for logs: "local memfd via /run/x.sock", "xen domain 5".
  virtual std::string describe() const = 0;

  // Backend restarts, seen from the frontend. Where a backend can die and a new one re-attach
  // to the same region (Xen: ringbox-host restarted while the guest runs), the channel calls
  // the handler from its own thread once the new backend has mapped the region and bound the
  // doorbell, and before that backend reads anything. The handler must leave the ring as a
  // fresh backend expects it: indexes reset, every unanswered request published again
  // (rpc::RingClient::reset_and_replay does this). When it returns ok the channel lets the new
  // backend start; an error is logged and the backend is not released. Until a new backend
  // arrives, Doorbell::wait() keeps returning false rather than kPeerGone, for as long as the
  // transport's reconnect grace allows.
  // set_restart_handler(nullptr) unregisters and returns only after a running call finished.
  // Transports that cannot restart ignore the handler: the default does.
  using RestartHandler = std::function<Result<void>()>;
  virtual void set_restart_handler(RestartHandler handler) { (void)handler; }

  // Vacate (Xen save/restore, docs/vacate.md): the channel swaps the memory behind region() at
  // the same address. It calls the guard with `change`; the guard waits up to drain_ms for the
  // calls that are not long polls to be answered (0: no wait), then runs `change` while no
  // thread reads or writes the region, and returns its result. Registered by the RPC client
  // (rpc::RingClient); set_region_guard(nullptr) unregisters. Transports that never swap ignore
  // it.
  using RegionChange = std::function<Result<void>()>;
  using RegionGuard = std::function<Result<void>(int drain_ms, const RegionChange& change)>;
  virtual void set_region_guard(RegionGuard guard) { (void)guard; }
};

}  // namespace ringbox::transport
