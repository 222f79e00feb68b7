// The sanitize step for ring requests: turns the private copy of a guest-written slot into a
// Request whose payload and reply buffer provably lie inside the data area.
#pragma once

#include <span>

#include "shared/ring/layout.h"
#include "shared/rpc/handler.h"

namespace ringbox::rpc {

// untrusted_slot must already be a private copy (BackendRing::take_request). Checks: reserved
// fields zero, buffer aligned, inside the data area (64-bit arithmetic, no wrap), no larger than
// one message, in_len <= buf_len. The error's `what` says which rule was broken.
Result<Request> check_ring_request(const proto::RequestSlot& untrusted_slot,
                                   std::span<std::byte> data_area, const ring::Geometry& g);

}  // namespace ringbox::rpc
