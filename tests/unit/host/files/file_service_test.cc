// FileService: the happy path of every file opcode, on real files in a temporary export.
#include "host/files/file_service.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <set>

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

std::unique_ptr<FileService> service(const TempTree& t, Policy p = Policy::read_write(),
                                     bool named_temp = false) {
  FileServiceConfig cfg;
  cfg.export_dir = t.export_dir;
  cfg.policy = std::move(p);
  cfg.putfile_named_temp = named_temp;
  auto s = FileService::create(std::move(cfg));
  REQUIRE(s);
  return std::move(*s);
}

proto::WireStat stat_reply(const Driver& d) {
  auto ws = proto::decode_wire_stat(d.out());
  REQUIRE(ws);
  return *ws;
}

}  // namespace

TEST_CASE("open, pread and close a file", "[files][service]") {
  TempTree t;
  auto s = service(t);
  Driver d(*s);
  auto o = d.open("in/a.txt", proto::kOpenRead);
  REQUIRE(o.status == 0);
  CHECK(o.val[0] != 0);
  REQUIRE(o.out_len == sizeof(proto::WireStat));
  CHECK(stat_reply(d).size == 6);
  CHECK(S_ISREG(stat_reply(d).mode));
  const uint64_t h = o.val[0];
  auto r = d.pread(h, 0, 100);
  REQUIRE(r.status == 0);
  CHECK(d.out_string() == "alpha\n");
  CHECK(r.val[0] == 6);
  auto mid = d.pread(h, 2, 2);
  REQUIRE(mid.status == 0);
  CHECK(d.out_string() == "ph");
  auto eof = d.pread(h, 100, 10);
  REQUIRE(eof.status == 0);
  CHECK(eof.out_len == 0);
  CHECK(d.close(h).status == 0);
  CHECK(s->open_handles() == 0);
}

TEST_CASE("open with a buffer too small for WireStat still returns the handle",
          "[files][service]") {
  TempTree t;
  auto s = service(t);
  Driver d(*s, 32);
  auto o = d.open("in/a.txt", proto::kOpenRead);
  REQUIRE(o.status == 0);
  CHECK(o.val[0] != 0);
  CHECK(o.out_len == 0);
}

TEST_CASE("create, pwrite, fstat, fsync and ftruncate a new file", "[files][service]") {
  TempTree t;
  auto s = service(t);
  Driver d(*s);
  auto o = d.open("out/new.txt", proto::kOpenRead | proto::kOpenWrite | proto::kOpenCreate, 06755);
  REQUIRE(o.status == 0);
  const uint64_t h = o.val[0];
  auto w = d.pwrite(h, 0, "hello world");
  REQUIRE(w.status == 0);
  CHECK(w.val[0] == 11);
  REQUIRE(d.call(Opcode::kFsync, {}, {h, 0, 0, 0}).status == 0);
  REQUIRE(d.call(Opcode::kFtruncate, {}, {h, 5, 0, 0}).status == 0);
  auto f = d.call(Opcode::kFstat, {}, {h, 0, 0, 0});
  REQUIRE(f.status == 0);
  CHECK(stat_reply(d).size == 5);
  // setuid/setgid bits from the guest are dropped: a guest-made setuid file on the host would
  // be a privilege.
  CHECK((stat_reply(d).mode & 07000) == 0);
  REQUIRE(d.close(h).status == 0);
  CHECK(TempTree::read_file(t.ex("out/new.txt")) == "hello");
}

TEST_CASE("open flags: exclusive, truncate, append and directory behave as open(2)",
          "[files][service]") {
  TempTree t;
  auto s = service(t);
  Driver d(*s);
  auto excl = d.open("in/a.txt", proto::kOpenWrite | proto::kOpenCreate | proto::kOpenExclusive);
  CHECK(excl.status == status_of(WireError::kExist));
  auto existing = d.open("in/a.txt", proto::kOpenWrite | proto::kOpenCreate);
  REQUIRE(existing.status == 0);  // create without exclusive opens what is there
  CHECK(d.close(existing.val[0]).status == 0);
  auto app = d.open("in/a.txt", proto::kOpenWrite | proto::kOpenAppend);
  REQUIRE(app.status == 0);
  REQUIRE(d.pwrite(app.val[0], 0, "more\n").status == 0);  // offset ignored with append
  CHECK(d.close(app.val[0]).status == 0);
  CHECK(TempTree::read_file(t.ex("in/a.txt")) == "alpha\nmore\n");
  auto tr = d.open("in/a.txt", proto::kOpenRead | proto::kOpenTruncate);  // v2: as open(2)
  REQUIRE(tr.status == 0);
  CHECK(d.close(tr.val[0]).status == 0);
  CHECK(TempTree::read_file(t.ex("in/a.txt")).empty());
  auto dir = d.open("in", proto::kOpenRead | proto::kOpenDirectory);
  REQUIRE(dir.status == 0);
  CHECK(S_ISDIR(stat_reply(d).mode));
  CHECK(d.pread(dir.val[0], 0, 10).status == status_of(WireError::kIsDir));
  CHECK(d.call(Opcode::kFsync, {}, {dir.val[0], 0, 0, 0}).status == 0);
  CHECK(d.close(dir.val[0]).status == 0);
  CHECK(d.open("in/sub/b.txt", proto::kOpenRead | proto::kOpenDirectory).status ==
        status_of(WireError::kNotDir));
  CHECK(d.open("in", proto::kOpenWrite).status == status_of(WireError::kIsDir));
}

TEST_CASE("a read-only handle cannot write and a write-only handle cannot read",
          "[files][service]") {
  TempTree t;
  auto s = service(t);
  Driver d(*s);
  auto ro = d.open("in/a.txt", proto::kOpenRead);
  REQUIRE(ro.status == 0);
  CHECK(d.pwrite(ro.val[0], 0, "x").status == status_of(WireError::kBadF));
  CHECK(d.call(Opcode::kFtruncate, {}, {ro.val[0], 0, 0, 0}).status == status_of(WireError::kBadF));
  auto wo = d.open("in/a.txt", proto::kOpenWrite);
  REQUIRE(wo.status == 0);
  CHECK(d.pread(wo.val[0], 0, 1).status == status_of(WireError::kBadF));
  CHECK(TempTree::read_file(t.ex("in/a.txt")) == "alpha\n");
}

TEST_CASE("stat follows a final symlink and lstat does not", "[files][service]") {
  TempTree t;
  REQUIRE(::symlink("a.txt", t.ex("in/alink").c_str()) == 0);
  auto s = service(t);
  Driver d(*s);
  REQUIRE(d.call(Opcode::kStat, "in/alink").status == 0);
  CHECK(S_ISREG(stat_reply(d).mode));
  CHECK(stat_reply(d).size == 6);
  REQUIRE(d.call(Opcode::kLstat, "in/alink").status == 0);
  CHECK(S_ISLNK(stat_reply(d).mode));
  REQUIRE(d.call(Opcode::kStat, ".").status == 0);
  CHECK(S_ISDIR(stat_reply(d).mode));
  CHECK(d.call(Opcode::kStat, "in/missing").status == status_of(WireError::kNoEnt));
}

TEST_CASE("readdir lists every entry once, resumable by cookie with a small buffer",
          "[files][service]") {
  TempTree t;
  std::set<std::string> expect;
  for (int i = 0; i < 150; ++i) {
    std::string name = "entry-" + std::to_string(i) + std::string(i % 40, 'x');
    TempTree::write_file(t.ex("out/" + name), "");
    expect.insert(name);
  }
  auto s = service(t);
  Driver d(*s, 1024);  // a few records per call
  std::set<std::string> got;
  uint64_t cookie = 0;
  int calls = 0;
  for (bool end = false; !end; ++calls) {
    REQUIRE(calls < 1000);
    auto r = d.call(Opcode::kReaddir, "out", {cookie, 0, 0, 0});
    REQUIRE(r.status == 0);
    auto ents = proto::decode_dirents(d.out(), r.val[0]);
    REQUIRE(ents);
    for (auto& e : *ents) {
      CHECK(got.insert(e.name).second);  // no duplicates across pages
      CHECK(e.type == DT_REG);
      cookie = e.next_cookie;
    }
    end = r.val[1] == 1;
  }
  CHECK(calls > 5);
  CHECK(got == expect);
}

TEST_CASE("readdir never lists dot entries and says when not even one entry fits",
          "[files][service]") {
  TempTree t;
  auto s = service(t);
  Driver d(*s);
  auto r = d.call(Opcode::kReaddir, "in");
  REQUIRE(r.status == 0);
  CHECK(r.val[1] == 1);
  auto ents = proto::decode_dirents(d.out(), r.val[0]);
  REQUIRE(ents);
  std::set<std::string> names;
  for (auto& e : *ents) names.insert(e.name);
  CHECK(names == std::set<std::string>{"a.txt", "sub"});
  d.resize(16);
  auto tiny = d.call(Opcode::kReaddir, "in");
  CHECK(tiny.status == status_of(WireError::kOverflow));
  CHECK(d.call(Opcode::kReaddir, "in/a.txt").status != 0);
}

TEST_CASE("mkdir, rename, unlink and rmdir change the export", "[files][service]") {
  TempTree t;
  auto s = service(t);
  Driver d(*s);
  REQUIRE(d.call(Opcode::kMkdir, "out/dir", {0755, 0, 0, 0}).status == 0);
  CHECK(std::filesystem::is_directory(t.ex("out/dir")));
  CHECK(d.call(Opcode::kMkdir, "out/dir", {0755, 0, 0, 0}).status == status_of(WireError::kExist));
  TempTree::write_file(t.ex("out/dir/f"), "data");
  REQUIRE(d.two_paths(Opcode::kRename, "out/dir/f", "out/g").status == 0);
  CHECK(TempTree::read_file(t.ex("out/g")) == "data");
  CHECK(d.call(Opcode::kRmdir, "in").status == status_of(WireError::kNotEmpty));
  REQUIRE(d.call(Opcode::kRmdir, "out/dir").status == 0);
  REQUIRE(d.call(Opcode::kUnlink, "out/g").status == 0);
  CHECK(TempTree::list(t.ex("out")).empty());
  CHECK(d.call(Opcode::kUnlink, "out/g").status == status_of(WireError::kNoEnt));
}

TEST_CASE("truncate shortens a file by path", "[files][service]") {
  TempTree t;
  auto s = service(t);
  Driver d(*s);
  REQUIRE(d.call(Opcode::kTruncate, "in/sub/b.txt", {3, 0, 0, 0}).status == 0);
  CHECK(TempTree::read_file(t.ex("in/sub/b.txt")) == "bra");
  CHECK(d.call(Opcode::kTruncate, "in", {0, 0, 0, 0}).status == status_of(WireError::kIsDir));
}

TEST_CASE("symlink and readlink round-trip a link inside the export", "[files][service]") {
  TempTree t;
  auto s = service(t);
  Driver d(*s);
  REQUIRE(d.two_paths(Opcode::kSymlink, "../in/a.txt", "out/link").status == 0);
  REQUIRE(d.call(Opcode::kReadlink, "out/link").status == 0);
  CHECK(d.out_string() == "../in/a.txt");
  CHECK(d.getfile_all("out/link") == "alpha\n");  // getfile follows it
  CHECK(d.call(Opcode::kReadlink, "in/a.txt").status == status_of(WireError::kInval));
  d.resize(10);  // holds the 8-byte path, not the 11-byte target
  CHECK(d.call(Opcode::kReadlink, "out/link").status == status_of(WireError::kOverflow));
}

TEST_CASE("getfile streams a large file chunk by chunk with its total size", "[files][service]") {
  TempTree t;
  std::string big(300000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7) % 26);
  TempTree::write_file(t.ex("in/big"), big);
  auto s = service(t);
  Driver d(*s, 64 * 1024);
  auto first = d.getfile("in/big", 0);
  REQUIRE(first.status == 0);
  CHECK(first.val[0] == big.size());
  CHECK(first.out_len == 64 * 1024);
  CHECK(d.getfile_all("in/big") == big);
  auto past = d.getfile("in/big", big.size() + 10);
  REQUIRE(past.status == 0);
  CHECK(past.out_len == 0);
  CHECK(d.getfile("in", 0).status == status_of(WireError::kIsDir));
}

TEST_CASE("putfile replaces a file atomically on its final chunk", "[files][service]") {
  for (bool named : {false, true}) {
    CAPTURE(named);
    TempTree t;
    TempTree::write_file(t.ex("out/result"), "old contents");
    auto s = service(t, Policy::read_write(), named);
    Driver d(*s);
    REQUIRE(d.putfile("out/result", 0, "new ", false, 0600).status == 0);
    CHECK(TempTree::read_file(t.ex("out/result")) == "old contents");  // untouched until final
    CHECK(s->pending_putfiles() == 1);
    REQUIRE(d.putfile("out/result", 4, "con", false).status == 0);
    auto fin = d.putfile("out/result", 7, "tents", true);
    REQUIRE(fin.status == 0);
    CHECK(fin.val[0] == 5);
    CHECK(fin.val[1] == 12);
    CHECK(TempTree::read_file(t.ex("out/result")) == "new contents");
    struct stat st {};
    REQUIRE(::stat(t.ex("out/result").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(TempTree::list(t.ex("out")) == std::vector<std::string>{"result"});  // no temp left
    CHECK(s->pending_putfiles() == 0);
  }
}

TEST_CASE("a single final putfile chunk creates a file, an empty one too", "[files][service]") {
  TempTree t;
  auto s = service(t);
  Driver d(*s);
  REQUIRE(d.putfile("out/one", 0, "whole", true).status == 0);
  CHECK(TempTree::read_file(t.ex("out/one")) == "whole");
  REQUIRE(d.putfile("out/empty", 0, "", true).status == 0);
  CHECK(TempTree::exists(t.ex("out/empty")));
  CHECK(TempTree::read_file(t.ex("out/empty")).empty());
}

TEST_CASE("the service answers only the file opcodes", "[files][service]") {
  TempTree t;
  auto s = service(t);
  CHECK(FileService::owns_opcode(static_cast<uint16_t>(Opcode::kOpen)));
  CHECK(FileService::owns_opcode(static_cast<uint16_t>(Opcode::kFtruncate)));
  for (Opcode v2 : {Opcode::kSetattr, Opcode::kLink, Opcode::kStatfs, Opcode::kFallocate})
    CHECK(FileService::owns_opcode(static_cast<uint16_t>(v2)));
  CHECK_FALSE(FileService::owns_opcode(static_cast<uint16_t>(Opcode::kWaitEvent)));
  CHECK_FALSE(FileService::owns_opcode(55));
  CHECK_FALSE(FileService::owns_opcode(31));
  Driver d(*s);
  CHECK(d.call(Opcode::kPing, "x").status == status_of(WireError::kNoSys));
  CHECK(d.call(static_cast<Opcode>(55), "x").status == status_of(WireError::kNoSys));
}

TEST_CASE("create through a dangling final symlink is kNoEnt and creates nothing",
          "[files][service]") {
  TempTree t;
  REQUIRE(::symlink("missing-target", t.ex("out/dangling").c_str()) == 0);
  auto s = service(t);
  Driver d(*s);
  CHECK(d.open("out/dangling", proto::kOpenWrite | proto::kOpenCreate).status ==
        status_of(WireError::kNoEnt));
  CHECK_FALSE(TempTree::exists(t.ex("out/missing-target")));
  // With exclusive, the link itself is what exists.
  CHECK(d.open("out/dangling", proto::kOpenWrite | proto::kOpenCreate | proto::kOpenExclusive)
            .status == status_of(WireError::kExist));
}
