// The restore file of a vacated job (docs/vacate.md): a fixed 4 KiB text header, then the
// libxl save stream exactly as libxl_domain_suspend wrote it.
//
//   ringbox-restore 1\n
//   memory-mib N\n        the saved domain's memory: the restore must ask for the same
//   vcpus N\n
//   compression none|zstd\n   zstd: the stream is one zstd frame (zstd_pipe.h)
//   stream-bytes N\n      the stream's length: a truncated file is refused before libxl reads it
//   (NUL padding to 4096 bytes)
//
// It is written as PATH.part and renamed to PATH only once complete and synced, so a save that
// was killed half-way leaves nothing a later run would trust (PATH.part is removed on the next
// run). Trust: a restore file comes back from elsewhere (HTCondor carries it): the header is
// parsed with bounds, and what libxl then rejects is reported and the job starts over.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "shared/util/result.h"
#include "shared/util/unique_fd.h"

namespace ringbox::host::run {

inline constexpr size_t kRestoreHeaderBytes = 4096;

struct RestoreHeader {
  uint32_t memory_mib = 0;
  uint32_t vcpus = 0;
  bool zstd = false;
  uint64_t stream_bytes = 0;  // as stored (compressed when zstd)
};

std::string format_restore_header(const RestoreHeader& h);
// `untrusted`: the header bytes; file_bytes: the whole file's size.
Result<RestoreHeader> parse_restore_header(std::string_view untrusted, uint64_t file_bytes);

// Writes PATH.part: the header, then whatever write_stream writes to the descriptor (positioned
// after the header), syncs it and renames it to PATH. Returns the file's size in bytes.
// The same into fd (open for reading and writing; what it held is truncated), without the rename:
// for a root service writing into a file its unprivileged client opened (host/service). `name`
// names the file in errors. The header is written last and the file synced.
Result<uint64_t> write_restore_fd(int fd, const std::string& name, RestoreHeader h,
                                  const std::function<Result<void>(int fd)>& write_stream);
Result<uint64_t> write_restore_file(const std::string& path, RestoreHeader h,
                                    const std::function<Result<void>(int fd)>& write_stream);

struct OpenedRestore {
  UniqueFd fd;  // positioned at the stream
  RestoreHeader header;
};
// Opens and checks PATH. Errc::kNotFound when there is none.
Result<OpenedRestore> open_restore_file(const std::string& path);
// Checks an open restore file (a regular file; its header, length and stream magic); `name`
// names it in errors.
Result<OpenedRestore> check_restore_fd(UniqueFd fd, const std::string& name);

}  // namespace ringbox::host::run
