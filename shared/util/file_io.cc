#include "shared/util/file_io.h"

#include <unistd.h>

#include <cerrno>

namespace ringbox {

Result<size_t> read_fully(int fd, std::span<std::byte> out, off_t offset) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd, out.data() + done, out.size() - done, offset + off_t(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (done > 0) break;  // report what was read; the next call will see the error
      return sys_error("pread");
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Result<size_t> write_fully(int fd, std::span<const std::byte> data, off_t offset) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, offset + off_t(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (done > 0) break;  // a short write is reported as such (val[0])
      return sys_error("pwrite");
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

}  // namespace ringbox
