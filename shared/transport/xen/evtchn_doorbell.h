// Doorbell over one Xen event channel. ring() is xenevtchn_notify; wait() polls the event
// channel descriptor (and, optionally, a xenstore watch descriptor), consumes the pending event
// and unmasks the port, then asks the side-specific PeerCheck whether the peer is still there.
//
// The kernel masks a port when it delivers an event to user space; an event that arrives while
// it is masked stays pending and is delivered on unmask, so no kick is lost between two waits.
#pragma once

#include "shared/transport/channel.h"
#include "shared/transport/xen/evtchn.h"

namespace ringbox::transport::xen {

// Whether the peer is still there, from one side's point of view.
class PeerCheck {
 public:
  virtual ~PeerCheck() = default;
  // A descriptor to wait on besides the event channel (a xenstore watch), or -1.
  virtual int watch_fd() const = 0;
  // Called after every wait; `watch_fired` says the descriptor above was readable. Returns
  // Errc::kPeerGone when the peer is gone for good.
  virtual Result<void> check(bool watch_fired) = 0;
};

class EvtchnDoorbell final : public Doorbell {
 public:
  // Neither the handle nor the check is owned; both must outlive the doorbell.
  EvtchnDoorbell(EvtchnHandle& h, evtchn_port_t port, PeerCheck& check)
      : h_(h), port_(port), check_(check) {}
  Result<void> ring() override;
  Result<bool> wait(int timeout_ms) override;

 private:
  EvtchnHandle& h_;
  evtchn_port_t port_;
  PeerCheck& check_;
};

}  // namespace ringbox::transport::xen
