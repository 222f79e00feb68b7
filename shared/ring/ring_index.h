// The index algorithm of a ring half, shared by FrontendRing (requests out, responses in) and
// BackendRing (requests in, responses out): the same three steps as xen/include/public/io/ring.h
// (RING_PUSH_*_AND_CHECK_NOTIFY, RING_FINAL_CHECK_FOR_*), written once. Indexes are free-running
// u32 counters; a slot is counter mod slots.
#pragma once

#include <cstdint>
#include <optional>

#include "shared/ring/shared_memory.h"
#include "shared/util/result.h"

namespace ringbox::ring::index {

// The slot a free-running counter names (slots is a power of two).
inline uint32_t slot(uint32_t counter, uint32_t slots) {
  return counter & (slots - 1);
}

// Producer: publishes new_prod and says whether the consumer asked to be kicked, i.e. its
// event threshold lies in (old_prod, new_prod] in wrapping arithmetic. Only we write prod; a
// peer scribbling on it only changes whether we kick.
inline bool publish(uint32_t& shared_prod, uint32_t new_prod, const uint32_t& shared_event) {
  uint32_t old_prod = load_acquire(shared_prod);
  // release: the peer sees the slots (and payloads) /before/ the index that covers them
  store_release(shared_prod, new_prod);
  // full: our prod store is visible /before/ we read the peer's event
  full_barrier();
  uint32_t event = load_acquire(shared_event);
  return static_cast<uint32_t>(new_prod - event) < static_cast<uint32_t>(new_prod - old_prod);
}

// Consumer: how many entries the peer's producer index claims beyond cons; nullopt when that
// is more than `limit` (the peer broke the ring). acquire: slots are read after the index.
inline std::optional<uint32_t> available(const uint32_t& shared_prod, uint32_t cons, uint32_t limit,
                                         uint32_t* prod_seen = nullptr) {
  uint32_t prod = load_acquire(shared_prod);
  if (prod_seen != nullptr) *prod_seen = prod;
  uint32_t avail = prod - cons;
  if (avail > limit) return std::nullopt;
  return avail;
}

// Consumer about to sleep: arms the event at cons + 1 and looks once more (avail() returns
// Result<uint32_t>). True means something arrived; the full barrier closes the lost-wake-up
// window between "empty" and "armed".
template <class Avail>
auto arm_and_recheck(uint32_t& shared_event, uint32_t cons, Avail avail) -> Result<bool> {
  auto n = avail();
  if (!n) return std::move(n.error());
  if (*n > 0) return true;
  store_release(shared_event, cons + 1);
  full_barrier();
  n = avail();
  if (!n) return std::move(n.error());
  return *n > 0;
}

}  // namespace ringbox::ring::index
