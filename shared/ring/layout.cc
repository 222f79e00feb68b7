#include "shared/ring/layout.h"

#include <string>

namespace ringbox::ring {
namespace {
size_t pages_for(size_t bytes) {
  return (bytes + proto::kPageSize - 1) / proto::kPageSize;
}
}  // namespace

size_t Geometry::request_pages() const {
  return pages_for(slots() * sizeof(proto::RequestSlot));
}
size_t Geometry::response_pages() const {
  return pages_for(slots() * sizeof(proto::ResponseSlot));
}
size_t Geometry::total_pages() const {
  return 1 + request_pages() + response_pages() + data_pages;
}
uint32_t Geometry::max_message_bytes() const {
  size_t quarter = data_bytes() / proto::kMaxMessageDivisor;
  return static_cast<uint32_t>(quarter & ~size_t{proto::kBufferAlign - 1});
}

Result<Geometry> validate_geometry(uint32_t ring_order, uint32_t data_pages) {
  if (ring_order < proto::kMinRingOrder || ring_order > proto::kMaxRingOrder)
    return make_error(Errc::kInvalidArgument, "ring order " + std::to_string(ring_order) +
                                                  " is outside " +
                                                  std::to_string(proto::kMinRingOrder) + ".." +
                                                  std::to_string(proto::kMaxRingOrder));
  if (data_pages < proto::kMinDataPages || data_pages > proto::kMaxDataPages)
    return make_error(Errc::kInvalidArgument, "data area of " + std::to_string(data_pages) +
                                                  " pages is outside " +
                                                  std::to_string(proto::kMinDataPages) + ".." +
                                                  std::to_string(proto::kMaxDataPages));
  return Geometry{ring_order, data_pages};
}

Result<RegionView> view_region(std::span<std::byte> region, const Geometry& g) {
  if (region.size() < g.region_bytes())
    return make_error(Errc::kInvalidArgument, "shared region of " + std::to_string(region.size()) +
                                                  " bytes is smaller than the " +
                                                  std::to_string(g.region_bytes()) +
                                                  " bytes its geometry needs");
  if (reinterpret_cast<uintptr_t>(region.data()) % proto::kPageSize != 0)
    return make_error(Errc::kInvalidArgument, "shared region is not page aligned");
  RegionView v;
  v.control = reinterpret_cast<proto::ControlPage*>(region.data());
  v.requests = reinterpret_cast<proto::RequestSlot*>(region.data() + g.request_offset());
  v.responses = reinterpret_cast<proto::ResponseSlot*>(region.data() + g.response_offset());
  v.data = region.subspan(g.data_offset(), g.data_bytes());
  return v;
}

}  // namespace ringbox::ring
