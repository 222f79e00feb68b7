// Protocol v2's metadata opcodes (kSetattr, kLink, kStatfs, kFallocate) and rename flags through
// the real ring, played by a hostile guest: malformed heads, modes and flags, and every way to
// reach outside the export or past the job's policy through them. Each test checks the host
// still answers and nothing beside the export changed.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "tests/hostile/host_under_test.h"
#include "tests/hostile/scripted_peer.h"

using namespace ringbox;
using namespace ringbox::test;
using proto::Opcode;
using proto::WireError;

namespace {

std::string two(std::string_view a, std::string_view b) {
  return std::string(a) + std::string(b);
}

std::string head(const proto::WireSetattr& sa) {
  return std::string(reinterpret_cast<const char*>(&sa), sizeof(sa));
}

host::files::Policy in_out_policy() {
  auto p = host::files::Policy::create({"in"}, {"out"});
  REQUIRE(p);
  return std::move(*p);
}

struct stat lstat_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st;
}

}  // namespace

TEST_CASE("hostile: malformed setattr heads are kInval and change nothing", "[hostile][v2]") {
  HostUnderTest host;
  const std::string before = TempTree::snapshot(host.tree.export_dir);
  ScriptedPeer guest(host.handler);
  proto::WireSetattr good{};
  good.valid = proto::kSetMode | proto::kSetMtime;
  good.mode = 0777;
  good.mtime_ns = 1;

  std::vector<proto::WireSetattr> bad;
  for (uint32_t v : {uint32_t{proto::kSetKnownBits} + 1, 1u << 31, ~0u}) {
    proto::WireSetattr sa = good;
    sa.valid = v;
    bad.push_back(sa);
  }
  for (uint32_t m : {010000u, uint32_t{S_IFREG | 0777}, ~0u}) {
    proto::WireSetattr sa = good;
    sa.mode = m;
    bad.push_back(sa);
  }
  for (uint64_t r : {uint64_t{1}, uint64_t{1} << 63}) {
    proto::WireSetattr sa = good;
    sa.reserved = r;
    bad.push_back(sa);
  }
  for (const auto& sa : bad) {
    CHECK(guest.call(Opcode::kSetattr, head(sa) + "in/a.txt").status == wire(WireError::kInval));
  }
  // Heads cut short at every length, by path and by handle.
  const std::string whole = head(good);
  for (size_t len = 0; len < whole.size(); ++len) {
    CAPTURE(len);
    CHECK(guest.call(Opcode::kSetattr, whole.substr(0, len)).status == wire(WireError::kInval));
    CHECK(guest.call(Opcode::kSetattr, whole.substr(0, len), {1}).status ==
          wire(WireError::kInval));
  }
  // By handle, nothing may follow the head; by path, a path must.
  auto o = guest.call(Opcode::kOpen, "in/a.txt", {proto::kOpenRead});
  REQUIRE(o.status == 0);
  CHECK(guest.call(Opcode::kSetattr, whole + "in/a.txt", {o.val[0]}).status ==
        wire(WireError::kInval));
  CHECK(guest.call(Opcode::kSetattr, whole).status == wire(WireError::kInval));
  CHECK(guest.call(Opcode::kSetattr, whole + std::string(5000, 'a')).status ==
        wire(WireError::kNameTooLong));
  // A forged handle, and flags on an opcode that defines none.
  CHECK(guest.call(Opcode::kSetattr, whole, {~uint64_t{0}}).status == wire(WireError::kBadF));
  CHECK(guest.call(Opcode::kSetattr, whole + "in/a.txt", {}, 1).status == wire(WireError::kProto));
  CHECK(guest.call(Opcode::kClose, {}, {o.val[0]}).status == 0);
  CHECK(guest.host_answers());
  CHECK(TempTree::snapshot(host.tree.export_dir) == before);
  CHECK(host.sentinel_unchanged());
}

TEST_CASE("hostile: setattr never reaches outside the export", "[hostile][v2]") {
  HostUnderTest host;
  REQUIRE(::symlink("../../sentinel", host.tree.ex("out/rel").c_str()) == 0);
  REQUIRE(::symlink(host.tree.sentinel_dir.c_str(), host.tree.ex("out/abs").c_str()) == 0);
  REQUIRE(::symlink("../../sentinel/passwd", host.tree.ex("out/file").c_str()) == 0);
  ScriptedPeer guest(host.handler);
  proto::WireSetattr sa{};
  sa.valid = proto::kSetMode | proto::kSetMtime;
  sa.mode = 0777;
  sa.mtime_ns = 1;
  for (const char* p : {"out/rel/passwd", "out/abs/passwd", "out/rel/dir", "out/abs"}) {
    CAPTURE(p);
    const int32_t st = guest.call(Opcode::kSetattr, head(sa) + p).status;
    // out/abs itself is a symlink: acting on it (never through it) has no mode.
    CHECK((st == wire(WireError::kXDev) || st == wire(WireError::kOpNotSupp)));
  }
  for (std::string p : {"../sentinel/passwd", "/etc/passwd", "out/../../sentinel"}) {
    CAPTURE(p);
    CHECK(guest.call(Opcode::kSetattr, head(sa) + p).status == wire(WireError::kInval));
  }
  // The final symlink itself: its mode cannot change, its own times can; the target is untouched.
  CHECK(guest.call(Opcode::kSetattr, head(sa) + "out/file").status == wire(WireError::kOpNotSupp));
  sa.valid = proto::kSetMtime;
  CHECK(guest.call(Opcode::kSetattr, head(sa) + "out/file").status == 0);
  CHECK(lstat_of(host.tree.ex("out/file")).st_mtim.tv_sec == 0);
  CHECK(guest.host_answers());
  CHECK(host.sentinel_unchanged());
}

TEST_CASE("hostile: link cannot reach outside the export or past the policy", "[hostile][v2]") {
  HostUnderTest host(in_out_policy());
  REQUIRE(::symlink("../../sentinel", host.tree.ex("out/rel").c_str()) == 0);
  REQUIRE(::symlink("../in", host.tree.ex("out/toin").c_str()) == 0);
  const nlink_t passwd_links = lstat_of(host.tree.sentinel_dir + "/passwd").st_nlink;
  ScriptedPeer guest(host.handler);
  auto link = [&](std::string_view from, std::string_view to) {
    return guest.call(Opcode::kLink, two(from, to), {from.size()}).status;
  };
  CHECK(link("out/rel/passwd", "out/stolen") == wire(WireError::kXDev));
  CHECK(link("out/rel/dir/x", "out/stolen") == wire(WireError::kXDev));
  CHECK(link("in/a.txt", "out/rel/planted") == wire(WireError::kXDev));
  CHECK(link("../sentinel/passwd", "out/stolen") == wire(WireError::kInval));
  CHECK(link("out/x", "/tmp/x") == wire(WireError::kInval));
  // Through a symlink into the read-only area: the policy sees where it really leads.
  CHECK(link("out/toin/a.txt", "out/writable-a") == wire(WireError::kAcces));
  CHECK(link("in/a.txt", "out/writable-a") == wire(WireError::kAcces));
  CHECK(link("secret/s.txt", "out/s") == wire(WireError::kAcces));
  // Garbage split lengths.
  for (uint64_t n : {uint64_t{0}, uint64_t{3}, uint64_t{4}, uint64_t{16}, ~uint64_t{0}}) {
    CAPTURE(n);
    CHECK(guest.call(Opcode::kLink, "out/a.txtout/b12", {n}).status == wire(WireError::kInval));
  }
  CHECK_FALSE(TempTree::exists(host.tree.ex("out/stolen")));
  CHECK_FALSE(TempTree::exists(host.tree.ex("out/writable-a")));
  CHECK(lstat_of(host.tree.sentinel_dir + "/passwd").st_nlink == passwd_links);
  CHECK(lstat_of(host.tree.ex("in/a.txt")).st_nlink == 1);
  CHECK(guest.host_answers());
  CHECK(host.sentinel_unchanged());
}

TEST_CASE("hostile: rename exchange cannot swap anything outside or past the policy",
          "[hostile][v2]") {
  HostUnderTest host(in_out_policy());
  REQUIRE(::symlink("../../sentinel", host.tree.ex("out/rel").c_str()) == 0);
  REQUIRE(::symlink("../in", host.tree.ex("out/toin").c_str()) == 0);
  TempTree::write_file(host.tree.ex("out/mine"), "mine");
  const std::string in_before = TempTree::snapshot(host.tree.ex("in"));
  ScriptedPeer guest(host.handler);
  auto xchg = [&](std::string_view from, std::string_view to, uint64_t flags) {
    return guest.call(Opcode::kRename, two(from, to), {from.size(), flags}).status;
  };
  const uint64_t kX = proto::kRenameExchange;
  CHECK(xchg("out/mine", "out/rel/passwd", kX) == wire(WireError::kXDev));
  CHECK(xchg("out/rel/passwd", "out/mine", kX) == wire(WireError::kXDev));
  CHECK(xchg("out/mine", "out/toin/a.txt", kX) == wire(WireError::kAcces));
  CHECK(xchg("out/mine", "in/a.txt", kX) == wire(WireError::kAcces));
  CHECK(xchg("out/mine", "in", kX) == wire(WireError::kAcces));
  CHECK(xchg("out", "in", kX) == wire(WireError::kAcces));
  CHECK(xchg(".", "out/mine", kX) == wire(WireError::kInval));
  CHECK(xchg("out/mine", "../sentinel/passwd", kX) == wire(WireError::kInval));
  CHECK(xchg("out/mine", "out/rel/passwd", proto::kRenameNoReplace) == wire(WireError::kXDev));
  for (uint64_t f : {uint64_t{3}, uint64_t{4}, uint64_t{1} << 32, ~uint64_t{0}})
    CHECK(xchg("out/mine", "out/other", f) == wire(WireError::kInval));
  // Swapping a directory into itself is the kernel's EINVAL, not a hang or a crash.
  REQUIRE(::mkdir(host.tree.ex("out/d").c_str(), 0755) == 0);
  REQUIRE(::mkdir(host.tree.ex("out/d/e").c_str(), 0755) == 0);
  CHECK(xchg("out/d", "out/d/e", kX) == wire(WireError::kInval));
  CHECK(TempTree::read_file(host.tree.ex("out/mine")) == "mine");
  CHECK(TempTree::snapshot(host.tree.ex("in")) == in_before);
  CHECK(guest.host_answers());
  CHECK(host.sentinel_unchanged());
}

TEST_CASE("hostile: statfs and fallocate with garbage arguments get clean errors",
          "[hostile][v2]") {
  HostUnderTest host;
  REQUIRE(::symlink("../../sentinel", host.tree.ex("out/rel").c_str()) == 0);
  ScriptedPeer guest(host.handler);
  CHECK(guest.call(Opcode::kStatfs, "out/rel").status == wire(WireError::kXDev));
  CHECK(guest.call(Opcode::kStatfs, "..").status == wire(WireError::kInval));
  CHECK(guest.call(Opcode::kStatfs, "").status == wire(WireError::kInval));
  CHECK(guest.call(Opcode::kStatfs, ".", {}, 0, 32).status == wire(WireError::kOverflow));
  auto o = guest.call(Opcode::kOpen, "out/f", {proto::kOpenWrite | proto::kOpenCreate, 0644});
  REQUIRE(o.status == 0);
  const uint64_t h = o.val[0];
  struct Case {
    uint64_t off, len, flags;
    WireError want;
  };
  for (Case c :
       {Case{0, 0, 0, WireError::kInval}, Case{~uint64_t{0}, 1, 0, WireError::kInval},
        Case{INT64_MAX, INT64_MAX, 0, WireError::kInval},
        Case{0, ~uint64_t{0}, 0, WireError::kInval}, Case{0, 4096, 0xff, WireError::kInval},
        Case{0, 4096, proto::kFallocPunchHole, WireError::kInval}}) {
    CAPTURE(c.off, c.len, c.flags);
    CHECK(guest.call(Opcode::kFallocate, {}, {h, c.off, c.len, c.flags}).status == wire(c.want));
  }
  // The largest file the file system allows is its answer (kFBig or kNoSpc), not a crash.
  const int32_t huge = guest.call(Opcode::kFallocate, {}, {h, 0, INT64_MAX - 1, 0}).status;
  CHECK((huge == wire(WireError::kFBig) || huge == wire(WireError::kNoSpc) ||
         huge == wire(WireError::kInval)));
  CHECK(guest.call(Opcode::kFallocate, {}, {h, 0, 4096, 0}, 1).status == wire(WireError::kProto));
  CHECK(guest.call(Opcode::kFallocate, {}, {h ^ (uint64_t{1} << 40), 0, 4096, 0}).status ==
        wire(WireError::kBadF));
  CHECK(guest.host_answers());
  CHECK(host.sentinel_unchanged());
}
