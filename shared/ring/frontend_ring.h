// FrontendRing: the guest's end of the ring: produces requests, consumes responses.
//
// Not thread-safe: the RPC client serialises producers and consumers with its own locks.
// Private indexes (req_prod_pvt_, rsp_cons_) never leave this object; the shared words are
// touched through shared_memory.h only. A response index that claims more responses than we
// have requests outstanding is a broken peer: the ring is dead from then on.
#pragma once

#include <cstdint>

#include "shared/ring/layout.h"

namespace ringbox::ring {

class FrontendRing {
 public:
  // Writes the control page (magic, geometry, zero indexes, event thresholds at 1) and marks the
  // frontend alive. The region must be zeroed memory owned by this frontend.
  static Result<FrontendRing> create(std::span<std::byte> region, const Geometry& g);
  // Takes over a region that create() initialised (the transport does that before sharing it),
  // without touching the shared page.
  static Result<FrontendRing> adopt(std::span<std::byte> region, const Geometry& g);

  const Geometry& geometry() const { return geometry_; }
  std::span<std::byte> data_area() const { return view_.data; }

  // Free request slots: a slot is busy from its push until its response is consumed.
  uint32_t free_slots() const { return geometry_.slots() - (req_prod_pvt_ - rsp_cons_); }
  // Fills the next request slot privately; not visible to the backend until push_requests().
  // Precondition: free_slots() > 0.
  void put_request(const proto::RequestSlot& req);
  // Publishes the requests put so far. Returns true if the backend asked to be kicked.
  bool push_requests();

  // Copies the next response, if any, into out. Errc::kPeerBroken if the backend's index is
  // impossible.
  Result<bool> take_response(proto::ResponseSlot& out);
  // Before sleeping: arms rsp_event and looks once more. True means a response is waiting.
  Result<bool> final_check_responses();

  bool backend_alive() const;
  void set_frontend_alive(bool alive);

 private:
  FrontendRing(RegionView v, Geometry g) : view_(v), geometry_(g) {}
  Result<uint32_t> responses_available();

  RegionView view_;
  Geometry geometry_;
  uint32_t req_prod_pvt_ = 0;
  uint32_t rsp_cons_ = 0;
  bool broken_ = false;
};

}  // namespace ringbox::ring
