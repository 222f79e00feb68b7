#include "shared/protocol/codec.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>  // FALLOC_FL_*
#include <stdio.h>         // RENAME_* (glibc >= 2.28, _GNU_SOURCE)

#include <bit>
#include <climits>
#include <cstring>
#include <limits>

namespace ringbox::proto {

// The structs are copied as bytes; that is only the wire format on a little-endian host.
static_assert(std::endian::native == std::endian::little,
              "ringbox's wire format is little-endian; add byte swapping before porting");

namespace {

Error bad(int err, std::string what) {
  return Error{Errc::kProtocol, err, std::move(what)};
}

Result<size_t> put_bytes(std::span<std::byte> out, size_t off, std::string_view s) {
  if (off > out.size() || s.size() > out.size() - off)
    return bad(EOVERFLOW, "payload of " + std::to_string(off + s.size()) +
                              " bytes does not fit a " + std::to_string(out.size()) +
                              "-byte buffer");
  if (!s.empty()) std::memcpy(out.data() + off, s.data(), s.size());
  return off + s.size();
}

// Splits "first then second" at untrusted_first_len, checking the split before any use.
Result<std::pair<std::string_view, std::string_view>> split_pair(std::string_view payload,
                                                                 uint64_t untrusted_first_len,
                                                                 const char* what) {
  if (untrusted_first_len == 0 || untrusted_first_len >= payload.size())
    return bad(EINVAL, std::string(what) + ": first length " + std::to_string(untrusted_first_len) +
                           " does not split a " + std::to_string(payload.size()) +
                           "-byte payload in two");
  size_t first_len = static_cast<size_t>(untrusted_first_len);
  return std::pair{payload.substr(0, first_len), payload.substr(first_len)};
}

int64_t saturating_ns(int64_t sec, long nsec) {
  constexpr int64_t kNsPerSec = 1000000000;
  int64_t ns;
  if (__builtin_mul_overflow(sec, kNsPerSec, &ns) || __builtin_add_overflow(ns, nsec, &ns))
    return sec < 0 ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
  return ns;
}

bool known_file_type(uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
    case S_IFDIR:
    case S_IFLNK:
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
    case S_IFSOCK:
      return true;
    default:
      return false;
  }
}

}  // namespace

// ---- errors -----------------------------------------------------------------------------------

namespace {
// THE table of wire errors and the errno each stands for, both directions (the numbers are
// ringbox_proto.h's; the errno names are the host's and the guest's libc's).
struct WireErrno {
  WireError wire;
  int err;
};
constexpr WireErrno kWireErrno[] = {
    {WireError::kOk, 0},
    {WireError::kPerm, EPERM},
    {WireError::kNoEnt, ENOENT},
    {WireError::kIo, EIO},
    {WireError::kBadF, EBADF},
    {WireError::kAgain, EAGAIN},
    {WireError::kNoMem, ENOMEM},
    {WireError::kAcces, EACCES},
    {WireError::kExist, EEXIST},
    {WireError::kXDev, EXDEV},
    {WireError::kNotDir, ENOTDIR},
    {WireError::kIsDir, EISDIR},
    {WireError::kInval, EINVAL},
    {WireError::kMFile, EMFILE},
    {WireError::kFBig, EFBIG},
    {WireError::kNoSpc, ENOSPC},
    {WireError::kRoFs, EROFS},
    {WireError::kNameTooLong, ENAMETOOLONG},
    {WireError::kNoSys, ENOSYS},
    {WireError::kNotEmpty, ENOTEMPTY},
    {WireError::kLoop, ELOOP},
    {WireError::kProto, EPROTO},
    {WireError::kOverflow, EOVERFLOW},
    {WireError::kOpNotSupp, EOPNOTSUPP},  // == ENOTSUP on Linux
    {WireError::kStale, ESTALE},
};
}  // namespace

WireError wire_error_from_errno(int err) {
  if (err == ENFILE) return WireError::kMFile;  // the system's table, not ours: same answer
  if (err == EDQUOT) return WireError::kNoSpc;
  for (const auto& e : kWireErrno)
    if (e.err == err) return e.wire;
  return WireError::kIo;  // nothing host-specific leaks onto the wire
}

bool is_wire_status(int32_t status) {
  for (const auto& e : kWireErrno)
    if (status == -static_cast<int32_t>(e.wire)) return true;
  return false;
}

WireError to_wire_error(const Error& e) {
  if (e.sys_errno != 0) return wire_error_from_errno(e.sys_errno);
  switch (e.code) {
    case Errc::kInvalidArgument:
      return WireError::kInval;
    case Errc::kProtocol:
    case Errc::kPeerBroken:
      return WireError::kProto;
    case Errc::kNotFound:
      return WireError::kNoEnt;
    case Errc::kTooLarge:
      return WireError::kFBig;
    case Errc::kTimeout:
    case Errc::kCancelled:
      return WireError::kAgain;
    default:
      return WireError::kIo;
  }
}

int errno_from_wire_status(int32_t status) {
  if (status >= 0) return 0;
  for (const auto& e : kWireErrno)
    if (status == -static_cast<int32_t>(e.wire)) return e.err;
  return EIO;
}

// ---- paths ------------------------------------------------------------------------------------

Result<std::string> decode_path(std::string_view untrusted) {
  RINGBOX_TRY(check_wire_path(untrusted, "path"));
  return std::string(untrusted);
}

Result<std::string> decode_link_target(std::string_view untrusted) {
  RINGBOX_TRY(check_link_text(untrusted, "symlink target"));
  return std::string(untrusted);
}

Result<size_t> encode_path(std::string_view path, std::span<std::byte> out) {
  RINGBOX_TRY(check_wire_path(path, "path"));
  return put_bytes(out, 0, path);
}

Result<RenamePaths> decode_rename(std::string_view untrusted_payload, uint64_t untrusted_from_len) {
  auto parts = split_pair(untrusted_payload, untrusted_from_len, "rename payload");
  if (!parts) return std::move(parts.error());
  RINGBOX_TRY(check_wire_path(parts->first, "rename source path"));
  RINGBOX_TRY(check_wire_path(parts->second, "rename destination path"));
  return RenamePaths{std::string(parts->first), std::string(parts->second)};
}

Result<size_t> encode_rename(std::string_view from, std::string_view to, std::span<std::byte> out) {
  RINGBOX_TRY(check_wire_path(from, "rename source path"));
  RINGBOX_TRY(check_wire_path(to, "rename destination path"));
  auto n = put_bytes(out, 0, from);
  if (!n) return n;
  return put_bytes(out, *n, to);
}

Result<SymlinkPaths> decode_symlink(std::string_view untrusted_payload,
                                    uint64_t untrusted_target_len) {
  auto parts = split_pair(untrusted_payload, untrusted_target_len, "symlink payload");
  if (!parts) return std::move(parts.error());
  RINGBOX_TRY(check_link_text(parts->first, "symlink target"));
  RINGBOX_TRY(check_wire_path(parts->second, "symlink path"));
  return SymlinkPaths{std::string(parts->first), std::string(parts->second)};
}

Result<size_t> encode_symlink(std::string_view target, std::string_view link,
                              std::span<std::byte> out) {
  RINGBOX_TRY(check_link_text(target, "symlink target"));
  RINGBOX_TRY(check_wire_path(link, "symlink path"));
  auto n = put_bytes(out, 0, target);
  if (!n) return n;
  return put_bytes(out, *n, link);
}

Result<LinkPaths> decode_link(std::string_view untrusted_payload, uint64_t untrusted_from_len) {
  auto parts = split_pair(untrusted_payload, untrusted_from_len, "link payload");
  if (!parts) return std::move(parts.error());
  RINGBOX_TRY(check_wire_path(parts->first, "link existing path"));
  RINGBOX_TRY(check_wire_path(parts->second, "link new path"));
  return LinkPaths{std::string(parts->first), std::string(parts->second)};
}

Result<size_t> encode_link(std::string_view from, std::string_view to, std::span<std::byte> out) {
  RINGBOX_TRY(check_wire_path(from, "link existing path"));
  RINGBOX_TRY(check_wire_path(to, "link new path"));
  auto n = put_bytes(out, 0, from);
  if (!n) return n;
  return put_bytes(out, *n, to);
}

namespace {

Result<void> check_setattr(const WireSetattr& sa) {
  if ((sa.valid & ~uint32_t{kSetKnownBits}) != 0)
    return bad(EINVAL, "setattr valid bits " + std::to_string(sa.valid) + " have unknown bits");
  if (sa.mode > kMaxWireMode)
    return bad(EINVAL, "setattr mode " + std::to_string(sa.mode) + " is above 07777");
  if (sa.reserved != 0) return bad(EINVAL, "setattr reserved field is not zero");
  return ok();
}

}  // namespace

Result<size_t> encode_setattr(const WireSetattr& sa, std::string_view path,
                              std::span<std::byte> out) {
  RINGBOX_TRY(check_setattr(sa));
  if (!path.empty()) RINGBOX_TRY(check_wire_path(path, "setattr path"));
  if (out.size() < sizeof(WireSetattr))
    return bad(EOVERFLOW, "a " + std::to_string(out.size()) + "-byte buffer cannot hold a " +
                              std::to_string(sizeof(WireSetattr)) + "-byte WireSetattr");
  std::memcpy(out.data(), &sa, sizeof(sa));
  return put_bytes(out, sizeof(sa), path);
}

Result<SetattrRequest> decode_setattr(std::string_view untrusted_payload, bool by_handle) {
  if (untrusted_payload.size() < sizeof(WireSetattr))
    return bad(EINVAL, "setattr payload of " + std::to_string(untrusted_payload.size()) +
                           " bytes is shorter than a " + std::to_string(sizeof(WireSetattr)) +
                           "-byte WireSetattr");
  SetattrRequest r;
  std::memcpy(&r.attr, untrusted_payload.data(), sizeof(r.attr));
  RINGBOX_TRY(check_setattr(r.attr));
  std::string_view path = untrusted_payload.substr(sizeof(WireSetattr));
  if (by_handle) {
    if (!path.empty())
      return bad(EINVAL, "setattr by handle carries " + std::to_string(path.size()) +
                             " bytes after the WireSetattr (a path is only for arg[0] = 0)");
    return r;
  }
  RINGBOX_TRY(check_wire_path(path, "setattr path"));
  r.path = std::string(path);
  return r;
}

Result<PutfileLayout> putfile_layout(size_t payload_size, uint64_t untrusted_path_len) {
  if (untrusted_path_len == 0 || untrusted_path_len > kMaxPathBytes ||
      untrusted_path_len > payload_size)
    return bad(EINVAL, "putfile path length " + std::to_string(untrusted_path_len) +
                           " is outside 1.." + std::to_string(kMaxPathBytes) + " or beyond the " +
                           std::to_string(payload_size) + "-byte payload");
  size_t path_len = static_cast<size_t>(untrusted_path_len);
  return PutfileLayout{path_len, path_len, payload_size - path_len};
}

// ---- open flags -------------------------------------------------------------------------------

Result<OpenIntent> decode_open_flags(uint64_t untrusted_flags) {
  if ((untrusted_flags & ~uint64_t{kOpenKnownFlags}) != 0)
    return bad(EINVAL, "open flags " + std::to_string(untrusted_flags) + " have unknown bits");
  OpenIntent o;
  o.read = untrusted_flags & kOpenRead;
  o.write = untrusted_flags & kOpenWrite;
  o.create = untrusted_flags & kOpenCreate;
  o.exclusive = untrusted_flags & kOpenExclusive;
  o.truncate = untrusted_flags & kOpenTruncate;
  o.append = untrusted_flags & kOpenAppend;
  o.directory = untrusted_flags & kOpenDirectory;
  if (!o.read && !o.write) return bad(EINVAL, "open flags ask for neither read nor write");
  if (o.exclusive && !o.create) return bad(EINVAL, "open flags: exclusive without create");
  if (o.append && !o.write) return bad(EINVAL, "open flags: append without write");
  if (o.directory && (o.write || o.create || o.truncate || o.append))
    return bad(EINVAL, "open flags: a directory opens read-only");
  return o;
}

uint64_t wire_open_flags_from_posix(int o_flags) {
  uint64_t w = 0;
  switch (o_flags & O_ACCMODE) {
    case O_RDONLY:
      w |= kOpenRead;
      break;
    case O_WRONLY:
      w |= kOpenWrite;
      break;
    default:
      w |= kOpenRead | kOpenWrite;
      break;
  }
  if (o_flags & O_CREAT) w |= kOpenCreate;
  if (o_flags & O_EXCL) w |= kOpenExclusive;
  if (o_flags & O_TRUNC) w |= kOpenTruncate;
  if (o_flags & O_APPEND) w |= kOpenAppend;
  if (o_flags & O_DIRECTORY) w |= kOpenDirectory;
  return w;
}

// ---- modes, rename and fallocate flags ----------------------------------------------------------

Result<uint32_t> decode_mode(uint64_t untrusted_mode) {
  if (untrusted_mode > kMaxWireMode)
    return bad(EINVAL, "mode " + std::to_string(untrusted_mode) +
                           " is not permission bits (0..07777; no file type bits)");
  return static_cast<uint32_t>(untrusted_mode);
}

Result<uint64_t> wire_rename_flags_from_posix(unsigned flags) {
  switch (flags) {
    case 0:
      return uint64_t{0};
    case RENAME_NOREPLACE:
      return uint64_t{kRenameNoReplace};
    case RENAME_EXCHANGE:
      return uint64_t{kRenameExchange};
    default:
      return bad(EINVAL, "rename flags " + std::to_string(flags) +
                             " are not 0, RENAME_NOREPLACE or RENAME_EXCHANGE");
  }
}

Result<unsigned> posix_rename_flags_from_wire(uint64_t untrusted_flags) {
  switch (untrusted_flags) {
    case 0:
      return 0u;
    case kRenameNoReplace:
      return unsigned{RENAME_NOREPLACE};
    case kRenameExchange:
      return unsigned{RENAME_EXCHANGE};
    default:
      return bad(EINVAL, "rename flags " + std::to_string(untrusted_flags) +
                             " are not 0, kRenameNoReplace or kRenameExchange");
  }
}

namespace {
// The fallocate(2) modes the wire carries, in both spellings.
struct FallocPair {
  int posix;
  uint64_t wire;
};
constexpr FallocPair kFallocModes[] = {
    {0, 0},
    {FALLOC_FL_KEEP_SIZE, kFallocKeepSize},
    {FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, kFallocPunchHole | kFallocKeepSize},
    {FALLOC_FL_ZERO_RANGE, kFallocZeroRange},
    {FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, kFallocZeroRange | kFallocKeepSize},
};
}  // namespace

Result<uint64_t> wire_fallocate_flags_from_posix(int mode) {
  for (const auto& m : kFallocModes)
    if (m.posix == mode) return m.wire;
  return bad(EOPNOTSUPP, "fallocate mode " + std::to_string(mode) + " has no wire form");
}

Result<int> posix_fallocate_mode_from_wire(uint64_t untrusted_flags) {
  for (const auto& m : kFallocModes)
    if (m.wire == untrusted_flags) return m.posix;
  return bad(EINVAL, "fallocate flags " + std::to_string(untrusted_flags) +
                         " are not one of 0, keep-size, punch-hole|keep-size, zero-range"
                         "[|keep-size]");
}

// ---- WireStat ---------------------------------------------------------------------------------

WireStat wire_stat_from(const struct stat& st) {
  WireStat ws{};
  ws.ino = st.st_ino;
  ws.size = st.st_size < 0 ? 0 : static_cast<uint64_t>(st.st_size);
  ws.blocks = st.st_blocks < 0 ? 0 : static_cast<uint64_t>(st.st_blocks);
  ws.atime_ns = saturating_ns(st.st_atim.tv_sec, st.st_atim.tv_nsec);
  ws.mtime_ns = saturating_ns(st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  ws.ctime_ns = saturating_ns(st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
  ws.mode = st.st_mode;
  ws.nlink = st.st_nlink > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(st.st_nlink);
  ws.uid = st.st_uid;
  ws.gid = st.st_gid;
  return ws;
}

Result<size_t> encode_wire_stat(const WireStat& ws, std::span<std::byte> out) {
  if (out.size() < sizeof(WireStat))
    return bad(EOVERFLOW, "a " + std::to_string(out.size()) + "-byte buffer cannot hold a " +
                              std::to_string(sizeof(WireStat)) + "-byte WireStat");
  std::memcpy(out.data(), &ws, sizeof(ws));
  return sizeof(WireStat);
}

Result<WireStat> decode_wire_stat(std::span<const std::byte> in) {
  if (in.size() != sizeof(WireStat))
    return bad(EPROTO, "WireStat reply is " + std::to_string(in.size()) + " bytes, not " +
                           std::to_string(sizeof(WireStat)));
  WireStat ws;
  std::memcpy(&ws, in.data(), sizeof(ws));
  if (!known_file_type(ws.mode))
    return bad(EPROTO, "WireStat mode " + std::to_string(ws.mode) + " has no known file type");
  return ws;
}

struct stat stat_from_wire(const WireStat& ws) {
  struct stat st {};
  constexpr int64_t kNsPerSec = 1000000000;
  auto split = [](int64_t ns, struct timespec& ts) {
    // floor division, so a time before the epoch keeps 0 <= tv_nsec < 1e9
    int64_t sec = ns / kNsPerSec, rem = ns % kNsPerSec;
    if (rem < 0) {
      rem += kNsPerSec;
      --sec;
    }
    ts.tv_sec = static_cast<time_t>(sec);
    ts.tv_nsec = static_cast<long>(rem);
  };
  st.st_ino = ws.ino;
  st.st_size = ws.size > static_cast<uint64_t>(std::numeric_limits<off_t>::max())
                   ? std::numeric_limits<off_t>::max()
                   : static_cast<off_t>(ws.size);
  st.st_blocks = ws.blocks > static_cast<uint64_t>(std::numeric_limits<blkcnt_t>::max())
                     ? std::numeric_limits<blkcnt_t>::max()
                     : static_cast<blkcnt_t>(ws.blocks);
  st.st_blksize = 4096;
  split(ws.atime_ns, st.st_atim);
  split(ws.mtime_ns, st.st_mtim);
  split(ws.ctime_ns, st.st_ctim);
  st.st_mode = ws.mode;
  st.st_nlink = ws.nlink;
  st.st_uid = ws.uid;
  st.st_gid = ws.gid;
  return st;
}

// ---- WireStatfs --------------------------------------------------------------------------------

WireStatfs wire_statfs_from(const struct statvfs& sv) {
  WireStatfs s{};
  s.bsize = sv.f_bsize;
  s.frsize = sv.f_frsize;
  s.blocks = sv.f_blocks;
  s.bfree = sv.f_bfree;
  s.bavail = sv.f_bavail;
  s.files = sv.f_files;
  s.ffree = sv.f_ffree;
  s.namemax = sv.f_namemax;
  return s;
}

Result<size_t> encode_wire_statfs(const WireStatfs& s, std::span<std::byte> out) {
  if (out.size() < sizeof(WireStatfs))
    return bad(EOVERFLOW, "a " + std::to_string(out.size()) + "-byte buffer cannot hold a " +
                              std::to_string(sizeof(WireStatfs)) + "-byte WireStatfs");
  std::memcpy(out.data(), &s, sizeof(s));
  return sizeof(WireStatfs);
}

Result<WireStatfs> decode_wire_statfs(std::span<const std::byte> in) {
  if (in.size() != sizeof(WireStatfs))
    return bad(EPROTO, "WireStatfs reply is " + std::to_string(in.size()) + " bytes, not " +
                           std::to_string(sizeof(WireStatfs)));
  WireStatfs s;
  std::memcpy(&s, in.data(), sizeof(s));
  return s;
}

struct statvfs statvfs_from_wire(const WireStatfs& s) {
  struct statvfs sv {};
  sv.f_bsize = s.bsize;
  sv.f_frsize = s.frsize;
  sv.f_blocks = s.blocks;
  sv.f_bfree = s.bfree;
  sv.f_bavail = s.bavail;
  sv.f_files = s.files;
  sv.f_ffree = s.ffree;
  sv.f_favail = s.ffree;
  sv.f_namemax = s.namemax;
  return sv;
}

// ---- WireDirent -------------------------------------------------------------------------------

Result<bool> DirentWriter::append(uint64_t ino, uint64_t next_cookie, uint8_t type,
                                  std::string_view name) {
  if (!is_valid_name(name))
    return bad(EINVAL, "directory entry name of " + std::to_string(name.size()) +
                           " bytes is not a valid name");
  size_t need = dirent_record_bytes(name.size());
  if (need > out_.size() - used_) return false;
  WireDirent h{};
  h.ino = ino;
  h.next_cookie = next_cookie;
  h.name_len = static_cast<uint16_t>(name.size());
  h.type = type;
  std::byte* p = out_.data() + used_;
  std::memcpy(p, &h, sizeof(h));
  std::memcpy(p + sizeof(h), name.data(), name.size());
  size_t pad = need - sizeof(h) - name.size();
  if (pad > 0) std::memset(p + sizeof(h) + name.size(), 0, pad);  // no stale bytes reach the peer
  used_ += need;
  ++count_;
  return true;
}

Result<bool> DirentReader::next(Dirent& out) {
  if (failed_) return bad(EPROTO, "readdir reply already found malformed");
  auto fail = [&](std::string why) -> Result<bool> {
    failed_ = true;
    return bad(EPROTO, "readdir reply record " + std::to_string(seen_) + ": " + why);
  };
  if (seen_ == count_) {
    if (pos_ != in_.size())
      return fail(std::to_string(in_.size() - pos_) + " bytes follow the last of " +
                  std::to_string(count_) + " records");
    return false;
  }
  if (in_.size() - pos_ < sizeof(WireDirent))
    return fail("header runs past the end of the " + std::to_string(in_.size()) +
                "-byte payload (count says " + std::to_string(count_) + ")");
  WireDirent h;
  std::memcpy(&h, in_.data() + pos_, sizeof(h));
  if (h.name_len == 0 || h.name_len > kMaxNameBytes)
    return fail("name_len " + std::to_string(h.name_len) + " is outside 1..255");
  for (uint8_t r : h.reserved)
    if (r != 0) return fail("reserved bytes are not zero");
  size_t need = dirent_record_bytes(h.name_len);
  if (in_.size() - pos_ < need) return fail("name runs past the end of the payload");
  const std::byte* name = in_.data() + pos_ + sizeof(h);
  for (size_t i = h.name_len; i < need - sizeof(h); ++i)
    if (name[i] != std::byte{0}) return fail("padding bytes are not zero");
  std::string n(reinterpret_cast<const char*>(name), h.name_len);
  if (!is_valid_name(n)) return fail("name is '.', '..' or contains '/' or NUL");
  out.ino = h.ino;
  out.next_cookie = h.next_cookie;
  out.type = h.type;
  out.name = std::move(n);
  pos_ += need;
  ++seen_;
  return true;
}

Result<std::vector<Dirent>> decode_dirents(std::span<const std::byte> payload,
                                           uint64_t untrusted_count) {
  // Each record takes at least 32 bytes, so a count the payload cannot hold is refused before
  // anything is reserved for it.
  if (untrusted_count > payload.size() / dirent_record_bytes(1))
    return bad(EPROTO, "readdir reply claims " + std::to_string(untrusted_count) + " records in " +
                           std::to_string(payload.size()) + " bytes");
  std::vector<Dirent> all;
  all.reserve(static_cast<size_t>(untrusted_count));
  DirentReader reader(payload, untrusted_count);
  for (;;) {
    Dirent d;
    auto more = reader.next(d);
    if (!more) return std::move(more.error());
    if (!*more) return all;
    all.push_back(std::move(d));
  }
}

}  // namespace ringbox::proto
