// The only code in ringbox that reads or writes memory the peer can also write.
//
// Two rules make a hostile peer harmless (XSA-155, CVE-2015-8550: backends that read a
// guest-writable field twice):
//   1. Indexes are read once, with acquire ordering, into a local variable; the local value is
//      range-checked and then used. Nothing re-reads the shared word.
//   2. Slots and any metadata the reader interprets are copied into private memory with
//      copy_from_shared(), and only the copy is validated and used. The compiler barrier after
//      the copy forbids the optimiser from turning later reads of the private copy back into
//      reads of shared memory (what a volatile copy achieves in ring.h's RING_COPY_REQUEST).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace ringbox::ring {

inline uint32_t load_acquire(const uint32_t& shared) {
  return std::atomic_ref<const uint32_t>(shared).load(std::memory_order_acquire);
}

inline void store_release(uint32_t& shared, uint32_t value) {
  std::atomic_ref<uint32_t>(shared).store(value, std::memory_order_release);
}

inline uint8_t load_byte(const uint8_t& shared) {
  return std::atomic_ref<const uint8_t>(shared).load(std::memory_order_acquire);
}

inline void store_byte(uint8_t& shared, uint8_t value) {
  std::atomic_ref<uint8_t>(shared).store(value, std::memory_order_release);
}

// Full barrier: our store of an index or event must be visible before we read the peer's.
inline void full_barrier() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

inline void copy_from_shared(void* dst, const void* shared_src, size_t n) {
  if (n == 0) return;  // empty spans may carry null pointers, which memcpy must not see
  std::memcpy(dst, shared_src, n);
  asm volatile("" ::: "memory");  // the private copy is the only source of truth from here on
}

inline void copy_to_shared(void* shared_dst, const void* src, size_t n) {
  if (n == 0) return;
  std::memcpy(shared_dst, src, n);
}

template <class T>
T copy_struct_from_shared(const T& shared) {
  T local;
  copy_from_shared(&local, &shared, sizeof(T));
  return local;
}

}  // namespace ringbox::ring
