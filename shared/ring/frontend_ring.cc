#include "shared/ring/frontend_ring.h"

#include <string>

#include "shared/ring/shared_memory.h"

namespace ringbox::ring {

Result<FrontendRing> FrontendRing::create(std::span<std::byte> region, const Geometry& g) {
  auto view = view_region(region, g);
  if (!view) return std::move(view.error());
  proto::ControlPage* c = view->control;
  c->magic = proto::kMagic;
  c->version = proto::kVersionMax;
  c->ring_order = g.ring_order;
  c->data_pages = g.data_pages;
  c->req_prod = 0;
  c->rsp_prod = 0;
  c->req_event = 1;
  c->rsp_event = 1;
  store_byte(c->frontend_live, 1);  // /before/ nothing: set up before the region is shared
  return FrontendRing(*view, g);
}

Result<FrontendRing> FrontendRing::adopt(std::span<std::byte> region, const Geometry& g) {
  auto view = view_region(region, g);
  if (!view) return std::move(view.error());
  if (load_acquire(view->control->magic) != proto::kMagic)
    return make_error(Errc::kInvalidArgument, "ring region was not initialised");
  FrontendRing ring(*view, g);
  ring.req_prod_pvt_ = load_acquire(view->control->req_prod);  // we are its only writer
  ring.rsp_cons_ = ring.req_prod_pvt_;
  return ring;
}

void FrontendRing::put_request(const proto::RequestSlot& req) {
  uint32_t idx = req_prod_pvt_ & (geometry_.slots() - 1);
  copy_to_shared(&view_.requests[idx], &req, sizeof(req));
  ++req_prod_pvt_;
}

bool FrontendRing::push_requests() {
  proto::ControlPage* c = view_.control;
  uint32_t old_prod = load_acquire(c->req_prod);  // we are its only writer
  uint32_t new_prod = req_prod_pvt_;
  // release: the backend sees the slot contents /before/ the updated producer index
  store_release(c->req_prod, new_prod);
  // full: our req_prod store is visible /before/ we read the backend's req_event
  full_barrier();
  uint32_t event = load_acquire(c->req_event);
  return static_cast<uint32_t>(new_prod - event) < static_cast<uint32_t>(new_prod - old_prod);
}

Result<uint32_t> FrontendRing::responses_available() {
  if (broken_) return make_error(Errc::kPeerBroken, "ring already marked broken");
  // acquire: response slot contents are read /after/ the producer index that covers them
  uint32_t prod = load_acquire(view_.control->rsp_prod);
  uint32_t avail = prod - rsp_cons_;
  uint32_t outstanding = req_prod_pvt_ - rsp_cons_;
  if (avail > outstanding) {
    broken_ = true;
    return make_error(Errc::kPeerBroken, "backend response index " + std::to_string(prod) +
                                             " runs " + std::to_string(avail) +
                                             " ahead of our consumer index with only " +
                                             std::to_string(outstanding) + " requests outstanding");
  }
  return avail;
}

Result<bool> FrontendRing::take_response(proto::ResponseSlot& out) {
  auto avail = responses_available();
  if (!avail) return std::move(avail.error());
  if (*avail == 0) return false;
  uint32_t idx = rsp_cons_ & (geometry_.slots() - 1);
  copy_from_shared(&out, &view_.responses[idx], sizeof(out));
  ++rsp_cons_;
  return true;
}

Result<bool> FrontendRing::final_check_responses() {
  auto avail = responses_available();
  if (!avail) return std::move(avail.error());
  if (*avail > 0) return true;
  store_release(view_.control->rsp_event, rsp_cons_ + 1);
  // full: rsp_event is visible /before/ we look at rsp_prod again (no lost wake-up)
  full_barrier();
  avail = responses_available();
  if (!avail) return std::move(avail.error());
  return *avail > 0;
}

bool FrontendRing::backend_alive() const {
  return load_byte(view_.control->backend_live) != 0;
}
void FrontendRing::set_frontend_alive(bool alive) {
  store_byte(view_.control->frontend_live, alive ? 1 : 0);
}

}  // namespace ringbox::ring
