// Whole-buffer pread/pwrite for the file service: retry EINTR and short transfers, stop at end
// of file. The buffers may be the ring's data area (file bytes are opaque: never interpreted,
// so they move between the data area and the file with no staging copy).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <span>

#include "shared/util/result.h"

namespace ringbox::host::files {

// Reads until out is full or end of file; returns the bytes read. An error after some bytes
// were read ends the read short (the next call sees the error).
Result<size_t> read_fully(int fd, std::span<std::byte> out, off_t offset);
// Writes all of data unless an error stops it; returns the bytes written. An error after some
// bytes were written is a short write, reported as such.
Result<size_t> write_fully(int fd, std::span<const std::byte> data, off_t offset);

}  // namespace ringbox::host::files
