// UniqueFd: the one owner of a file descriptor.
//
// Move-only; the destructor closes without throwing. close() is explicit where its result
// matters (a file we wrote). A double close could close somebody else's descriptor, so
// release() hands ownership out and leaves this object empty.
#pragma once

#include <unistd.h>

#include <utility>

#include "shared/util/result.h"

namespace ringbox {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  Result<void> close() {
    int fd = std::exchange(fd_, -1);
    if (fd >= 0 && ::close(fd) != 0) return sys_error("close fd " + std::to_string(fd));
    return ok();
  }

 private:
  int fd_ = -1;
};

}  // namespace ringbox
