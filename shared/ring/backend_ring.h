// BackendRing: the host's end of the ring: consumes requests, produces responses.
//
// Trust: everything in the region is written by a possibly hostile guest. The request index is
// read once per poll and rejected if it claims more than a ring's worth of unconsumed requests;
// each slot is copied to private memory before anyone looks at it. After a contract breach the
// ring refuses all further work (Errc::kPeerBroken) and the host drops the connection.
//
// Not thread-safe: the server serialises consumers, and producers, with its own locks.
#pragma once

#include <cstdint>
#include <string>

#include "shared/ring/layout.h"

namespace ringbox::ring {

class BackendRing {
 public:
  // Checks the control page magic once; geometry comes from the validated out-of-band copy.
  static Result<BackendRing> attach(std::span<std::byte> region, const Geometry& g);

  const Geometry& geometry() const { return geometry_; }
  std::span<std::byte> data_area() const { return view_.data; }

  // Copies the next request, if any, into out (the private copy is all the caller may use).
  Result<bool> take_request(proto::RequestSlot& out);
  // Before sleeping: arms req_event and looks once more. True means a request is waiting.
  Result<bool> final_check_requests();

  // Writes a response privately. Responses may be produced in any order of ids, but never more
  // than the requests taken (checked: a bug here would let the frontend run past us).
  Result<void> put_response(const proto::ResponseSlot& rsp);
  // Publishes the responses put so far. Returns true if the frontend asked to be kicked.
  bool push_responses();

  bool frontend_alive() const;
  void set_backend_alive(bool alive);
  bool broken() const { return broken_; }
  const std::string& broken_reason() const { return broken_reason_; }

 private:
  BackendRing(RegionView v, Geometry g) : view_(v), geometry_(g) {}
  Result<uint32_t> requests_available();

  RegionView view_;
  Geometry geometry_;
  uint32_t req_cons_ = 0;
  uint32_t rsp_prod_pvt_ = 0;
  bool broken_ = false;
  std::string broken_reason_;
};

}  // namespace ringbox::ring
