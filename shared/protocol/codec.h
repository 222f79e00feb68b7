// Encoding and decoding of the file-operation payloads (opcodes 32..54 of ringbox_proto.h), for
// both ends: the host decodes request payloads and encodes replies; the guest agent encodes
// requests and decodes replies. One implementation, so both ends agree byte for byte.
//
// Trust: every decode_* function and DirentReader take bytes that are ALREADY PRIVATE (copied
// out of shared memory by the caller: rpc::SharedBytes::copy_string on the host, the RPC
// client's private reply buffer on the guest). They never see shared memory, check every
// length and field against the contract, and return a checked value or an Error. Encoders
// bound every write by the output span, fail rather than truncate, and never read the output
// back (it may be peer-writable).
//
// Errors: a failed check is an Error with code Errc::kProtocol and sys_errno set to the errno
// whose wire error the host answers with (EINVAL, ENAMETOOLONG, EOVERFLOW; EOPNOTSUPP for a
// fallocate mode the wire lacks) or, for replies the guest decodes, EPROTO. to_wire_error() turns
// any ringbox Error into the WireError to send; wire_error_from_errno() is THE errno -> WireError
// mapping of ringbox, and errno_from_wire_status() the guest's way back.
//
// Byte order: the wire is little-endian; structs move with memcpy, and codec.cc refuses to
// build on a big-endian target.
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/path/wire_path.h"
#include "shared/protocol/ringbox_proto.h"
#include "shared/util/result.h"

namespace ringbox::proto {

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------
// The errno -> WireError mapping. Errnos without a wire value become kIo.
WireError wire_error_from_errno(int err);
// Any ringbox Error -> WireError: its sys_errno when it has one, else by its Errc.
WireError to_wire_error(const Error& e);
// ResponseSlot::status value for a wire error (0 for kOk).
inline int32_t wire_status(WireError e) {
  return -static_cast<int32_t>(e);
}
// Guest side: ResponseSlot::status -> a local errno value. 0 for success; a status that is not
// a known WireError (a broken or newer host) becomes EIO rather than an arbitrary number.
int errno_from_wire_status(int32_t status);
// True for 0 and for minus each WireError ringbox_proto.h defines: the statuses a reply may
// carry.
bool is_wire_status(int32_t status);

// ---------------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------------
// What a canonical wire path is, and the path arithmetic: shared/path/wire_path.h.
// Checks a path copied out of a request; returns the checked copy.
// Errors: ENAMETOOLONG (too long, or a component too long), EINVAL (anything else).
Result<std::string> decode_path(std::string_view untrusted);
// A symlink target is link text, not a wire path: 1..kMaxPathBytes bytes, no NUL. (Whether the
// host accepts it is the host's policy; see kSymlink.)
Result<std::string> decode_link_target(std::string_view untrusted);

// Writes a path payload into out; returns the bytes written. Fails (EINVAL/ENAMETOOLONG) on a
// non-canonical path and EOVERFLOW when out is too small.
Result<size_t> encode_path(std::string_view path, std::span<std::byte> out);

// kRename payload: old path then new path, no separator; arg[0] = old path's length.
struct RenamePaths {
  std::string from;
  std::string to;
};
Result<RenamePaths> decode_rename(std::string_view untrusted_payload, uint64_t untrusted_from_len);
// Returns the payload bytes; the caller sets arg[0] = from.size().
Result<size_t> encode_rename(std::string_view from, std::string_view to, std::span<std::byte> out);

// kSymlink payload: link target then link path; arg[0] = target's length.
struct SymlinkPaths {
  std::string target;  // link text (decode_link_target rules)
  std::string link;    // canonical wire path of the new symlink
};
Result<SymlinkPaths> decode_symlink(std::string_view untrusted_payload,
                                    uint64_t untrusted_target_len);
// Returns the payload bytes; the caller sets arg[0] = target.size().
Result<size_t> encode_symlink(std::string_view target, std::string_view link,
                              std::span<std::byte> out);

// kLink payload (v2): the same layout as kRename (existing path then new path, arg[0] = the
// existing path's length), with the same checks.
using LinkPaths = RenamePaths;
Result<LinkPaths> decode_link(std::string_view untrusted_payload, uint64_t untrusted_from_len);
// Returns the payload bytes; the caller sets arg[0] = from.size().
Result<size_t> encode_link(std::string_view from, std::string_view to, std::span<std::byte> out);

// kSetattr payload (v2): WireSetattr, then the path (nothing when arg[0] is a handle).
// Writes sizeof(WireSetattr) + path.size() bytes. path is "" for a request by handle, else a
// canonical path. EINVAL when sa breaks the rules decode_setattr checks, EOVERFLOW when out is
// too small.
Result<size_t> encode_setattr(const WireSetattr& sa, std::string_view path,
                              std::span<std::byte> out);
struct SetattrRequest {
  WireSetattr attr{};
  std::string path;  // empty when by handle
};
// Checks valid (only kSetKnownBits), mode <= 07777, reserved == 0, and the path: by_handle,
// the payload is exactly sizeof(WireSetattr); otherwise a canonical path follows it. EINVAL
// (ENAMETOOLONG for a path too long) on any violation.
Result<SetattrRequest> decode_setattr(std::string_view untrusted_payload, bool by_handle);

// kPutfile payload: path (arg[0] bytes) then the chunk's data. Checks only the split, from
// sizes alone, so the host can copy the path part and leave the data where it is.
struct PutfileLayout {
  size_t path_len = 0;
  size_t data_off = 0;
  size_t data_len = 0;
};
Result<PutfileLayout> putfile_layout(size_t payload_size, uint64_t untrusted_path_len);

// ---------------------------------------------------------------------------------------------
// Open flags (kOpen arg[0])
// ---------------------------------------------------------------------------------------------
struct OpenIntent {
  bool read = false;
  bool write = false;
  bool create = false;
  bool exclusive = false;
  bool truncate = false;
  bool append = false;
  bool directory = false;
};
// Errors (EINVAL): unknown bits, neither read nor write, exclusive without create, append
// without write, directory together with write/create/truncate/append. Truncate without write
// is accepted (v2: open(2) truncates O_RDONLY|O_TRUNC; the host needs write access for it).
Result<OpenIntent> decode_open_flags(uint64_t untrusted_flags);
// Guest side: open(2) flags -> wire flags (O_ACCMODE, O_CREAT, O_EXCL, O_TRUNC, O_APPEND,
// O_DIRECTORY; everything else has no wire meaning and is dropped).
uint64_t wire_open_flags_from_posix(int o_flags);

// ---------------------------------------------------------------------------------------------
// Modes, rename and fallocate flags (v2)
// ---------------------------------------------------------------------------------------------
// Permission bits of kOpen arg[1], kMkdir arg[0], kPutfile arg[2] and WireSetattr::mode:
// 0..07777 (no file type bits), else EINVAL. See "Modes" in ringbox_proto.h.
inline constexpr uint32_t kMaxWireMode = 07777;
Result<uint32_t> decode_mode(uint64_t untrusted_mode);

// renameat2(2) flags -> kRename arg[1]: 0, RENAME_NOREPLACE or RENAME_EXCHANGE. EINVAL for
// RENAME_WHITEOUT, both together, or unknown bits (the kernel's own answer for those).
Result<uint64_t> wire_rename_flags_from_posix(unsigned flags);
// kRename arg[1] -> renameat2(2) flags. EINVAL for anything but 0, kRenameNoReplace or
// kRenameExchange.
Result<unsigned> posix_rename_flags_from_wire(uint64_t untrusted_flags);

// fallocate(2) mode -> kFallocate arg[3]. Accepted: 0, FALLOC_FL_KEEP_SIZE,
// FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE, FALLOC_FL_ZERO_RANGE[|FALLOC_FL_KEEP_SIZE].
// EOPNOTSUPP for every other mode (collapse, insert, unshare, punch without keep-size: the wire
// lacks them, and EOPNOTSUPP is what fallocate(2) answers for an unsupported mode).
Result<uint64_t> wire_fallocate_flags_from_posix(int mode);
// kFallocate arg[3] -> fallocate(2) mode. EINVAL for anything but the combinations above.
Result<int> posix_fallocate_mode_from_wire(uint64_t untrusted_flags);

// ---------------------------------------------------------------------------------------------
// WireStat
// ---------------------------------------------------------------------------------------------
// Times saturate at the int64 nanosecond range; nlink saturates at UINT32_MAX.
WireStat wire_stat_from(const struct stat& st);
// Writes sizeof(WireStat) bytes; EOVERFLOW when out is smaller.
Result<size_t> encode_wire_stat(const WireStat& ws, std::span<std::byte> out);
// Guest side: exactly sizeof(WireStat) bytes with a known file type in mode, else EPROTO.
Result<WireStat> decode_wire_stat(std::span<const std::byte> in);
// Guest side: WireStat -> struct stat for FUSE (st_blksize 4096; st_dev/st_rdev zero).
struct stat stat_from_wire(const WireStat& ws);

// ---------------------------------------------------------------------------------------------
// WireStatfs (kStatfs reply, v2)
// ---------------------------------------------------------------------------------------------
// Host side: the fields of statvfs(3) the wire carries (f_flag, f_fsid, f_favail are not).
WireStatfs wire_statfs_from(const struct statvfs& sv);
// Writes sizeof(WireStatfs) bytes; EOVERFLOW when out is smaller.
Result<size_t> encode_wire_statfs(const WireStatfs& s, std::span<std::byte> out);
// Guest side: exactly sizeof(WireStatfs) bytes, else EPROTO. The counts are taken as they are
// (any u64 is a count some file system may report).
Result<WireStatfs> decode_wire_statfs(std::span<const std::byte> in);
// Guest side: WireStatfs -> struct statvfs for FUSE (f_favail = f_ffree; f_flag, f_fsid 0).
struct statvfs statvfs_from_wire(const WireStatfs& s);

// ---------------------------------------------------------------------------------------------
// WireDirent records (kReaddir reply)
// ---------------------------------------------------------------------------------------------
// Size of one record with a name of name_len bytes: header + name + zero padding to 8.
constexpr size_t dirent_record_bytes(size_t name_len) {
  return sizeof(WireDirent) + ((name_len + 7) & ~size_t{7});
}
// The largest record; a reply buffer smaller than this may not hold even one entry.
inline constexpr size_t kMaxDirentRecordBytes = dirent_record_bytes(kMaxNameBytes);

struct Dirent {
  uint64_t ino = 0;
  uint64_t next_cookie = 0;
  uint8_t type = 0;  // DT_* value
  std::string name;
};

// Host side: packs records into out (which may be shared memory: written, never read back).
class DirentWriter {
 public:
  explicit DirentWriter(std::span<std::byte> out) : out_(out) {}
  // Appends one record. false (nothing written) when it does not fit; EINVAL for a name that
  // is_valid_name() refuses.
  Result<bool> append(uint64_t ino, uint64_t next_cookie, uint8_t type, std::string_view name);
  size_t bytes() const { return used_; }
  uint32_t count() const { return count_; }

 private:
  std::span<std::byte> out_;
  size_t used_ = 0;
  uint32_t count_ = 0;
};

// Guest side: walks the records of a private copy of a kReaddir reply. untrusted_count is the
// reply's val[0]. Every record is checked (header inside the payload, name_len 1..255, reserved
// and padding bytes zero, name valid per is_valid_name); the payload must hold exactly
// untrusted_count records and nothing after them. Any violation is EPROTO, and the reader
// stays failed.
class DirentReader {
 public:
  DirentReader(std::span<const std::byte> payload, uint64_t untrusted_count)
      : in_(payload), count_(untrusted_count) {}
  // Fills out and returns true, or returns false after the last record.
  Result<bool> next(Dirent& out);

 private:
  std::span<const std::byte> in_;
  uint64_t count_;
  uint64_t seen_ = 0;
  size_t pos_ = 0;
  bool failed_ = false;
};
// All records at once (DirentReader in a loop).
Result<std::vector<Dirent>> decode_dirents(std::span<const std::byte> payload,
                                           uint64_t untrusted_count);

}  // namespace ringbox::proto
