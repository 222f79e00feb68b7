#include "shared/ring/backend_ring.h"

#include "shared/ring/ring_index.h"
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
  // Requests we took but have not answered still hold their slots.
  uint32_t in_use = req_cons_ - rsp_prod_pvt_;
  uint32_t prod = 0;
  auto avail =
      index::available(view_.control->req_prod, req_cons_, geometry_.slots() - in_use, &prod);
  if (!avail) {
    broken_ = true;
    broken_reason_ = "guest request index " + std::to_string(prod) + " claims " +
                     std::to_string(prod - req_cons_) + " new requests with " +
                     std::to_string(in_use) + " of " + std::to_string(geometry_.slots()) +
                     " slots in use";
    return make_error(Errc::kPeerBroken, broken_reason_);
  }
  return *avail;
}

Result<bool> BackendRing::take_request(proto::RequestSlot& out) {
  auto avail = requests_available();
  if (!avail) return std::move(avail.error());
  if (*avail == 0) return false;
  // copied before any check: the guest can rewrite the slot at any moment
  copy_from_shared(&out, &view_.requests[index::slot(req_cons_, geometry_.slots())], sizeof(out));
  ++req_cons_;
  return true;
}

Result<bool> BackendRing::final_check_requests() {
  return index::arm_and_recheck(view_.control->req_event, req_cons_,
                                [this] { return requests_available(); });
}

Result<void> BackendRing::put_response(const proto::ResponseSlot& rsp) {
  if (rsp_prod_pvt_ == req_cons_)
    return make_error(Errc::kInvalidArgument, "response without an outstanding request");
  copy_to_shared(&view_.responses[index::slot(rsp_prod_pvt_, geometry_.slots())], &rsp,
                 sizeof(rsp));
  ++rsp_prod_pvt_;
  return ok();
}

bool BackendRing::push_responses() {
  return index::publish(view_.control->rsp_prod, rsp_prod_pvt_, view_.control->rsp_event);
}

bool BackendRing::frontend_alive() const {
  return load_byte(view_.control->frontend_live) != 0;
}
void BackendRing::set_backend_alive(bool alive) {
  store_byte(view_.control->backend_live, alive ? 1 : 0);
}

}  // namespace ringbox::ring
