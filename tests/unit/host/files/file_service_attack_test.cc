// FileService against a hostile guest: every refusal has its wire error, and nothing outside
// the export (the sentinel directory beside it) ever changes.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>

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

std::unique_ptr<FileService> service(const TempTree& t, Policy p, uint32_t max_open = 1024,
                                     bool named_temp = false) {
  FileServiceConfig cfg;
  cfg.export_dir = t.export_dir;
  cfg.policy = std::move(p);
  cfg.max_open_files = max_open;
  cfg.max_pending_putfiles = 4;
  cfg.putfile_named_temp = named_temp;
  auto s = FileService::create(std::move(cfg));
  REQUIRE(s);
  return std::move(*s);
}

// The policy of a typical job: read in/, write out/, nothing else.
Policy in_out_policy() {
  auto p = Policy::create({"in"}, {"out"});
  REQUIRE(p);
  return std::move(*p);
}

constexpr uint64_t kWriteCreate = proto::kOpenWrite | proto::kOpenCreate;

}  // namespace

TEST_CASE("dot-dot and absolute paths are refused before they reach the file system",
          "[files][attack]") {
  TempTree t;
  const std::string before = TempTree::snapshot(t.sentinel_dir);
  auto s = service(t, Policy::read_write());
  Driver d(*s);
  const std::string abs_sentinel = t.sentinel_dir + "/passwd";
  for (std::string p : {std::string("../sentinel/passwd"), std::string("out/../../sentinel/passwd"),
                        std::string("/etc/passwd"), abs_sentinel, std::string("..")}) {
    CAPTURE(p);
    CHECK(d.open(p, kWriteCreate | proto::kOpenTruncate).status == status_of(WireError::kInval));
    CHECK(d.call(Opcode::kStat, p).status == status_of(WireError::kInval));
    CHECK(d.getfile(p, 0).status == status_of(WireError::kInval));
    CHECK(d.putfile(p, 0, "pwned", true).status == status_of(WireError::kInval));
    CHECK(d.call(Opcode::kUnlink, p).status == status_of(WireError::kInval));
    CHECK(d.two_paths(Opcode::kRename, "in/a.txt", p).status == status_of(WireError::kInval));
  }
  CHECK(TempTree::snapshot(t.sentinel_dir) == before);
}

TEST_CASE("symlinks pointing out of the export are never followed, for any opcode",
          "[files][attack]") {
  TempTree t;
  REQUIRE(::symlink("../../sentinel", t.ex("out/rel").c_str()) == 0);
  REQUIRE(::symlink(t.sentinel_dir.c_str(), t.ex("out/abs").c_str()) == 0);
  REQUIRE(::symlink("../../sentinel/passwd", t.ex("out/file").c_str()) == 0);
  REQUIRE(::symlink("/proc/self/root", t.ex("out/magic").c_str()) == 0);
  const std::string before = TempTree::snapshot(t.sentinel_dir);
  auto s = service(t, Policy::read_write());
  Driver d(*s);
  for (const char* p :
       {"out/rel/passwd", "out/abs/passwd", "out/file", "out/magic/etc/passwd", "out/rel/dir/x"}) {
    CAPTURE(p);
    CHECK(d.open(p, proto::kOpenRead).status == status_of(WireError::kXDev));
    CHECK(d.open(p, proto::kOpenWrite | proto::kOpenTruncate).status ==
          status_of(WireError::kXDev));
    CHECK(d.call(Opcode::kStat, p).status == status_of(WireError::kXDev));
    CHECK(d.getfile(p, 0).status == status_of(WireError::kXDev));
    CHECK(d.call(Opcode::kTruncate, p, {0, 0, 0, 0}).status == status_of(WireError::kXDev));
  }
  // Through an escaping directory link, name-changing calls are refused too.
  for (const char* p : {"out/rel/new", "out/abs/dir/x", "out/magic/tmp/x"}) {
    CAPTURE(p);
    CHECK(d.open(p, kWriteCreate).status == status_of(WireError::kXDev));
    CHECK(d.call(Opcode::kMkdir, p, {0755, 0, 0, 0}).status == status_of(WireError::kXDev));
    CHECK(d.call(Opcode::kUnlink, p).status == status_of(WireError::kXDev));
    CHECK(d.putfile(p, 0, "pwned", true).status == status_of(WireError::kXDev));
    CHECK(d.two_paths(Opcode::kRename, "in/a.txt", p).status == status_of(WireError::kXDev));
    CHECK(d.two_paths(Opcode::kSymlink, "x", p).status == status_of(WireError::kXDev));
  }
  CHECK(d.call(Opcode::kReaddir, "out/abs").status == status_of(WireError::kXDev));
  // Acting on the link itself stays inside the export: putfile replaces the link, not its
  // target (rename does not follow).
  REQUIRE(d.putfile("out/file", 0, "replaced", true).status == 0);
  CHECK(TempTree::read_file(t.ex("out/file")) == "replaced");
  REQUIRE(d.call(Opcode::kUnlink, "out/abs").status == 0);
  CHECK(TempTree::snapshot(t.sentinel_dir) == before);
}

TEST_CASE("a guest cannot create a symlink that points out of the export", "[files][attack]") {
  TempTree t;
  auto s = service(t, Policy::read_write());
  Driver d(*s);
  for (std::string target : {std::string("../../sentinel"), t.sentinel_dir + "/passwd",
                             std::string("/proc/self/root"), std::string("a/../../..")}) {
    CAPTURE(target);
    CHECK(d.two_paths(Opcode::kSymlink, target, "out/l").status == status_of(WireError::kXDev));
    CHECK_FALSE(TempTree::exists(t.ex("out/l")));
  }
  CHECK(d.two_paths(Opcode::kSymlink, "../in", "out/ok").status == 0);
}

TEST_CASE("the policy is checked where a symlink really leads, not where it sits",
          "[files][attack]") {
  TempTree t;
  // Links a hostile job could plant in its writable area.
  REQUIRE(::symlink("../secret", t.ex("out/to-secret").c_str()) == 0);
  REQUIRE(::symlink("../in/a.txt", t.ex("out/to-input").c_str()) == 0);
  REQUIRE(::symlink("../in", t.ex("out/to-in-dir").c_str()) == 0);
  auto s = service(t, in_out_policy());
  Driver d(*s);
  CHECK(d.getfile("out/to-secret/s.txt", 0).status == status_of(WireError::kAcces));
  CHECK(d.call(Opcode::kStat, "out/to-secret").status == status_of(WireError::kAcces));
  CHECK(d.call(Opcode::kReaddir, "out/to-secret").status == status_of(WireError::kAcces));
  // in/ is readable, not writable: a write through out/ must not reach it.
  CHECK(d.getfile_all("out/to-input") == "alpha\n");
  CHECK(d.open("out/to-input", proto::kOpenWrite | proto::kOpenTruncate).status ==
        status_of(WireError::kAcces));
  CHECK(d.call(Opcode::kTruncate, "out/to-input", {0, 0, 0, 0}).status ==
        status_of(WireError::kAcces));
  CHECK(d.putfile("out/to-in-dir/a.txt", 0, "pwned", true).status == status_of(WireError::kAcces));
  CHECK(d.call(Opcode::kUnlink, "out/to-in-dir/a.txt").status == status_of(WireError::kAcces));
  CHECK(d.two_paths(Opcode::kRename, "out/to-in-dir/a.txt", "out/stolen").status ==
        status_of(WireError::kAcces));
  CHECK(d.open("out/to-in-dir/new", kWriteCreate).status == status_of(WireError::kAcces));
  CHECK(TempTree::read_file(t.ex("in/a.txt")) == "alpha\n");
  CHECK(TempTree::list(t.ex("in")) == std::vector<std::string>{"a.txt", "sub"});
}

TEST_CASE("the policy refuses reads and writes it does not grant with kAcces", "[files][attack]") {
  TempTree t;
  auto s = service(t, in_out_policy());
  Driver d(*s);
  CHECK(d.open("secret/s.txt", proto::kOpenRead).status == status_of(WireError::kAcces));
  CHECK(d.getfile("secret/s.txt", 0).status == status_of(WireError::kAcces));
  CHECK(d.call(Opcode::kStat, "secret").status == status_of(WireError::kAcces));
  CHECK(d.open("in/a.txt", proto::kOpenWrite).status == status_of(WireError::kAcces));
  CHECK(d.open("in/new", kWriteCreate).status == status_of(WireError::kAcces));
  CHECK(d.call(Opcode::kMkdir, "in/d", {0755, 0, 0, 0}).status == status_of(WireError::kAcces));
  CHECK(d.call(Opcode::kUnlink, "in/a.txt").status == status_of(WireError::kAcces));
  CHECK(d.putfile("in/a.txt", 0, "x", true).status == status_of(WireError::kAcces));
  CHECK(d.two_paths(Opcode::kRename, "in/a.txt", "out/a").status == status_of(WireError::kAcces));
  CHECK(d.two_paths(Opcode::kSymlink, "a.txt", "in/l").status == status_of(WireError::kAcces));
  // Allowed: reading in/, writing out/, and looking up the root that leads to them.
  CHECK(d.getfile_all("in/a.txt") == "alpha\n");
  CHECK(d.putfile("out/x", 0, "ok", true).status == 0);
  CHECK(d.call(Opcode::kStat, ".").status == 0);
  auto r = d.call(Opcode::kReaddir, ".");
  REQUIRE(r.status == 0);
  auto ents = proto::decode_dirents(d.out(), r.val[0]);
  REQUIRE(ents);
  std::vector<std::string> names;
  for (auto& e : *ents) names.push_back(e.name);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"in", "out"});  // secret is not even listed
  CHECK(TempTree::read_file(t.ex("in/a.txt")) == "alpha\n");
}

TEST_CASE("a directory swapped for an escaping symlink between calls is refused",
          "[files][attack]") {
  TempTree t;
  std::filesystem::create_directories(t.ex("out/d"));
  const std::string before = TempTree::snapshot(t.sentinel_dir);
  auto s = service(t, Policy::read_write());
  Driver d(*s);
  REQUIRE(d.putfile("out/d/f", 0, "first", true).status == 0);
  auto h = d.open("out/d/f", proto::kOpenRead | proto::kOpenWrite);
  REQUIRE(h.status == 0);
  // The swap (as a racing process on the host side, or another guest thread, could do).
  REQUIRE(::rename(t.ex("out/d").c_str(), t.ex("out/d-moved").c_str()) == 0);
  REQUIRE(::symlink((t.sentinel_dir + "/dir").c_str(), t.ex("out/d").c_str()) == 0);
  CHECK(d.putfile("out/d/x", 0, "pwned", true).status == status_of(WireError::kXDev));
  CHECK(d.open("out/d/x", kWriteCreate).status == status_of(WireError::kXDev));
  CHECK(d.call(Opcode::kUnlink, "out/d/x").status == status_of(WireError::kXDev));
  // The handle opened before the swap still names the file that was checked.
  REQUIRE(d.pwrite(h.val[0], 0, "FIRST").status == 0);
  CHECK(TempTree::read_file(t.ex("out/d-moved/f")) == "FIRST");
  CHECK(TempTree::snapshot(t.sentinel_dir) == before);
}

TEST_CASE("FIFOs and device nodes in the export are refused without blocking", "[files][attack]") {
  TempTree t;
  REQUIRE(::mkfifo(t.ex("in/fifo").c_str(), 0666) == 0);
  auto s = service(t, Policy::read_write());
  Driver d(*s);
  CHECK(d.open("in/fifo", proto::kOpenRead).status == status_of(WireError::kAcces));
  CHECK(d.open("in/fifo", proto::kOpenWrite).status == status_of(WireError::kAcces));
  CHECK(d.getfile("in/fifo", 0).status == status_of(WireError::kAcces));
  CHECK(d.call(Opcode::kTruncate, "in/fifo", {0, 0, 0, 0}).status == status_of(WireError::kAcces));
  CHECK(d.call(Opcode::kLstat, "in/fifo").status == 0);  // metadata is fine
}

TEST_CASE("forged, stale and closed handles are kBadF and never reach another file",
          "[files][attack]") {
  TempTree t;
  auto s = service(t, Policy::read_write());
  Driver d(*s);
  auto a = d.open("in/a.txt", proto::kOpenRead);
  REQUIRE(a.status == 0);
  REQUIRE(d.close(a.val[0]).status == 0);
  auto b = d.open("in/sub/b.txt", proto::kOpenRead | proto::kOpenWrite);  // reuses the slot
  REQUIRE(b.status == 0);
  for (uint64_t h : {a.val[0], uint64_t{0}, uint64_t{1}, b.val[0] + 1,
                     b.val[0] ^ (uint64_t{1} << 40), ~uint64_t{0}, b.val[0] & 0xffffffffu}) {
    CAPTURE(h);
    CHECK(d.pread(h, 0, 10).status == status_of(WireError::kBadF));
    CHECK(d.pwrite(h, 0, "x").status == status_of(WireError::kBadF));
    CHECK(d.call(Opcode::kFstat, {}, {h, 0, 0, 0}).status == status_of(WireError::kBadF));
    CHECK(d.call(Opcode::kFsync, {}, {h, 0, 0, 0}).status == status_of(WireError::kBadF));
    CHECK(d.call(Opcode::kFtruncate, {}, {h, 0, 0, 0}).status == status_of(WireError::kBadF));
    CHECK(d.close(h).status == status_of(WireError::kBadF));
  }
  CHECK(TempTree::read_file(t.ex("in/sub/b.txt")) == "bravo\n");
  CHECK(d.close(b.val[0]).status == 0);
}

TEST_CASE("the handle table limit is kMFile, and end_connection frees it", "[files][attack]") {
  TempTree t;
  auto s = service(t, Policy::read_write(), 4);
  Driver d(*s);
  for (int i = 0; i < 4; ++i) REQUIRE(d.open("in/a.txt", proto::kOpenRead).status == 0);
  CHECK(d.open("in/a.txt", proto::kOpenRead).status == status_of(WireError::kMFile));
  s->end_connection();
  CHECK(s->open_handles() == 0);
  CHECK(d.open("in/a.txt", proto::kOpenRead).status == 0);
}

TEST_CASE("oversized and out-of-range lengths are refused", "[files][attack]") {
  TempTree t;
  auto s = service(t, Policy::read_write());
  Driver d(*s, 4096);
  auto h = d.open("in/a.txt", proto::kOpenRead | proto::kOpenWrite);
  REQUIRE(h.status == 0);
  CHECK(d.pread(h.val[0], 0, 4097).status == status_of(WireError::kInval));
  CHECK(d.pread(h.val[0], 0, ~uint64_t{0}).status == status_of(WireError::kInval));
  CHECK(d.pread(h.val[0], ~uint64_t{0}, 1).status == status_of(WireError::kInval));
  CHECK(d.pread(h.val[0], uint64_t{INT64_MAX}, 10).status == status_of(WireError::kInval));
  CHECK(d.pwrite(h.val[0], uint64_t{INT64_MAX}, "x").status == status_of(WireError::kInval));
  CHECK(d.call(Opcode::kFtruncate, {}, {h.val[0], ~uint64_t{0}, 0, 0}).status ==
        status_of(WireError::kInval));
  CHECK(d.call(Opcode::kTruncate, "in/a.txt", {~uint64_t{0}, 0, 0, 0}).status ==
        status_of(WireError::kInval));
  CHECK(d.getfile("in/a.txt", ~uint64_t{0}).status == status_of(WireError::kInval));
  // Putfile's path length beyond the payload, zero, or huge.
  for (uint64_t bad : {uint64_t{0}, uint64_t{100}, uint64_t{5000}, ~uint64_t{0}}) {
    CAPTURE(bad);
    CHECK(d.call(Opcode::kPutfile, "out/x", {bad, 0, 0, 0}).status == status_of(WireError::kInval));
  }
  // Rename/symlink split lengths that do not split the payload.
  for (uint64_t bad : {uint64_t{0}, uint64_t{13}, uint64_t{14}, ~uint64_t{0}}) {
    CAPTURE(bad);
    CHECK(d.call(Opcode::kRename, "in/a.txtout/b", {bad, 0, 0, 0}).status ==
          status_of(WireError::kInval));
  }
  // A split in the wrong place leaves a non-canonical half ("in/" + "a.txtout/b").
  CHECK(d.call(Opcode::kRename, "in/a.txtout/b", {3, 0, 0, 0}).status ==
        status_of(WireError::kInval));
  d.resize(8192);
  CHECK(d.call(Opcode::kStat, std::string(proto::kMaxPathBytes + 1, 'a')).status ==
        status_of(WireError::kNameTooLong));
  CHECK(d.call(Opcode::kStat, "in/" + std::string(300, 'a')).status ==
        status_of(WireError::kNameTooLong));
  CHECK(d.call(Opcode::kStat, "").status == status_of(WireError::kInval));
  d.resize(32);
  CHECK(d.call(Opcode::kStat, "in/a.txt").status == status_of(WireError::kOverflow));
  CHECK(TempTree::read_file(t.ex("in/a.txt")) == "alpha\n");
}

TEST_CASE("paths with NUL bytes are refused, not truncated", "[files][attack]") {
  TempTree t;
  TempTree::write_file(t.ex("out/victim"), "keep");
  auto s = service(t, Policy::read_write());
  Driver d(*s);
  // A C API would see "out/victim": the NUL must not truncate the checked path.
  const std::string nul_path("out/victim\0/../../sentinel", 26);
  CHECK(d.call(Opcode::kUnlink, nul_path).status == status_of(WireError::kInval));
  CHECK(d.open(nul_path, proto::kOpenWrite | proto::kOpenTruncate).status ==
        status_of(WireError::kInval));
  CHECK(d.putfile(nul_path, 0, "x", true).status == status_of(WireError::kInval));
  CHECK(d.two_paths(Opcode::kSymlink, std::string("a\0b", 3), "out/l").status ==
        status_of(WireError::kInval));
  CHECK(TempTree::read_file(t.ex("out/victim")) == "keep");
}

TEST_CASE("flags on opcodes that define none are kProto", "[files][attack]") {
  TempTree t;
  auto s = service(t, Policy::read_write());
  Driver d(*s);
  CHECK(d.call(Opcode::kStat, "in/a.txt", {}, 1).status == status_of(WireError::kProto));
  CHECK(d.call(Opcode::kUnlink, "in/a.txt", {}, 0x8000).status == status_of(WireError::kProto));
  CHECK(d.call(Opcode::kPutfile, "out/x", {5, 0, 0, 0}, 2).status == status_of(WireError::kProto));
  CHECK(TempTree::exists(t.ex("in/a.txt")));
}

TEST_CASE("an interrupted putfile leaves the old target intact and no temporary behind",
          "[files][attack]") {
  for (bool named : {false, true}) {
    CAPTURE(named);
    TempTree t;
    TempTree::write_file(t.ex("out/result"), "the old result");
    auto s = service(t, Policy::read_write(), 1024, named);
    Driver d(*s);
    REQUIRE(d.putfile("out/result", 0, "half of the ", false).status == 0);
    REQUIRE(d.putfile("out/result", 12, "new one", false).status == 0);
    if (named) CHECK(TempTree::list(t.ex("out")).size() == 2);  // the hidden temp exists now
    // Continuing an upload that was never started is refused.
    CHECK(d.putfile("out/other", 5, "x", true).status == status_of(WireError::kBadF));
    s->end_connection();  // the connection dies before the final chunk
    CHECK(TempTree::read_file(t.ex("out/result")) == "the old result");
    CHECK(TempTree::list(t.ex("out")) == std::vector<std::string>{"result"});
    CHECK(s->pending_putfiles() == 0);
    // The final chunk of the dropped upload finds nothing to commit.
    CHECK(d.putfile("out/result", 19, "", true).status == status_of(WireError::kBadF));
    CHECK(TempTree::read_file(t.ex("out/result")) == "the old result");
  }
}

TEST_CASE("a destroyed service discards its unfinished uploads", "[files][attack]") {
  TempTree t;
  {
    auto s = service(t, Policy::read_write(), 1024, true);
    Driver d(*s);
    REQUIRE(d.putfile("out/x", 0, "partial", false).status == 0);
    CHECK(TempTree::list(t.ex("out")).size() == 1);
  }
  CHECK(TempTree::list(t.ex("out")).empty());
}

TEST_CASE("unfinished putfiles are bounded per connection", "[files][attack]") {
  TempTree t;
  auto s = service(t, Policy::read_write());  // max_pending_putfiles = 4
  Driver d(*s);
  for (int i = 0; i < 4; ++i)
    REQUIRE(d.putfile("out/f" + std::to_string(i), 0, "x", false).status == 0);
  CHECK(d.putfile("out/f9", 0, "x", false).status == status_of(WireError::kMFile));
  // Restarting an existing upload is not a new one.
  CHECK(d.putfile("out/f0", 0, "y", false).status == 0);
  REQUIRE(d.putfile("out/f1", 1, "", true).status == 0);
  CHECK(d.putfile("out/f9", 0, "x", false).status == 0);
}

TEST_CASE("a guest file made too large is kFBig, and the host survives", "[files][attack]") {
  TempTree t;
  auto s = service(t, Policy::read_write());  // ignores SIGXFSZ
  Driver d(*s);
  auto h = d.open("out/big", kWriteCreate);
  REQUIRE(h.status == 0);
  struct rlimit old {};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
  struct rlimit lim = old;
  lim.rlim_cur = 4096;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &lim) == 0);
  auto w = d.pwrite(h.val[0], 8192, "beyond the limit");
  auto tr = d.call(Opcode::kFtruncate, {}, {h.val[0], 1 << 20, 0, 0});
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
  CHECK(w.status == status_of(WireError::kFBig));
  CHECK(tr.status == status_of(WireError::kFBig));
}

TEST_CASE("garbage readdir cookies give an error or a position, nothing worse", "[files][attack]") {
  TempTree t;
  auto s = service(t, Policy::read_write());
  Driver d(*s);
  for (uint64_t cookie : {uint64_t{1}, uint64_t{12345}, uint64_t{INT64_MAX},
                          uint64_t{INT64_MAX} + 1, ~uint64_t{0}, uint64_t{0x7fffffff}}) {
    CAPTURE(cookie);
    auto r = d.call(Opcode::kReaddir, "in", {cookie, 0, 0, 0});
    CHECK((r.status == 0 || r.status == status_of(WireError::kInval)));
    if (r.status == 0) CHECK(proto::decode_dirents(d.out(), r.val[0]));
  }
  CHECK(d.call(Opcode::kReaddir, "in").status == 0);
}

// The HTCondor service reserves the wrapper's files at the top of the scratch dir
// (host/service/service_protocol.h): a job can neither read one, nor list it, nor plant one
// by any opcode (a planted restore file would reach libxl's restore at the relaunch).
TEST_CASE("reserved names can be neither read, listed, created, renamed onto nor linked",
          "[files][attack]") {
  TempTree t;
  TempTree::write_file(t.ex("ringbox.restore"), "saved domain");
  auto p = Policy::read_write().with_reserved({"ringbox.restore", "ringbox.stdout"});
  REQUIRE(p);
  auto s = service(t, std::move(*p));
  Driver d(*s);
  const int acces = status_of(WireError::kAcces);
  // Read or looked up, it is not there (it is not listed either); planted, it is refused.
  const int noent = status_of(WireError::kNoEnt);
  CHECK(d.open("ringbox.restore", proto::kOpenRead).status == noent);
  CHECK(d.getfile("ringbox.restore", 0).status == noent);
  CHECK(d.call(Opcode::kStat, "ringbox.restore").status == noent);
  CHECK(d.call(Opcode::kLstat, "ringbox.restore").status == noent);
  CHECK(d.open("ringbox.restore", proto::kOpenWrite | proto::kOpenTruncate).status == acces);
  CHECK(d.call(Opcode::kUnlink, "ringbox.restore").status == acces);
  CHECK(d.open("ringbox.stdout", kWriteCreate).status == acces);
  CHECK(d.putfile("ringbox.stdout", 0, "planted", true).status == acces);
  CHECK(d.call(Opcode::kMkdir, "ringbox.stdout", {0755, 0, 0, 0}).status == acces);
  CHECK(d.putfile("out/forged", 0, "forged", true).status == 0);
  CHECK(d.two_paths(Opcode::kRename, "out/forged", "ringbox.restore").status == acces);
  CHECK(d.two_paths(Opcode::kLink, "out/forged", "ringbox.stdout").status == acces);
  CHECK(d.two_paths(Opcode::kSymlink, "out/forged", "ringbox.stdout").status == acces);
  // A link the job plants elsewhere does not lead into it either.
  CHECK(d.two_paths(Opcode::kSymlink, "../ringbox.restore", "out/to-restore").status == 0);
  CHECK(d.getfile("out/to-restore", 0).status == noent);  // as a dangling symlink
  auto r = d.call(Opcode::kReaddir, ".");
  REQUIRE(r.status == 0);
  auto ents = proto::decode_dirents(d.out(), r.val[0]);
  REQUIRE(ents);
  for (auto& e : *ents) CHECK(e.name != "ringbox.restore");
  CHECK(TempTree::read_file(t.ex("ringbox.restore")) == "saved domain");
  CHECK_FALSE(std::filesystem::exists(t.ex("ringbox.stdout")));
}

// What a path through a reserved name answers must not tell the name exists: every opcode
// answers as it does through a name that is not there (a plain "absent/x" is the reference).
TEST_CASE("a path through a reserved name answers as through a name that is not there",
          "[files][attack]") {
  TempTree t;
  TempTree::write_file(t.ex("ringbox.restore"), "saved domain");
  auto p = Policy::read_write().with_reserved({"ringbox.restore"});
  REQUIRE(p);
  auto s = service(t, std::move(*p));
  Driver d(*s);
  auto answers = [&](const std::string& dir) {
    const std::string x = dir + "/x";
    std::vector<int> st;
    st.push_back(d.open(x, proto::kOpenRead).status);
    st.push_back(d.open(x, kWriteCreate).status);
    st.push_back(d.getfile(x, 0).status);
    st.push_back(d.putfile(x, 0, "planted", true).status);
    st.push_back(d.call(Opcode::kStat, x).status);
    st.push_back(d.call(Opcode::kLstat, x).status);
    st.push_back(d.call(Opcode::kReaddir, x).status);
    st.push_back(d.call(Opcode::kMkdir, x, {0755, 0, 0, 0}).status);
    st.push_back(d.call(Opcode::kUnlink, x).status);
    st.push_back(d.call(Opcode::kRmdir, x).status);
    st.push_back(d.call(Opcode::kReadlink, x).status);
    st.push_back(d.two_paths(Opcode::kSymlink, "target", x).status);
    st.push_back(d.two_paths(Opcode::kRename, x, "y").status);
    st.push_back(d.two_paths(Opcode::kLink, x, "y").status);
    return st;
  };
  const auto absent = answers("absent");
  const auto through = answers("ringbox.restore");
  for (size_t i = 0; i < absent.size(); ++i) {
    INFO("call " << i);
    CHECK(absent[i] == status_of(WireError::kNoEnt));
    CHECK(through[i] == absent[i]);
  }
  // Through a symlink the job made: as through a dangling one.
  REQUIRE(::symlink("../ringbox.restore", t.ex("out/to-restore").c_str()) == 0);
  REQUIRE(::symlink("../absent", t.ex("out/dangling").c_str()) == 0);
  const auto dangling = answers("out/dangling");
  const auto linked = answers("out/to-restore");
  for (size_t i = 0; i < dangling.size(); ++i) {
    INFO("call " << i << " through a symlink");
    CHECK(linked[i] == dangling[i]);
  }
  // A symlink whose text walks through the name: as one whose text walks through nothing.
  REQUIRE(::symlink("../ringbox.restore/x", t.ex("out/via").c_str()) == 0);
  REQUIRE(::symlink("../absent/x", t.ex("out/via-absent").c_str()) == 0);
  CHECK(d.call(Opcode::kStat, "out/via").status == d.call(Opcode::kStat, "out/via-absent").status);
  CHECK(d.getfile("out/via", 0).status == d.getfile("out/via-absent", 0).status);
  const auto via_absent = answers("out/via-absent");
  const auto via = answers("out/via");
  for (size_t i = 0; i < via_absent.size(); ++i) {
    INFO("call " << i << " through a symlink whose text goes through the name");
    CHECK(via[i] == via_absent[i]);
  }
  // A name that is not reserved still says ENOTDIR, as POSIX wants.
  TempTree::write_file(t.ex("out/plain"), "a file");
  CHECK(d.call(Opcode::kStat, "out/plain/x").status == status_of(WireError::kNotDir));
  CHECK(TempTree::read_file(t.ex("ringbox.restore")) == "saved domain");
}
