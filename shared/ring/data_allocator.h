// DataAllocator: the frontend's private book-keeping of which data-area bytes belong to which
// in-flight request. The backend never sees it; it only checks that each request's buffer lies
// inside the data area.
//
// First-fit over a sorted free list of kBufferAlign-granular extents. allocate() blocks while
// the area is full (back-pressure, never an error); a request larger than a message may be is
// the caller's bug and fails at once.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>

#include "shared/util/result.h"

namespace ringbox::ring {

struct Extent {
  uint32_t offset = 0;
  uint32_t length = 0;
};

class DataAllocator {
 public:
  DataAllocator(uint32_t area_bytes, uint32_t max_message_bytes);

  // Blocks until `bytes` (rounded up to kBufferAlign, at least one unit) are free.
  Result<Extent> allocate(uint32_t bytes);
  void release(Extent e);
  // Wakes blocked allocators with Errc::kCancelled (connection going away).
  void cancel();
  uint32_t free_bytes() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint32_t, uint32_t> free_;  // offset -> length, non-adjacent
  uint32_t free_bytes_;
  const uint32_t max_message_bytes_;
  bool cancelled_ = false;
};

}  // namespace ringbox::ring
