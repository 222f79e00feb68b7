// Directory listing for kReaddir: getdents64(2) from a cookie, packed as WireDirent records.
//
// Stateless: the cookie is the file system's own directory offset (d_off), so the host keeps
// nothing between calls and the guest can resume, repeat or abandon a listing at will. "." and
// ".." are never listed (the guest synthesises them).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "shared/util/result.h"

namespace ringbox::host::files {

struct DirListing {
  uint32_t count = 0;   // records written
  size_t bytes = 0;     // bytes of out used
  bool at_end = false;  // no entries after the last record
};

// Lists dir_fd (opened O_RDONLY|O_DIRECTORY, private to this call) from cookie into out, which
// may be shared memory (written, never read back). keep(name) decides which entries are shown.
Result<DirListing> list_directory(int dir_fd, uint64_t cookie, std::span<std::byte> out,
                                  const std::function<bool(std::string_view)>& keep);

}  // namespace ringbox::host::files
