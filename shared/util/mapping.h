// Mapping: an owned mmap()ed range, handed out as std::span<std::byte>.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <span>
#include <utility>

#include "shared/util/result.h"

namespace ringbox {

class Mapping {
 public:
  Mapping() = default;
  Mapping(void* addr, size_t len) : addr_(addr), len_(len) {}
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  Mapping(Mapping&& o) noexcept
      : addr_(std::exchange(o.addr_, nullptr)), len_(std::exchange(o.len_, 0)) {}
  Mapping& operator=(Mapping&& o) noexcept {
    if (this != &o) {
      reset();
      addr_ = std::exchange(o.addr_, nullptr);
      len_ = std::exchange(o.len_, 0);
    }
    return *this;
  }
  ~Mapping() { reset(); }

  // Maps len bytes of fd (MAP_SHARED, read-write).
  static Result<Mapping> map_shared(int fd, size_t len, const char* what);

  std::span<std::byte> bytes() const { return {static_cast<std::byte*>(addr_), len_}; }
  explicit operator bool() const { return addr_ != nullptr; }
  void reset() {
    if (addr_ != nullptr) ::munmap(addr_, len_);
    addr_ = nullptr;
    len_ = 0;
  }

 private:
  void* addr_ = nullptr;
  size_t len_ = 0;
};

inline Result<Mapping> Mapping::map_shared(int fd, size_t len, const char* what) {
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return sys_error(std::string("mmap ") + what);
  return Mapping(p, len);
}

}  // namespace ringbox
