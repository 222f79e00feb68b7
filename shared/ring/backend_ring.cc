#include "shared/ring/backend_ring.h"

#include "shared/ring/shared_memory.h"

namespace ringbox::ring {

Result<BackendRing> BackendRing::attach(std::span<std::byte> region, const Geometry& g) {
  auto view = view_region(region, g);
  if (!view) return std::move(view.error());
  uint32_t magic = load_acquire(view->control->magic);
  if (magic != proto::kMagic)
    return make_error(Errc::kPeerBroken,
                      "shared region has no ringbox magic (found 0x" + std::to_string(magic) + ")");
  BackendRing ring(*view, g);
  // A frontend (re)connecting resets the ring and replays its unanswered requests, so a fresh
  // ring has rsp_prod == 0; starting from the published value keeps a backend that attaches
  // late from answering anything twice. req_prod is checked on use.
  uint32_t rsp_prod = load_acquire(view->control->rsp_prod);
  ring.rsp_prod_pvt_ = rsp_prod;
  ring.req_cons_ = rsp_prod;  // every request below rsp_prod was answered
  return ring;
}

Result<uint32_t> BackendRing::requests_available() {
  if (broken_) return make_error(Errc::kPeerBroken, broken_reason_);
  // acquire: request slot contents are read /after/ the producer index that covers them
  uint32_t prod = load_acquire(view_.control->req_prod);
  uint32_t avail = prod - req_cons_;
  // Requests we took but have not answered still hold their slots.
  uint32_t in_use = req_cons_ - rsp_prod_pvt_;
  if (avail > geometry_.slots() - in_use) {
    broken_ = true;
    broken_reason_ = "guest request index " + std::to_string(prod) + " claims " +
                     std::to_string(avail) + " new requests with " + std::to_string(in_use) +
                     " of " + std::to_string(geometry_.slots()) + " slots in use";
    return make_error(Errc::kPeerBroken, broken_reason_);
  }
  return avail;
}

Result<bool> BackendRing::take_request(proto::RequestSlot& out) {
  auto avail = requests_available();
  if (!avail) return std::move(avail.error());
  if (*avail == 0) return false;
  uint32_t idx = req_cons_ & (geometry_.slots() - 1);
  // copied before any check: the guest can rewrite the slot at any moment
  copy_from_shared(&out, &view_.requests[idx], sizeof(out));
  ++req_cons_;
  return true;
}

Result<bool> BackendRing::final_check_requests() {
  auto avail = requests_available();
  if (!avail) return std::move(avail.error());
  if (*avail > 0) return true;
  store_release(view_.control->req_event, req_cons_ + 1);
  // full: req_event is visible /before/ we look at req_prod again (no lost wake-up)
  full_barrier();
  avail = requests_available();
  if (!avail) return std::move(avail.error());
  return *avail > 0;
}

Result<void> BackendRing::put_response(const proto::ResponseSlot& rsp) {
  if (rsp_prod_pvt_ == req_cons_)
    return make_error(Errc::kInvalidArgument, "response without an outstanding request");
  uint32_t idx = rsp_prod_pvt_ & (geometry_.slots() - 1);
  copy_to_shared(&view_.responses[idx], &rsp, sizeof(rsp));
  ++rsp_prod_pvt_;
  return ok();
}

bool BackendRing::push_responses() {
  proto::ControlPage* c = view_.control;
  uint32_t old_prod = load_acquire(c->rsp_prod);  // only we write it; a guest scribble only
                                                  // affects whether we kick it
  uint32_t new_prod = rsp_prod_pvt_;
  // release: the frontend sees response slots and payloads /before/ the new producer index
  store_release(c->rsp_prod, new_prod);
  // full: our rsp_prod store is visible /before/ we read the frontend's rsp_event
  full_barrier();
  uint32_t event = load_acquire(c->rsp_event);
  return static_cast<uint32_t>(new_prod - event) < static_cast<uint32_t>(new_prod - old_prod);
}

bool BackendRing::frontend_alive() const {
  return load_byte(view_.control->frontend_live) != 0;
}
void BackendRing::set_backend_alive(bool alive) {
  store_byte(view_.control->backend_live, alive ? 1 : 0);
}

}  // namespace ringbox::ring
