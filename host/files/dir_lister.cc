#include "host/files/dir_lister.h"

#include <dirent.h>  // getdents64 (glibc >= 2.30)
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <vector>

#include "shared/protocol/codec.h"
#include "shared/util/file_io.h"
#include "shared/util/log.h"

namespace ringbox::host::files {
namespace {

constexpr size_t kDentsBufferBytes = 32 * 1024;  // one getdents64 batch: a few hundred entries

// Offsets inside a struct linux_dirent64 record; read with memcpy (no alignment assumptions).
constexpr size_t kInoOffset = 0;
constexpr size_t kOffOffset = 8;
constexpr size_t kReclenOffset = 16;
constexpr size_t kTypeOffset = 18;
constexpr size_t kNameOffset = 19;

}  // namespace

Result<DirListing> list_directory(int dir_fd, uint64_t cookie, std::span<std::byte> out,
                                  const std::function<bool(std::string_view)>& keep) {
  if (cookie > static_cast<uint64_t>(INT64_MAX))
    return sys_error(EINVAL, "readdir cookie " + std::to_string(cookie) + " is out of range");
  if (::lseek(dir_fd, static_cast<off_t>(cookie), SEEK_SET) < 0)
    return sys_error("seek directory to cookie " + std::to_string(cookie));
  std::vector<char> buf(kDentsBufferBytes);
  proto::DirentWriter writer(out);
  DirListing listing;
  for (bool full = false; !full;) {
    ssize_t n = retry_eintr([&] { return ::getdents64(dir_fd, buf.data(), buf.size()); });
    if (n < 0) return sys_error("read directory entries");
    if (n == 0) {
      listing.at_end = true;
      break;
    }
    // The kernel wrote these records; still, never step outside what it said it wrote.
    for (size_t pos = 0; pos + kNameOffset < static_cast<size_t>(n);) {
      uint64_t ino, off;
      uint16_t reclen;
      std::memcpy(&ino, buf.data() + pos + kInoOffset, sizeof(ino));
      std::memcpy(&off, buf.data() + pos + kOffOffset, sizeof(off));
      std::memcpy(&reclen, buf.data() + pos + kReclenOffset, sizeof(reclen));
      uint8_t type = static_cast<uint8_t>(buf[pos + kTypeOffset]);
      if (reclen <= kNameOffset || pos + reclen > static_cast<size_t>(n)) {
        return sys_error(EIO, "directory record of length " + std::to_string(reclen) +
                                  " overruns the getdents64 buffer");
      }
      const char* name_start = buf.data() + pos + kNameOffset;
      std::string_view name(name_start, ::strnlen(name_start, reclen - kNameOffset));
      pos += reclen;
      if (name == "." || name == ".." || !keep(name)) continue;
      auto fit = writer.append(ino, off, type, name);
      if (!fit) {
        log::warn("skipping a directory entry: " + fit.error().message());
        continue;
      }
      if (!*fit) {
        full = true;
        break;
      }
    }
  }
  listing.count = writer.count();
  listing.bytes = writer.bytes();
  return listing;
}

}  // namespace ringbox::host::files
