// FileService, protocol v2: exact modes, setuid/setgid cleared, rename flags, kSetattr, kLink,
// kStatfs, kFallocate, long symlink text. The reference is always what the same system call does
// on a local directory.
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>

#include "host/files/file_service.h"
#include "shared/protocol/codec.h"
#include "tests/unit/host/files/temp_tree.h"

using namespace ringbox;
using namespace ringbox::host::files;
using proto::Opcode;
using proto::WireError;
using test::Driver;
using test::status_of;
using test::TempTree;

namespace {

std::unique_ptr<FileService> service(const TempTree& t, Policy p = Policy::read_write()) {
  FileServiceConfig cfg;
  cfg.export_dir = t.export_dir;
  cfg.policy = std::move(p);
  auto s = FileService::create(std::move(cfg));
  REQUIRE(s);
  return std::move(*s);
}

Policy in_out_policy() {
  auto p = Policy::create({"in"}, {"out"});
  REQUIRE(p);
  return std::move(*p);
}

mode_t perm_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

struct stat lstat_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st;
}

// Sets the process umask for one test and restores it (the tests run on one thread).
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t m) : old_(::umask(m)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

std::string setattr_payload(const proto::WireSetattr& sa, std::string_view path) {
  return std::string(reinterpret_cast<const char*>(&sa), sizeof(sa)) + std::string(path);
}

rpc::Reply setattr(Driver& d, const proto::WireSetattr& sa, std::string_view path,
                   uint64_t handle = 0) {
  return d.call(Opcode::kSetattr, setattr_payload(sa, path), {handle, 0, 0, 0});
}

rpc::Reply rename2(Driver& d, std::string_view from, std::string_view to, uint64_t flags) {
  return d.call(Opcode::kRename, std::string(from) + std::string(to), {from.size(), flags, 0, 0});
}

constexpr uint64_t kCreateWrite = proto::kOpenWrite | proto::kOpenCreate;
constexpr int64_t kNsPerSec = 1000000000;

}  // namespace

// ---- modes ------------------------------------------------------------------------------------

TEST_CASE("v2: create, mkdir and putfile apply the mode exactly, whatever the host's umask",
          "[files][v2]") {
  TempTree t;
  auto s = service(t);
  Driver d(*s);
  ScopedUmask um(077);  // a host umask that would otherwise take every group/other bit away
  auto o = d.open("out/prog", kCreateWrite, 0755);
  REQUIRE(o.status == 0);
  CHECK(perm_of(t.ex("out/prog")) == 0755);
  CHECK((proto::decode_wire_stat(d.out())->mode & 07777) == 0755);  // the reply says so too
  REQUIRE(d.open("out/open", kCreateWrite, 0777).status == 0);
  CHECK(perm_of(t.ex("out/open")) == 0777);
  REQUIRE(d.open("out/none", kCreateWrite, 0).status == 0);
  CHECK(perm_of(t.ex("out/none")) == 0);
  REQUIRE(d.call(Opcode::kMkdir, "out/d", {0777}).status == 0);
  CHECK(perm_of(t.ex("out/d")) == 0777);
  REQUIRE(d.call(Opcode::kMkdir, "out/tmp", {01777}).status == 0);  // sticky kept
  CHECK(perm_of(t.ex("out/tmp")) == 01777);
  REQUIRE(d.putfile("out/p", 0, "data", true, 0664).status == 0);
  CHECK(perm_of(t.ex("out/p")) == 0664);
  REQUIRE(d.putfile("out/zero", 0, "data", true, 0).status == 0);  // 0 is 0, not a default
  CHECK(perm_of(t.ex("out/zero")) == 0);
}

TEST_CASE("v2: the named-temp putfile path applies modes exactly too", "[files][v2]") {
  TempTree t;
  FileServiceConfig cfg;
  cfg.export_dir = t.export_dir;
  cfg.policy = Policy::read_write();
  cfg.putfile_named_temp = true;
  auto s = FileService::create(std::move(cfg));
  REQUIRE(s);
  Driver d(**s);
  ScopedUmask um(027);
  REQUIRE(d.putfile("out/n", 0, "x", true, 0707).status == 0);
  CHECK(perm_of(t.ex("out/n")) == 0707);
}

TEST_CASE("v2: setuid and setgid never reach the export; the sticky bit does", "[files][v2]") {
  TempTree t;
  auto s = service(t);
  Driver d(*s);
  REQUIRE(d.open("out/suid", kCreateWrite, 04755).status == 0);
  CHECK(perm_of(t.ex("out/suid")) == 0755);
  REQUIRE(d.open("out/sgid", kCreateWrite, 02775).status == 0);
  CHECK(perm_of(t.ex("out/sgid")) == 0775);
  REQUIRE(d.open("out/sticky", kCreateWrite, 01644).status == 0);
  CHECK(perm_of(t.ex("out/sticky")) == 01644);
  REQUIRE(d.call(Opcode::kMkdir, "out/sd", {06777}).status == 0);
  CHECK(perm_of(t.ex("out/sd")) == 0777);
  REQUIRE(d.putfile("out/sp", 0, "x", true, 06755).status == 0);
  CHECK(perm_of(t.ex("out/sp")) == 0755);
  proto::WireSetattr sa{};
  sa.valid = proto::kSetMode;
  sa.mode = 07755;
  auto r = setattr(d, sa, "out/sp");
  REQUIRE(r.status == 0);
  CHECK(perm_of(t.ex("out/sp")) == 01755);
  CHECK((proto::decode_wire_stat(d.out())->mode & 07777) == 01755);
  // A directory with setgid makes its new subdirectories setgid on Linux; not here.
  REQUIRE(::chmod(t.ex("out").c_str(), 02777) == 0);
  REQUIRE(d.call(Opcode::kMkdir, "out/child", {0755}).status == 0);
  CHECK(perm_of(t.ex("out/child")) == 0755);
}

TEST_CASE("v2: modes with file-type or higher bits are kInval and create nothing", "[files][v2]") {
  TempTree t;
  auto s = service(t);
  Driver d(*s);
  for (uint64_t bad :
       {uint64_t{010000}, uint64_t{S_IFREG | 0644}, uint64_t{1} << 40, ~uint64_t{0}}) {
    CAPTURE(bad);
    CHECK(d.open("out/f", kCreateWrite, bad).status == status_of(WireError::kInval));
    CHECK(d.call(Opcode::kMkdir, "out/d", {bad}).status == status_of(WireError::kInval));
    CHECK(d.putfile("out/p", 0, "x", true, bad).status == status_of(WireError::kInval));
  }
  CHECK(TempTree::list(t.ex("out")).empty());
  // Without create the mode argument means nothing and is not looked at.
  CHECK(d.open("in/a.txt", proto::kOpenRead, ~uint64_t{0}).status == 0);
}

TEST_CASE("v2: open read-only with truncate truncates, and needs write access", "[files][v2]") {
  TempTree t;
  {
    auto ro = service(t, in_out_policy());
    Driver d(*ro);
    CHECK(d.open("in/a.txt", proto::kOpenRead | proto::kOpenTruncate).status ==
          status_of(WireError::kAcces));
    CHECK(TempTree::read_file(t.ex("in/a.txt")) == "alpha\n");
  }
  auto s = service(t);
  Driver d(*s);
  auto o = d.open("in/a.txt", proto::kOpenRead | proto::kOpenTruncate);
  REQUIRE(o.status == 0);
  CHECK(TempTree::read_file(t.ex("in/a.txt")).empty());
  CHECK(d.pread(o.val[0], 0, 10).status == 0);                              // readable
  CHECK(d.pwrite(o.val[0], 0, "x").status == status_of(WireError::kBadF));  // not writable
}

// ---- rename flags -----------------------------------------------------------------------------

TEST_CASE("v2: rename with noreplace refuses an existing target and keeps both", "[files][v2]") {
  TempTree t;
  TempTree::write_file(t.ex("out/a"), "A");
  TempTree::write_file(t.ex("out/b"), "B");
  auto s = service(t);
  Driver d(*s);
  CHECK(rename2(d, "out/a", "out/b", proto::kRenameNoReplace).status ==
        status_of(WireError::kExist));
  CHECK(TempTree::read_file(t.ex("out/a")) == "A");
  CHECK(TempTree::read_file(t.ex("out/b")) == "B");
  REQUIRE(rename2(d, "out/a", "out/c", proto::kRenameNoReplace).status == 0);
  CHECK_FALSE(TempTree::exists(t.ex("out/a")));
  CHECK(TempTree::read_file(t.ex("out/c")) == "A");
}

TEST_CASE("v2: rename exchange swaps two names, files or directories", "[files][v2]") {
  TempTree t;
  TempTree::write_file(t.ex("out/a"), "A");
  ::mkdir(t.ex("out/dir").c_str(), 0755);
  TempTree::write_file(t.ex("out/dir/inner"), "I");
  auto s = service(t);
  Driver d(*s);
  REQUIRE(rename2(d, "out/a", "out/dir", proto::kRenameExchange).status == 0);
  CHECK(TempTree::read_file(t.ex("out/dir")) == "A");
  CHECK(TempTree::read_file(t.ex("out/a/inner")) == "I");
  CHECK(rename2(d, "out/a", "out/missing", proto::kRenameExchange).status ==
        status_of(WireError::kNoEnt));
  CHECK(TempTree::read_file(t.ex("out/a/inner")) == "I");
}

TEST_CASE("v2: rename over a non-empty directory is kNotEmpty and loses nothing", "[files][v2]") {
  // issue 8, item 1: mkdir a b; echo precious > b/f; mv -T a b
  TempTree t;
  ::mkdir(t.ex("out/a").c_str(), 0755);
  ::mkdir(t.ex("out/b").c_str(), 0755);
  TempTree::write_file(t.ex("out/b/f"), "precious\n");
  auto s = service(t);
  Driver d(*s);
  const int32_t st = rename2(d, "out/a", "out/b", 0).status;
  CHECK((st == status_of(WireError::kNotEmpty) || st == status_of(WireError::kExist)));
  CHECK(TempTree::read_file(t.ex("out/b/f")) == "precious\n");
}

TEST_CASE("v2: unknown or combined rename flags are kInval and rename nothing", "[files][v2]") {
  TempTree t;
  TempTree::write_file(t.ex("out/a"), "A");
  auto s = service(t);
  Driver d(*s);
  for (uint64_t f : {uint64_t{3}, uint64_t{4}, uint64_t{1} << 63, ~uint64_t{0}}) {
    CAPTURE(f);
    CHECK(rename2(d, "out/a", "out/b", f).status == status_of(WireError::kInval));
  }
  CHECK(TempTree::exists(t.ex("out/a")));
  CHECK_FALSE(TempTree::exists(t.ex("out/b")));
}

// ---- kSetattr ---------------------------------------------------------------------------------

TEST_CASE("v2: setattr by path sets mode and times as chmod and touch -d do", "[files][v2]") {
  TempTree t;
  auto s = service(t);
  Driver d(*s);
  proto::WireSetattr sa{};
  sa.valid = proto::kSetMode | proto::kSetAtime | proto::kSetMtime;
  sa.mode = 0700;
  sa.atime_ns = 981173106 * kNsPerSec + 5;
  sa.mtime_ns = -kNsPerSec / 2;  // before the epoch
  auto r = setattr(d, sa, "in/a.txt");
  REQUIRE(r.status == 0);
  REQUIRE(r.out_len == sizeof(proto::WireStat));
  struct stat st = lstat_of(t.ex("in/a.txt"));
  CHECK((st.st_mode & 07777) == 0700);
  CHECK(st.st_atim.tv_sec == 981173106);
  CHECK(st.st_atim.tv_nsec == 5);
  CHECK(st.st_mtim.tv_sec == -1);
  CHECK(st.st_mtim.tv_nsec == 500000000);
  auto ws = proto::decode_wire_stat(d.out());
  REQUIRE(ws);
  CHECK(ws->mtime_ns == -kNsPerSec / 2);
  CHECK(ws->atime_ns == 981173106 * kNsPerSec + 5);

  // Only mtime, "now": atime is left alone (UTIME_OMIT), mtime becomes the host's clock.
  struct timespec before {};
  ::clock_gettime(CLOCK_REALTIME, &before);
  proto::WireSetattr now{};
  now.valid = proto::kSetMtimeNow | proto::kSetMtime;  // Now wins over the given time
  now.mtime_ns = 1;
  REQUIRE(setattr(d, now, "in/a.txt").status == 0);
  st = lstat_of(t.ex("in/a.txt"));
  CHECK(st.st_atim.tv_sec == 981173106);
  CHECK(st.st_mtim.tv_sec >= before.tv_sec - 1);
  CHECK((st.st_mode & 07777) == 0700);

  // valid == 0 changes nothing and still answers the stat.
  proto::WireSetattr nothing{};
  auto n = setattr(d, nothing, "in/a.txt");
  REQUIRE(n.status == 0);
  CHECK(proto::decode_wire_stat(d.out())->size == 6);
}

TEST_CASE("v2: setattr on a symlink changes its own times; its mode is kOpNotSupp", "[files][v2]") {
  TempTree t;
  REQUIRE(::symlink("../in/a.txt", t.ex("out/l").c_str()) == 0);
  const struct stat target_before = lstat_of(t.ex("in/a.txt"));
  auto s = service(t);
  Driver d(*s);
  proto::WireSetattr sa{};
  sa.valid = proto::kSetMtime;
  sa.mtime_ns = 1000 * kNsPerSec;
  REQUIRE(setattr(d, sa, "out/l").status == 0);
  CHECK(lstat_of(t.ex("out/l")).st_mtim.tv_sec == 1000);
  CHECK(lstat_of(t.ex("in/a.txt")).st_mtim.tv_sec == target_before.st_mtim.tv_sec);
  CHECK(S_ISLNK(proto::decode_wire_stat(d.out())->mode));
  sa.valid = proto::kSetMode;
  sa.mode = 0600;
  CHECK(setattr(d, sa, "out/l").status == status_of(WireError::kOpNotSupp));
  CHECK(perm_of(t.ex("in/a.txt")) == (target_before.st_mode & 07777));
}

TEST_CASE("v2: setattr by handle works after the name is gone", "[files][v2]") {
  TempTree t;
  auto s = service(t);
  Driver d(*s);
  auto o = d.open("out/f", kCreateWrite, 0644);
  REQUIRE(o.status == 0);
  REQUIRE(d.call(Opcode::kUnlink, "out/f").status == 0);
  proto::WireSetattr sa{};
  sa.valid = proto::kSetMode | proto::kSetMtime;
  sa.mode = 0751;
  sa.mtime_ns = 42 * kNsPerSec;
  auto r = setattr(d, sa, "", o.val[0]);
  REQUIRE(r.status == 0);
  auto ws = proto::decode_wire_stat(d.out());
  REQUIRE(ws);
  CHECK((ws->mode & 07777) == 0751);
  CHECK(ws->mtime_ns == 42 * kNsPerSec);
  CHECK(ws->nlink == 0);
  // A reply buffer too small for a WireStat: the change is made, no payload.
  Driver small(*s, 40);
  sa.mode = 0700;
  auto r2 = setattr(small, sa, "", o.val[0]);
  REQUIRE(r2.status == 0);
  CHECK(r2.out_len == 0);
  // A closed or forged handle is kBadF.
  REQUIRE(d.close(o.val[0]).status == 0);
  CHECK(setattr(d, sa, "", o.val[0]).status == status_of(WireError::kBadF));
  CHECK(setattr(d, sa, "", 12345).status == status_of(WireError::kBadF));
}

TEST_CASE("v2: setattr needs write access, by path and by handle", "[files][v2]") {
  TempTree t;
  const mode_t before = perm_of(t.ex("in/a.txt"));
  auto s = service(t, in_out_policy());
  Driver d(*s);
  proto::WireSetattr sa{};
  sa.valid = proto::kSetMode;
  sa.mode = 0777;
  CHECK(setattr(d, sa, "in/a.txt").status == status_of(WireError::kAcces));
  CHECK(setattr(d, sa, "secret/s.txt").status == status_of(WireError::kAcces));
  auto o = d.open("in/a.txt", proto::kOpenRead);
  REQUIRE(o.status == 0);
  CHECK(setattr(d, sa, "", o.val[0]).status == status_of(WireError::kAcces));
  CHECK(perm_of(t.ex("in/a.txt")) == before);
  TempTree::write_file(t.ex("out/mine"), "m");
  CHECK(setattr(d, sa, "out/mine").status == 0);
  CHECK(perm_of(t.ex("out/mine")) == 0777);
}

// ---- kLink ------------------------------------------------------------------------------------

TEST_CASE("v2: link makes a second name for the same file", "[files][v2]") {
  TempTree t;
  TempTree::write_file(t.ex("out/a"), "A");
  auto s = service(t);
  Driver d(*s);
  REQUIRE(d.two_paths(Opcode::kLink, "out/a", "out/b").status == 0);
  struct stat a = lstat_of(t.ex("out/a")), b = lstat_of(t.ex("out/b"));
  CHECK(a.st_ino == b.st_ino);
  CHECK(a.st_nlink == 2);
  CHECK(d.two_paths(Opcode::kLink, "out/a", "out/b").status == status_of(WireError::kExist));
  CHECK(d.two_paths(Opcode::kLink, "out/missing", "out/c").status == status_of(WireError::kNoEnt));
  CHECK(d.two_paths(Opcode::kLink, "out", "in/x").status == status_of(WireError::kPerm));
  CHECK(d.two_paths(Opcode::kLink, ".", "out/root").status == status_of(WireError::kInval));
  // A symlink is linked itself, not followed.
  REQUIRE(::symlink("a", t.ex("out/sl").c_str()) == 0);
  REQUIRE(d.two_paths(Opcode::kLink, "out/sl", "out/sl2").status == 0);
  CHECK(S_ISLNK(lstat_of(t.ex("out/sl2")).st_mode));
  CHECK(lstat_of(t.ex("out/sl2")).st_ino == lstat_of(t.ex("out/sl")).st_ino);
}

TEST_CASE("v2: link to a file the job may only read is refused", "[files][v2]") {
  TempTree t;
  auto s = service(t, in_out_policy());
  Driver d(*s);
  // A second name in out/ would give the job a write path to in/a.txt.
  CHECK(d.two_paths(Opcode::kLink, "in/a.txt", "out/a").status == status_of(WireError::kAcces));
  CHECK(d.two_paths(Opcode::kLink, "secret/s.txt", "out/s").status == status_of(WireError::kAcces));
  TempTree::write_file(t.ex("out/mine"), "m");
  CHECK(d.two_paths(Opcode::kLink, "out/mine", "in/mine").status == status_of(WireError::kAcces));
  CHECK(TempTree::list(t.ex("out")) == std::vector<std::string>{"mine"});
  CHECK(d.two_paths(Opcode::kLink, "out/mine", "out/mine2").status == 0);
}

// ---- kStatfs ----------------------------------------------------------------------------------

TEST_CASE("v2: statfs answers the export's file system as statvfs does", "[files][v2]") {
  TempTree t;
  auto s = service(t, in_out_policy());
  Driver d(*s);
  auto r = d.call(Opcode::kStatfs, ".");  // the root only leads to in/ and out/: allowed
  REQUIRE(r.status == 0);
  REQUIRE(r.out_len == sizeof(proto::WireStatfs));
  auto w = proto::decode_wire_statfs(d.out());
  REQUIRE(w);
  struct statvfs sv {};
  REQUIRE(::statvfs(t.export_dir.c_str(), &sv) == 0);
  CHECK(w->frsize == sv.f_frsize);
  CHECK(w->bsize == sv.f_bsize);
  CHECK(w->blocks == sv.f_blocks);
  CHECK(w->files == sv.f_files);
  CHECK(w->namemax == sv.f_namemax);
  CHECK(w->blocks > 0);
  CHECK(w->bavail > 0);
  CHECK(d.call(Opcode::kStatfs, "in/a.txt").status == 0);
  CHECK(d.call(Opcode::kStatfs, "secret").status == status_of(WireError::kAcces));
  CHECK(d.call(Opcode::kStatfs, "nope").status == status_of(WireError::kNoEnt));
  Driver small(*s, 63);
  CHECK(small.call(Opcode::kStatfs, ".").status == status_of(WireError::kOverflow));
}

// ---- kFallocate -------------------------------------------------------------------------------

TEST_CASE("v2: fallocate reserves, keeps size, punches holes as fallocate(2)", "[files][v2]") {
  TempTree t;
  auto s = service(t);
  Driver d(*s);
  auto o = d.open("out/f", kCreateWrite | proto::kOpenRead, 0644);
  REQUIRE(o.status == 0);
  const uint64_t h = o.val[0];
  auto fa = [&](uint64_t off, uint64_t len, uint64_t flags) {
    return d.call(Opcode::kFallocate, {}, {h, off, len, flags}).status;
  };
  REQUIRE(fa(0, 65536, 0) == 0);
  CHECK(lstat_of(t.ex("out/f")).st_size == 65536);
  REQUIRE(fa(65536, 65536, proto::kFallocKeepSize) == 0);
  CHECK(lstat_of(t.ex("out/f")).st_size == 65536);
  CHECK(lstat_of(t.ex("out/f")).st_blocks >= 2 * 65536 / 512);
  REQUIRE(d.pwrite(h, 0, std::string(8192, 'x')).status == 0);
  REQUIRE(fa(0, 4096, proto::kFallocPunchHole | proto::kFallocKeepSize) == 0);
  REQUIRE(d.pread(h, 0, 8192).status == 0);
  CHECK(d.out_string() == std::string(4096, '\0') + std::string(4096, 'x'));
  // Zero range: what the local file system answers (tmpfs cannot), the service answers too.
  int local = ::open(t.ex("out/ref").c_str(), O_CREAT | O_RDWR, 0644);
  REQUIRE(local >= 0);
  const int ref = ::fallocate(local, FALLOC_FL_ZERO_RANGE, 0, 4096) == 0 ? 0 : errno;
  ::close(local);
  const int32_t got = fa(0, 4096, proto::kFallocZeroRange);
  CHECK(got == (ref == 0 ? 0 : proto::wire_status(proto::wire_error_from_errno(ref))));
}

TEST_CASE("v2: fallocate is kOpNotSupp where the file system cannot", "[files][v2]") {
  // tmpfs has no FALLOC_FL_ZERO_RANGE: the guest must see kOpNotSupp (then falls back).
  struct statvfs sv {};
  if (::statvfs("/dev/shm", &sv) != 0 || ::access("/dev/shm", W_OK) != 0) {
    WARN("no writable /dev/shm: skipped");
    return;
  }
  const char* old = std::getenv("TMPDIR");
  std::string saved = old ? old : "";
  ::setenv("TMPDIR", "/dev/shm", 1);
  TempTree t;
  if (old)
    ::setenv("TMPDIR", saved.c_str(), 1);
  else
    ::unsetenv("TMPDIR");
  int local = ::open(t.ex("out/ref").c_str(), O_CREAT | O_RDWR, 0644);
  REQUIRE(local >= 0);
  const bool unsupported =
      ::fallocate(local, FALLOC_FL_ZERO_RANGE, 0, 4096) != 0 && errno == EOPNOTSUPP;
  ::close(local);
  if (!unsupported) {
    WARN("/dev/shm supports zero-range here: skipped");
    return;
  }
  auto s = service(t);
  Driver d(*s);
  auto o = d.open("out/f", kCreateWrite, 0644);
  REQUIRE(o.status == 0);
  CHECK(d.call(Opcode::kFallocate, {}, {o.val[0], 0, 4096, proto::kFallocZeroRange}).status ==
        status_of(WireError::kOpNotSupp));
}

TEST_CASE("v2: fallocate checks its handle, length, range and flags", "[files][v2]") {
  TempTree t;
  auto s = service(t);
  Driver d(*s);
  auto ro = d.open("in/a.txt", proto::kOpenRead);
  REQUIRE(ro.status == 0);
  auto rw = d.open("out/f", kCreateWrite, 0644);
  REQUIRE(rw.status == 0);
  auto fa = [&](uint64_t h, uint64_t off, uint64_t len, uint64_t flags) {
    return d.call(Opcode::kFallocate, {}, {h, off, len, flags}).status;
  };
  CHECK(fa(ro.val[0], 0, 10, 0) == status_of(WireError::kBadF));
  CHECK(fa(999, 0, 10, 0) == status_of(WireError::kBadF));
  CHECK(fa(rw.val[0], 0, 0, 0) == status_of(WireError::kInval));
  CHECK(fa(rw.val[0], uint64_t{1} << 63, 10, 0) == status_of(WireError::kInval));
  CHECK(fa(rw.val[0], INT64_MAX, 10, 0) == status_of(WireError::kInval));
  CHECK(fa(rw.val[0], 0, uint64_t{1} << 63, 0) == status_of(WireError::kInval));
  for (uint64_t f : {uint64_t{proto::kFallocPunchHole}, uint64_t{8}, ~uint64_t{0}}) {
    CAPTURE(f);
    CHECK(fa(rw.val[0], 0, 10, f) == status_of(WireError::kInval));
  }
  CHECK(lstat_of(t.ex("out/f")).st_size == 0);
}

// ---- kSymlink, v2 -----------------------------------------------------------------------------

TEST_CASE("v2: a symlink target may have components longer than 255 bytes", "[files][v2]") {
  TempTree t;
  auto s = service(t);
  Driver d(*s);
  const std::string target = std::string(256, 'x') + "/" + std::string(300, 'y');
  REQUIRE(d.two_paths(Opcode::kSymlink, target, "out/long").status == 0);
  REQUIRE(d.call(Opcode::kReadlink, "out/long").status == 0);
  CHECK(d.out_string() == target);
  char buf[1024] = {};
  CHECK(::readlink(t.ex("out/long").c_str(), buf, sizeof(buf)) == ssize_t(target.size()));
  // Still confined: a long name does not hide a climb out of the export.
  CHECK(d.two_paths(Opcode::kSymlink, std::string(300, 'x') + "/../../..", "out/esc").status ==
        status_of(WireError::kXDev));
  CHECK_FALSE(TempTree::exists(t.ex("out/esc")));
}
