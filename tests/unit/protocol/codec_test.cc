// The file-payload codec both ends share: what it accepts, what it refuses, and that a decoder
// never reads past what it was given (these run under ASan/UBSan).
#include "shared/protocol/codec.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <sys/statvfs.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

using namespace ringbox;
using namespace ringbox::proto;

TEST_CASE("canonical paths are accepted as they are", "[codec]") {
  for (const char* p : {".", "a", "a/b", "in/sub/b.txt", "...", "a/..b", "a/b..", ".hidden"}) {
    CAPTURE(p);
    auto d = decode_path(p);
    REQUIRE(d);
    CHECK(*d == p);
  }
  std::string longest(kMaxPathBytes, 'x');
  for (size_t i = 200; i + 1 < longest.size(); i += 201) longest[i] = '/';
  CHECK(decode_path(longest));
}

TEST_CASE("tricky path forms are refused, never repaired", "[codec]") {
  for (const char* p : {"/etc/passwd", "/", "a/", "a//b", "./a", "a/.", "a/./b", "..", "../a",
                        "a/..", "a/../b", "//", "a/b/"}) {
    CAPTURE(p);
    auto d = decode_path(p);
    REQUIRE_FALSE(d);
    CHECK(to_wire_error(d.error()) == WireError::kInval);
  }
  auto empty = decode_path("");
  REQUIRE_FALSE(empty);
  CHECK(to_wire_error(empty.error()) == WireError::kInval);
}

TEST_CASE("a path with a NUL byte is refused", "[codec]") {
  std::string p("in/a\0b", 6);
  auto d = decode_path(p);
  REQUIRE_FALSE(d);
  CHECK(to_wire_error(d.error()) == WireError::kInval);
  CHECK_FALSE(decode_link_target(p));
}

TEST_CASE("overlong paths and components are kNameTooLong", "[codec]") {
  auto too_long = decode_path(std::string(kMaxPathBytes + 1, 'a'));
  REQUIRE_FALSE(too_long);
  CHECK(to_wire_error(too_long.error()) == WireError::kNameTooLong);
  auto comp = decode_path("a/" + std::string(kMaxNameBytes + 1, 'b'));
  REQUIRE_FALSE(comp);
  CHECK(to_wire_error(comp.error()) == WireError::kNameTooLong);
  CHECK(decode_path("a/" + std::string(kMaxNameBytes, 'b')));
}

TEST_CASE("rename payloads split exactly at the given length", "[codec]") {
  std::vector<std::byte> buf(64);
  auto n = encode_rename("in/a", "out/b", buf);
  REQUIRE(n);
  CHECK(*n == 9);
  std::string payload(reinterpret_cast<const char*>(buf.data()), *n);
  auto d = decode_rename(payload, 4);
  REQUIRE(d);
  CHECK(d->from == "in/a");
  CHECK(d->to == "out/b");
  // A split that leaves either side empty, or lands beyond the payload, is refused.
  for (uint64_t bad : {uint64_t{0}, uint64_t{9}, uint64_t{10}, ~uint64_t{0}}) {
    CAPTURE(bad);
    CHECK_FALSE(decode_rename(payload, bad));
  }
  // A split in the wrong place makes non-canonical halves, which are refused too.
  CHECK_FALSE(decode_rename(payload, 3));  // "in/" + "aout/b"
}

TEST_CASE("symlink payloads carry free-form link text but a canonical link path", "[codec]") {
  std::vector<std::byte> buf(64);
  auto n = encode_symlink("../in//a.txt", "out/l", buf);
  REQUIRE(n);
  std::string payload(reinterpret_cast<const char*>(buf.data()), *n);
  auto d = decode_symlink(payload, 12);
  REQUIRE(d);
  CHECK(d->target == "../in//a.txt");
  CHECK(d->link == "out/l");
  CHECK_FALSE(encode_symlink("x", "out/../l", buf));
  CHECK_FALSE(encode_symlink("", "out/l", buf));
}

TEST_CASE("encoders refuse to overflow the output buffer", "[codec]") {
  std::vector<std::byte> small(4);
  auto p = encode_path("in/a.txt", small);
  REQUIRE_FALSE(p);
  CHECK(to_wire_error(p.error()) == WireError::kOverflow);
  CHECK_FALSE(encode_rename("a", "bcdef", small));
  CHECK_FALSE(encode_wire_stat(WireStat{}, std::span<std::byte>(small)));
  CHECK_FALSE(encode_path("/abs", std::span<std::byte>(small)));
}

TEST_CASE("putfile layout checks the path length against the payload", "[codec]") {
  auto l = putfile_layout(100, 10);
  REQUIRE(l);
  CHECK(l->path_len == 10);
  CHECK(l->data_off == 10);
  CHECK(l->data_len == 90);
  CHECK(putfile_layout(10, 10));  // an empty chunk is fine
  CHECK_FALSE(putfile_layout(100, 0));
  CHECK_FALSE(putfile_layout(100, 101));
  CHECK_FALSE(putfile_layout(100000, kMaxPathBytes + 1));
  CHECK_FALSE(putfile_layout(100, ~uint64_t{0}));
}

TEST_CASE("open flags decode only sensible combinations", "[codec]") {
  auto rw = decode_open_flags(kOpenRead | kOpenWrite | kOpenCreate | kOpenTruncate);
  REQUIRE(rw);
  CHECK(rw->read);
  CHECK(rw->write);
  CHECK(rw->create);
  CHECK(rw->truncate);
  CHECK(decode_open_flags(kOpenRead | kOpenDirectory));
  for (uint64_t bad : {uint64_t{0}, uint64_t{kOpenCreate}, uint64_t{kOpenRead | kOpenAppend},
                       uint64_t{kOpenWrite | kOpenExclusive}, uint64_t{kOpenWrite | kOpenDirectory},
                       uint64_t{1} << 7, ~uint64_t{0}}) {
    CAPTURE(bad);
    auto d = decode_open_flags(bad);
    REQUIRE_FALSE(d);
    CHECK(to_wire_error(d.error()) == WireError::kInval);
  }
}

TEST_CASE("posix open flags map onto wire flags", "[codec]") {
  CHECK(wire_open_flags_from_posix(O_RDONLY) == kOpenRead);
  CHECK(wire_open_flags_from_posix(O_WRONLY | O_CREAT | O_TRUNC) ==
        (kOpenWrite | kOpenCreate | kOpenTruncate));
  CHECK(wire_open_flags_from_posix(O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW) ==
        (kOpenRead | kOpenWrite | kOpenAppend));
  CHECK(decode_open_flags(wire_open_flags_from_posix(O_RDWR | O_CREAT | O_EXCL)));
}

TEST_CASE("a WireStat survives the round trip through struct stat", "[codec]") {
  struct stat st {};
  st.st_ino = 42;
  st.st_size = 12345;
  st.st_blocks = 24;
  st.st_mode = S_IFREG | 0640;
  st.st_nlink = 3;
  st.st_uid = 1000;
  st.st_gid = 100;
  st.st_mtim = {1700000000, 123456789};
  st.st_atim = {-2, 5};  // before the epoch
  WireStat ws = wire_stat_from(st);
  CHECK(ws.mtime_ns == 1700000000123456789);
  CHECK(ws.atime_ns == -1999999995);
  std::vector<std::byte> buf(sizeof(WireStat));
  REQUIRE(encode_wire_stat(ws, buf));
  auto back = decode_wire_stat(buf);
  REQUIRE(back);
  struct stat st2 = stat_from_wire(*back);
  CHECK(st2.st_ino == 42);
  CHECK(st2.st_size == 12345);
  CHECK(st2.st_mode == (S_IFREG | 0640));
  CHECK(st2.st_nlink == 3);
  CHECK(st2.st_mtim.tv_sec == 1700000000);
  CHECK(st2.st_mtim.tv_nsec == 123456789);
  CHECK(st2.st_atim.tv_sec == -2);
  CHECK(st2.st_atim.tv_nsec == 5);
}

TEST_CASE("times outside the nanosecond range saturate instead of overflowing", "[codec]") {
  struct stat st {};
  st.st_mode = S_IFREG;
  st.st_mtim = {INT64_MAX / 2, 0};
  st.st_ctim = {INT64_MIN / 2, 0};
  WireStat ws = wire_stat_from(st);
  CHECK(ws.mtime_ns == INT64_MAX);
  CHECK(ws.ctime_ns == INT64_MIN);
}

TEST_CASE("a WireStat reply of the wrong size or an unknown type is refused", "[codec]") {
  std::vector<std::byte> buf(sizeof(WireStat) + 1);
  WireStat ws{};
  ws.mode = S_IFDIR | 0755;
  std::memcpy(buf.data(), &ws, sizeof(ws));
  CHECK(decode_wire_stat(std::span(buf).first(sizeof(WireStat))));
  CHECK_FALSE(decode_wire_stat(buf));
  CHECK_FALSE(decode_wire_stat(std::span(buf).first(sizeof(WireStat) - 1)));
  ws.mode = 0170000 | 0644;  // S_IFMT all ones: no such type
  std::memcpy(buf.data(), &ws, sizeof(ws));
  auto d = decode_wire_stat(std::span(buf).first(sizeof(WireStat)));
  REQUIRE_FALSE(d);
  CHECK(to_wire_error(d.error()) == WireError::kProto);
}

TEST_CASE("dirent records round-trip through writer and reader", "[codec]") {
  std::vector<std::byte> buf(4096, std::byte{0xAA});  // stale bytes must not leak into padding
  DirentWriter w(buf);
  REQUIRE(*w.append(1, 10, DT_REG, "a"));
  REQUIRE(*w.append(2, 20, DT_DIR, "eight888"));
  REQUIRE(*w.append(3, 30, DT_LNK, std::string(255, 'z')));
  CHECK(w.count() == 3);
  CHECK(w.bytes() == dirent_record_bytes(1) + dirent_record_bytes(8) + dirent_record_bytes(255));
  auto all = decode_dirents(std::span(buf).first(w.bytes()), w.count());
  REQUIRE(all);
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].name == "a");
  CHECK((*all)[0].next_cookie == 10);
  CHECK((*all)[1].type == DT_DIR);
  CHECK((*all)[2].name.size() == 255);
}

TEST_CASE("the dirent writer stops cleanly when a record does not fit", "[codec]") {
  std::vector<std::byte> buf(dirent_record_bytes(3) + 10);
  DirentWriter w(buf);
  REQUIRE(*w.append(1, 1, DT_REG, "abc"));
  auto more = w.append(2, 2, DT_REG, "d");
  REQUIRE(more);
  CHECK_FALSE(*more);
  CHECK(w.count() == 1);
  CHECK_FALSE(w.append(3, 3, DT_REG, ".."));
  CHECK_FALSE(w.append(3, 3, DT_REG, "a/b"));
  CHECK(kMaxDirentRecordBytes == 280);
}

TEST_CASE("the dirent reader refuses every malformed record", "[codec]") {
  std::vector<std::byte> good(256);
  DirentWriter w(good);
  REQUIRE(*w.append(7, 70, DT_REG, "file"));
  const size_t n = w.bytes();
  auto mutate = [&](auto f) {
    std::vector<std::byte> b(good.begin(), good.begin() + static_cast<long>(n));
    f(b);
    return b;
  };
  auto header = [](std::vector<std::byte>& b) { return reinterpret_cast<WireDirent*>(b.data()); };
  std::vector<std::pair<const char*, std::vector<std::byte>>> cases = {
      {"name_len zero", mutate([&](auto& b) { header(b)->name_len = 0; })},
      {"name_len past the end", mutate([&](auto& b) { header(b)->name_len = 200; })},
      {"name_len above 255", mutate([&](auto& b) { header(b)->name_len = 300; })},
      {"reserved set", mutate([&](auto& b) { header(b)->reserved[2] = 1; })},
      {"padding set", mutate([&](auto& b) { b[sizeof(WireDirent) + 5] = std::byte{1}; })},
      {"slash in name", mutate([&](auto& b) { b[sizeof(WireDirent) + 1] = std::byte{'/'}; })},
      {"NUL in name", mutate([&](auto& b) { b[sizeof(WireDirent) + 1] = std::byte{0}; })},
      {"truncated header", std::vector<std::byte>(good.begin(), good.begin() + 10)},
  };
  for (auto& [why, b] : cases) {
    CAPTURE(why);
    DirentReader r(b, 1);
    Dirent d;
    auto got = r.next(d);
    REQUIRE_FALSE(got);
    CHECK(to_wire_error(got.error()) == WireError::kProto);
    CHECK_FALSE(r.next(d));  // stays failed
  }
  // Names "." and "..".
  std::vector<std::byte> dots(64);
  WireDirent h{};
  h.name_len = 2;
  std::memcpy(dots.data(), &h, sizeof(h));
  std::memcpy(dots.data() + sizeof(h), "..", 2);
  CHECK_FALSE(decode_dirents(std::span(dots).first(dirent_record_bytes(2)), 1));
}

TEST_CASE("the dirent reader insists the count matches the payload", "[codec]") {
  std::vector<std::byte> buf(256);
  DirentWriter w(buf);
  REQUIRE(*w.append(1, 1, DT_REG, "x"));
  REQUIRE(*w.append(2, 2, DT_REG, "y"));
  auto payload = std::span(buf).first(w.bytes());
  CHECK(decode_dirents(payload, 2));
  CHECK_FALSE(decode_dirents(payload, 1));  // bytes after the last record
  CHECK_FALSE(decode_dirents(payload, 3));  // fewer records than claimed
  CHECK_FALSE(decode_dirents(payload, ~uint64_t{0}));
  CHECK(decode_dirents({}, 0));
  CHECK(decode_dirents({}, 0)->empty());
}

TEST_CASE("errno and wire errors map both ways", "[codec]") {
  CHECK(wire_error_from_errno(ENOENT) == WireError::kNoEnt);
  CHECK(wire_error_from_errno(EXDEV) == WireError::kXDev);
  CHECK(wire_error_from_errno(ELOOP) == WireError::kLoop);
  CHECK(wire_error_from_errno(EMFILE) == WireError::kMFile);
  CHECK(wire_error_from_errno(EDQUOT) == WireError::kNoSpc);
  CHECK(wire_error_from_errno(ETXTBSY) == WireError::kIo);  // no wire value: generic
  for (int e : {EPERM,        ENOENT,  EIO,       EBADF,  EAGAIN, ENOMEM,   EACCES, EEXIST,
                EXDEV,        ENOTDIR, EISDIR,    EINVAL, EMFILE, EFBIG,    ENOSPC, EROFS,
                ENAMETOOLONG, ENOSYS,  ENOTEMPTY, ELOOP,  EPROTO, EOVERFLOW}) {
    CAPTURE(e);
    CHECK(errno_from_wire_status(wire_status(wire_error_from_errno(e))) == e);
  }
  CHECK(errno_from_wire_status(0) == 0);
  CHECK(errno_from_wire_status(7) == 0);
  CHECK(errno_from_wire_status(-9999) == EIO);
  CHECK(errno_from_wire_status(INT32_MIN) == EIO);
  CHECK(to_wire_error(sys_error(EACCES, "x")) == WireError::kAcces);
  CHECK(to_wire_error(make_error(Errc::kProtocol, "x")) == WireError::kProto);
}

// ---- protocol v2 ------------------------------------------------------------------------------

namespace {
std::string as_string(const std::vector<std::byte>& buf, size_t n) {
  return std::string(reinterpret_cast<const char*>(buf.data()), n);
}
}  // namespace

TEST_CASE("v2: truncate without write decodes; append without write still does not", "[codec]") {
  auto t = decode_open_flags(kOpenRead | kOpenTruncate);
  REQUIRE(t);
  CHECK(t->truncate);
  CHECK_FALSE(t->write);
  CHECK(decode_open_flags(wire_open_flags_from_posix(O_RDONLY | O_TRUNC)));
  CHECK_FALSE(decode_open_flags(kOpenRead | kOpenAppend));
  CHECK_FALSE(decode_open_flags(kOpenRead | kOpenTruncate | kOpenDirectory));
}

TEST_CASE("v2: EOPNOTSUPP and ESTALE map both ways", "[codec]") {
  CHECK(wire_error_from_errno(EOPNOTSUPP) == WireError::kOpNotSupp);
  CHECK(wire_error_from_errno(ENOTSUP) == WireError::kOpNotSupp);
  CHECK(wire_error_from_errno(ESTALE) == WireError::kStale);
  CHECK(errno_from_wire_status(wire_status(WireError::kOpNotSupp)) == EOPNOTSUPP);
  CHECK(errno_from_wire_status(wire_status(WireError::kStale)) == ESTALE);
  CHECK(static_cast<int>(WireError::kOpNotSupp) == 95);
  CHECK(static_cast<int>(WireError::kStale) == 116);
}

TEST_CASE("v2: link payloads split exactly like rename payloads", "[codec]") {
  std::vector<std::byte> buf(64);
  auto n = encode_link("in/a", "out/b", buf);
  REQUIRE(n);
  CHECK(*n == 9);
  auto d = decode_link(as_string(buf, *n), 4);
  REQUIRE(d);
  CHECK(d->from == "in/a");
  CHECK(d->to == "out/b");
  for (uint64_t bad : {uint64_t{0}, uint64_t{3}, uint64_t{9}, ~uint64_t{0}}) {
    CAPTURE(bad);
    CHECK_FALSE(decode_link(as_string(buf, *n), bad));
  }
  CHECK_FALSE(decode_link(std::string("a/../x") + "b", 6));
  CHECK_FALSE(encode_link("a", "/b", buf));
  std::vector<std::byte> small(4);
  auto o = encode_link("abc", "def", small);
  REQUIRE_FALSE(o);
  CHECK(to_wire_error(o.error()) == WireError::kOverflow);
}

TEST_CASE("v2: setattr payloads round-trip by path and by handle", "[codec]") {
  WireSetattr sa{};
  sa.valid = kSetMode | kSetMtime | kSetAtimeNow;
  sa.mode = 01755;
  sa.atime_ns = -5;
  sa.mtime_ns = 981173106000000001;
  std::vector<std::byte> buf(128);
  auto n = encode_setattr(sa, "out/t", buf);
  REQUIRE(n);
  CHECK(*n == sizeof(WireSetattr) + 5);
  auto d = decode_setattr(as_string(buf, *n), false);
  REQUIRE(d);
  CHECK(d->path == "out/t");
  CHECK(d->attr.valid == sa.valid);
  CHECK(d->attr.mode == 01755);
  CHECK(d->attr.atime_ns == -5);
  CHECK(d->attr.mtime_ns == 981173106000000001);

  auto h = encode_setattr(sa, "", buf);
  REQUIRE(h);
  CHECK(*h == sizeof(WireSetattr));
  auto dh = decode_setattr(as_string(buf, *h), true);
  REQUIRE(dh);
  CHECK(dh->path.empty());
  // By path, the path is required; by handle, none may follow.
  CHECK_FALSE(decode_setattr(as_string(buf, *h), false));
  CHECK_FALSE(decode_setattr(as_string(buf, *n), true));
}

TEST_CASE("v2: setattr refuses unknown valid bits, huge modes, reserved bytes, bad paths",
          "[codec]") {
  auto payload = [](WireSetattr sa, std::string_view path) {
    std::string s(reinterpret_cast<const char*>(&sa), sizeof(sa));
    return s + std::string(path);
  };
  WireSetattr good{};
  good.valid = kSetKnownBits;
  good.mode = 07777;
  REQUIRE(decode_setattr(payload(good, "a"), false));

  WireSetattr bad_valid = good;
  bad_valid.valid = kSetKnownBits + 1;
  WireSetattr high_bit = good;
  high_bit.valid = 1u << 31;
  WireSetattr big_mode = good;
  big_mode.mode = 010000;
  WireSetattr typed_mode = good;
  typed_mode.mode = S_IFREG | 0644;
  WireSetattr reserved = good;
  reserved.reserved = 1;
  for (const WireSetattr& sa : {bad_valid, high_bit, big_mode, typed_mode, reserved}) {
    auto d = decode_setattr(payload(sa, "a"), false);
    REQUIRE_FALSE(d);
    CHECK(to_wire_error(d.error()) == WireError::kInval);
    std::vector<std::byte> buf(64);
    CHECK_FALSE(encode_setattr(sa, "a", buf));  // the encoder refuses what the decoder would
  }
  for (std::string p : {std::string(), std::string("/etc"), std::string("a/../b"),
                        std::string("a//b"), std::string("a\0b", 3)}) {
    CAPTURE(p);
    CHECK_FALSE(decode_setattr(payload(good, p), false));
  }
  auto too_long = decode_setattr(payload(good, std::string(kMaxPathBytes + 1, 'x')), false);
  REQUIRE_FALSE(too_long);
  CHECK(to_wire_error(too_long.error()) == WireError::kNameTooLong);
  // Shorter than the header, at every length.
  std::string whole = payload(good, "");
  for (size_t len = 0; len < sizeof(WireSetattr); ++len) {
    CAPTURE(len);
    CHECK_FALSE(decode_setattr(whole.substr(0, len), true));
    CHECK_FALSE(decode_setattr(whole.substr(0, len), false));
  }
  std::vector<std::byte> small(sizeof(WireSetattr) - 1);
  auto o = encode_setattr(good, "", small);
  REQUIRE_FALSE(o);
  CHECK(to_wire_error(o.error()) == WireError::kOverflow);
  std::vector<std::byte> header_only(sizeof(WireSetattr));
  CHECK_FALSE(encode_setattr(good, "a", header_only));
}

TEST_CASE("v2: modes are permission bits only", "[codec]") {
  for (uint64_t m : {uint64_t{0}, uint64_t{0644}, uint64_t{04755}, uint64_t{07777}}) {
    auto d = decode_mode(m);
    REQUIRE(d);
    CHECK(*d == m);
  }
  for (uint64_t m : {uint64_t{010000}, uint64_t{S_IFREG | 0644}, uint64_t{S_IFDIR | 0755},
                     uint64_t{1} << 32, ~uint64_t{0}}) {
    CAPTURE(m);
    auto d = decode_mode(m);
    REQUIRE_FALSE(d);
    CHECK(to_wire_error(d.error()) == WireError::kInval);
  }
}

TEST_CASE("v2: rename flags map both ways; whiteout and combinations are refused", "[codec]") {
  CHECK(*wire_rename_flags_from_posix(0) == 0);
  CHECK(*wire_rename_flags_from_posix(RENAME_NOREPLACE) == kRenameNoReplace);
  CHECK(*wire_rename_flags_from_posix(RENAME_EXCHANGE) == kRenameExchange);
  for (unsigned f : {unsigned{RENAME_WHITEOUT}, unsigned{RENAME_NOREPLACE | RENAME_EXCHANGE},
                     unsigned{RENAME_NOREPLACE | RENAME_WHITEOUT}, 1u << 20, ~0u}) {
    CAPTURE(f);
    auto w = wire_rename_flags_from_posix(f);
    REQUIRE_FALSE(w);
    CHECK(w.error().sys_errno == EINVAL);
  }
  CHECK(*posix_rename_flags_from_wire(0) == 0);
  CHECK(*posix_rename_flags_from_wire(kRenameNoReplace) == RENAME_NOREPLACE);
  CHECK(*posix_rename_flags_from_wire(kRenameExchange) == RENAME_EXCHANGE);
  for (uint64_t f : {uint64_t{3}, uint64_t{4}, uint64_t{1} << 40, ~uint64_t{0}}) {
    CAPTURE(f);
    auto p = posix_rename_flags_from_wire(f);
    REQUIRE_FALSE(p);
    CHECK(to_wire_error(p.error()) == WireError::kInval);
  }
}

TEST_CASE("v2: fallocate modes map both ways; the rest is EOPNOTSUPP or kInval", "[codec]") {
  struct Case {
    int posix;
    uint64_t wire;
  };
  for (Case c :
       {Case{0, 0}, Case{FALLOC_FL_KEEP_SIZE, kFallocKeepSize},
        Case{FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, kFallocPunchHole | kFallocKeepSize},
        Case{FALLOC_FL_ZERO_RANGE, kFallocZeroRange},
        Case{FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, kFallocZeroRange | kFallocKeepSize}}) {
    CAPTURE(c.posix);
    auto w = wire_fallocate_flags_from_posix(c.posix);
    REQUIRE(w);
    CHECK(*w == c.wire);
    auto p = posix_fallocate_mode_from_wire(c.wire);
    REQUIRE(p);
    CHECK(*p == c.posix);
  }
  for (int m : {FALLOC_FL_PUNCH_HOLE, FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE,
                FALLOC_FL_UNSHARE_RANGE, FALLOC_FL_NO_HIDE_STALE, -1}) {
    CAPTURE(m);
    auto w = wire_fallocate_flags_from_posix(m);
    REQUIRE_FALSE(w);
    CHECK(to_wire_error(w.error()) == WireError::kOpNotSupp);
  }
  for (uint64_t f : {uint64_t{kFallocPunchHole}, uint64_t{kFallocPunchHole | kFallocZeroRange},
                     uint64_t{kFallocPunchHole | kFallocZeroRange | kFallocKeepSize}, uint64_t{8},
                     ~uint64_t{0}}) {
    CAPTURE(f);
    auto p = posix_fallocate_mode_from_wire(f);
    REQUIRE_FALSE(p);
    CHECK(to_wire_error(p.error()) == WireError::kInval);
  }
}

TEST_CASE("v2: a WireStatfs survives the round trip through struct statvfs", "[codec]") {
  struct statvfs sv {};
  sv.f_bsize = 4096;
  sv.f_frsize = 1024;
  sv.f_blocks = 1000000;
  sv.f_bfree = 600000;
  sv.f_bavail = 500000;
  sv.f_files = 65536;
  sv.f_ffree = 60000;
  sv.f_favail = 59000;
  sv.f_namemax = 255;
  WireStatfs w = wire_statfs_from(sv);
  std::vector<std::byte> buf(sizeof(WireStatfs));
  auto n = encode_wire_statfs(w, buf);
  REQUIRE(n);
  CHECK(*n == 64);
  auto d = decode_wire_statfs(buf);
  REQUIRE(d);
  struct statvfs back = statvfs_from_wire(*d);
  CHECK(back.f_bsize == 4096);
  CHECK(back.f_frsize == 1024);
  CHECK(back.f_blocks == 1000000);
  CHECK(back.f_bfree == 600000);
  CHECK(back.f_bavail == 500000);
  CHECK(back.f_files == 65536);
  CHECK(back.f_ffree == 60000);
  CHECK(back.f_namemax == 255);
  // The real thing, from this machine: statvfs(".") survives too.
  struct statvfs here {};
  REQUIRE(::statvfs(".", &here) == 0);
  struct statvfs again = statvfs_from_wire(wire_statfs_from(here));
  CHECK(again.f_blocks == here.f_blocks);
  CHECK(again.f_bavail == here.f_bavail);
  CHECK(again.f_frsize == here.f_frsize);
}

TEST_CASE("v2: a WireStatfs reply of the wrong size is refused", "[codec]") {
  std::vector<std::byte> buf(sizeof(WireStatfs) + 1);
  for (size_t len : {size_t{0}, size_t{1}, sizeof(WireStatfs) - 1, sizeof(WireStatfs) + 1}) {
    CAPTURE(len);
    auto d = decode_wire_statfs(std::span<const std::byte>(buf.data(), len));
    REQUIRE_FALSE(d);
    CHECK(d.error().sys_errno == EPROTO);
  }
  std::vector<std::byte> small(sizeof(WireStatfs) - 1);
  auto o = encode_wire_statfs(WireStatfs{}, small);
  REQUIRE_FALSE(o);
  CHECK(to_wire_error(o.error()) == WireError::kOverflow);
}
