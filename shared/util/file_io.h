// Whole-buffer pread/pwrite: retry EINTR and short transfers, stop at end of file. Used by the
// file service, whose buffers may be the ring's data area (file bytes are opaque: never
// interpreted, so they move between the data area and the file with no staging copy), and by
// the HTCondor wrapper's saved streams.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <span>

#include "shared/util/result.h"

namespace ringbox {

// Reads until out is full or end of file; returns the bytes read. An error after some bytes
// were read ends the read short (the next call sees the error).
Result<size_t> read_fully(int fd, std::span<std::byte> out, off_t offset);
// Writes all of data unless an error stops it; returns the bytes written. An error after some
// bytes were written is a short write, reported as such.
Result<size_t> write_fully(int fd, std::span<const std::byte> data, off_t offset);

}  // namespace ringbox
