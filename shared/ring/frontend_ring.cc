#include "shared/ring/frontend_ring.h"

#include <string>

#include "shared/ring/ring_index.h"
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
  copy_to_shared(&view_.requests[index::slot(req_prod_pvt_, geometry_.slots())], &req, sizeof(req));
  ++req_prod_pvt_;
}

bool FrontendRing::push_requests() {
  return index::publish(view_.control->req_prod, req_prod_pvt_, view_.control->req_event);
}

Result<uint32_t> FrontendRing::responses_available() {
  if (broken_) return make_error(Errc::kPeerBroken, "ring already marked broken");
  uint32_t outstanding = req_prod_pvt_ - rsp_cons_;
  uint32_t prod = 0;
  auto avail = index::available(view_.control->rsp_prod, rsp_cons_, outstanding, &prod);
  if (!avail) {
    broken_ = true;
    return make_error(Errc::kPeerBroken, "backend response index " + std::to_string(prod) +
                                             " runs " + std::to_string(prod - rsp_cons_) +
                                             " ahead of our consumer index with only " +
                                             std::to_string(outstanding) + " requests outstanding");
  }
  return *avail;
}

Result<bool> FrontendRing::take_response(proto::ResponseSlot& out) {
  auto avail = responses_available();
  if (!avail) return std::move(avail.error());
  if (*avail == 0) return false;
  copy_from_shared(&out, &view_.responses[index::slot(rsp_cons_, geometry_.slots())], sizeof(out));
  ++rsp_cons_;
  return true;
}

Result<bool> FrontendRing::final_check_responses() {
  return index::arm_and_recheck(view_.control->rsp_event, rsp_cons_,
                                [this] { return responses_available(); });
}

bool FrontendRing::backend_alive() const {
  return load_byte(view_.control->backend_live) != 0;
}
void FrontendRing::set_frontend_alive(bool alive) {
  store_byte(view_.control->frontend_live, alive ? 1 : 0);
}

}  // namespace ringbox::ring
