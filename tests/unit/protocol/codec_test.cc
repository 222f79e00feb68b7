// The file-payload codec both ends share: what it accepts, what it refuses, and that a decoder
// never reads past what it was given (these run under ASan/UBSan).
#include "shared/protocol/codec.h"

#include <dirent.h>
#include <fcntl.h>

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
  for (uint64_t bad : {uint64_t{0}, uint64_t{kOpenCreate}, uint64_t{kOpenRead | kOpenTruncate},
                       uint64_t{kOpenRead | kOpenAppend}, uint64_t{kOpenWrite | kOpenExclusive},
                       uint64_t{kOpenWrite | kOpenDirectory}, uint64_t{1} << 7, ~uint64_t{0}}) {
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

TEST_CASE("is_valid_name accepts one component only", "[codec]") {
  CHECK(is_valid_name("a"));
  CHECK(is_valid_name("..."));
  CHECK_FALSE(is_valid_name(""));
  CHECK_FALSE(is_valid_name("."));
  CHECK_FALSE(is_valid_name(".."));
  CHECK_FALSE(is_valid_name("a/b"));
  CHECK_FALSE(is_valid_name(std::string("a\0", 2)));
  CHECK_FALSE(is_valid_name(std::string(256, 'n')));
}
