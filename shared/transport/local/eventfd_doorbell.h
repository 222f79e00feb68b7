// Doorbell over two eventfds (one per direction) plus the handshake socket for liveness.
#pragma once

#include "shared/transport/channel.h"
#include "shared/util/unique_fd.h"

namespace ringbox::transport {

class EventfdDoorbell final : public Doorbell {
 public:
  // kick_peer: eventfd the peer waits on; kicked: eventfd we wait on; liveness: a socket whose
  // hang-up means the peer is gone (not owned).
  EventfdDoorbell(UniqueFd kick_peer, UniqueFd kicked, int liveness)
      : kick_peer_(std::move(kick_peer)), kicked_(std::move(kicked)), liveness_(liveness) {}
  Result<void> ring() override;
  Result<bool> wait(int timeout_ms) override;

 private:
  UniqueFd kick_peer_;
  UniqueFd kicked_;
  int liveness_;
};

}  // namespace ringbox::transport
