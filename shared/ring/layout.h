// Region geometry: where the control page, the slot arrays and the data area sit in the shared
// region (layout fixed in shared/protocol/ringbox_proto.h). Pure arithmetic: no shared-memory
// access, so both ends and the tests compute the same offsets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "shared/protocol/ringbox_proto.h"
#include "shared/util/result.h"

namespace ringbox::ring {

struct Geometry {
  uint32_t ring_order = proto::kDefaultRingOrder;
  uint32_t data_pages = proto::kDefaultDataPages;

  uint32_t slots() const { return 1u << ring_order; }
  size_t request_pages() const;
  size_t response_pages() const;
  size_t total_pages() const;
  size_t region_bytes() const { return total_pages() * proto::kPageSize; }
  size_t request_offset() const { return proto::kPageSize; }
  size_t response_offset() const { return request_offset() + request_pages() * proto::kPageSize; }
  size_t data_offset() const { return response_offset() + response_pages() * proto::kPageSize; }
  size_t data_bytes() const { return size_t{data_pages} * proto::kPageSize; }
  // Largest buffer one message may use (a quarter of the data area, rounded to kBufferAlign).
  uint32_t max_message_bytes() const;
};

// Checks a geometry received from the peer (or a command line) against the protocol bounds.
Result<Geometry> validate_geometry(uint32_t ring_order, uint32_t data_pages);

// Typed views of a mapped region. The pointers refer to shared memory: read them only through
// shared_memory.h.
struct RegionView {
  proto::ControlPage* control = nullptr;
  proto::RequestSlot* requests = nullptr;
  proto::ResponseSlot* responses = nullptr;
  std::span<std::byte> data;
};

// Fails when the region is smaller than the geometry needs or not page aligned.
Result<RegionView> view_region(std::span<std::byte> region, const Geometry& g);

}  // namespace ringbox::ring
