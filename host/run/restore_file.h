// The restore file of a vacated job (docs/vacate.md): a fixed 4 KiB text header, then the
// libxl save stream exactly as libxl_domain_suspend wrote it.
//
//   ringbox-restore 2\n
//   memory-mib N\n        the saved domain's memory: the restore must ask for the same
//   vcpus N\n
//   compression none|zstd\n   zstd: the stream is one zstd frame (zstd_pipe.h)
//   stream-bytes N\n      the stream's length: a truncated file is refused before libxl reads it
//   mac hmac-sha256 H\n   H: 64 hex digits, HMAC-SHA256 under the execute point's restore key
//                         (restore_key.h) of the stream, then of the four lines above it
//   (NUL padding to 4096 bytes)
//
// It is written as PATH.part and renamed to PATH only once complete and synced, so a save that
// was killed half-way leaves nothing a later run would trust (PATH.part is removed on the next
// run). Trust: a restore file comes back from elsewhere (HTCondor carries it): the header is
// parsed with bounds; the stream is copied into private memory and its MAC checked there before
// libxl reads a byte, and what libxl then rejects is reported and the job starts over.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "host/run/restore_key.h"
#include "shared/util/result.h"
#include "shared/util/unique_fd.h"

namespace ringbox::host::run {

inline constexpr size_t kRestoreHeaderBytes = 4096;
// The header's own bounds: a domain of at most 1 TiB and 128 vCPUs.
inline constexpr uint32_t kMaxRestoreMemoryMib = 1u << 20;
inline constexpr uint32_t kMaxRestoreVcpus = 128;

struct RestoreHeader {
  uint32_t memory_mib = 0;
  uint32_t vcpus = 0;
  bool zstd = false;
  uint64_t stream_bytes = 0;  // as stored (compressed when zstd)
  RestoreMacValue mac{};
};

std::string format_restore_header(const RestoreHeader& h);
// The header's lines that the MAC covers after the stream (all but the mac line).
std::string restore_header_fields(const RestoreHeader& h);
// `untrusted`: the header bytes; file_bytes: the whole file's size.
Result<RestoreHeader> parse_restore_header(std::string_view untrusted, uint64_t file_bytes);

// Writes PATH.part: the header, then what write_stream writes into the pipe it is given (passed
// on into the file and into the MAC under key as it comes, so the MAC is of the bytes this
// process wrote, whoever else holds the file), syncs it and renames it to PATH. Returns the
// file's size in bytes.
// The same into fd (what it held is truncated), without the rename: for a root service writing
// into a file its unprivileged client opened (host/service). `name` names the file in errors.
// The header is written last and the file synced.
Result<uint64_t> write_restore_fd(int fd, const std::string& name, RestoreHeader h,
                                  const RestoreKey& key,
                                  const std::function<Result<void>(int fd)>& write_stream);
Result<uint64_t> write_restore_file(const std::string& path, RestoreHeader h, const RestoreKey& key,
                                    const std::function<Result<void>(int fd)>& write_stream);

struct OpenedRestore {
  UniqueFd fd;  // positioned at the stream's start: the file itself, or a sealed private copy
  RestoreHeader header;
};
// Opens and checks PATH. Errc::kNotFound when there is none.
Result<OpenedRestore> open_restore_file(const std::string& path, const std::string& key_file,
                                        uint32_t max_memory_mib = kMaxRestoreMemoryMib,
                                        uint32_t max_vcpus = kMaxRestoreVcpus);
// Checks an open restore file: a regular file; its header; a domain of at most max_memory_mib
// and max_vcpus, and a stream no longer than such a domain's save; the MAC under the key in
// key_file (load_restore_key), in a first pass that keeps nothing. A file that someone else
// could have open for writing (not ours, or group/other-writable) is then copied into a sealed
// memfd with the MAC checked again on the copy, which is what the caller hands libxl; a file
// only we could write is handed on itself. Then the stream's magic. `name` names it in errors.
// Errors: Errc::kInvalidArgument when the file is damaged, forged, or larger than allowed (set
// it aside); any other code is this machine's failure (the key file, memory, I/O): the file
// may be good, keep it.
Result<OpenedRestore> check_restore_fd(UniqueFd fd, const std::string& name,
                                       const std::string& key_file,
                                       uint32_t max_memory_mib = kMaxRestoreMemoryMib,
                                       uint32_t max_vcpus = kMaxRestoreVcpus);

}  // namespace ringbox::host::run
