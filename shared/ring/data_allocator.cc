#include "shared/ring/data_allocator.h"

#include <iterator>
#include <string>

#include "shared/protocol/ringbox_proto.h"

namespace ringbox::ring {

DataAllocator::DataAllocator(uint32_t area_bytes, uint32_t max_message_bytes)
    : free_bytes_(area_bytes), max_message_bytes_(max_message_bytes) {
  free_.emplace(0, area_bytes);
}

Result<Extent> DataAllocator::allocate(uint32_t bytes) {
  constexpr uint32_t kAlign = proto::kBufferAlign;
  if (bytes > max_message_bytes_)
    return make_error(Errc::kTooLarge, "message of " + std::to_string(bytes) +
                                           " bytes exceeds the ring's limit of " +
                                           std::to_string(max_message_bytes_) + " bytes");
  uint32_t need = bytes == 0 ? kAlign : (bytes + kAlign - 1) & ~(kAlign - 1);
  std::unique_lock lk(mu_);
  for (;;) {
    if (cancelled_)
      return make_error(Errc::kCancelled, "connection closed while waiting for ring space");
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->second < need) continue;
      Extent e{it->first, need};
      uint32_t rest = it->second - need;
      uint32_t rest_off = it->first + need;
      free_.erase(it);
      if (rest > 0) free_.emplace(rest_off, rest);
      free_bytes_ -= need;
      return e;
    }
    cv_.wait(lk);
  }
}

void DataAllocator::release(Extent e) {
  {
    std::lock_guard lk(mu_);
    auto next = free_.lower_bound(e.offset);
    if (next != free_.begin()) {
      auto prev = std::prev(next);
      if (prev->first + prev->second == e.offset) {  // merge with the extent before
        e.offset = prev->first;
        e.length += prev->second;
        free_bytes_ -= prev->second;
        free_.erase(prev);
      }
    }
    if (next != free_.end() && e.offset + e.length == next->first) {  // and the one after
      e.length += next->second;
      free_bytes_ -= next->second;
      free_.erase(next);
    }
    free_.emplace(e.offset, e.length);
    free_bytes_ += e.length;
  }
  cv_.notify_all();
}

void DataAllocator::cancel() {
  {
    std::lock_guard lk(mu_);
    cancelled_ = true;
  }
  cv_.notify_all();
}

uint32_t DataAllocator::free_bytes() const {
  std::lock_guard lk(mu_);
  return free_bytes_;
}

}  // namespace ringbox::ring
