// Path attacks through the real ring: each test plays one attack as a scripted guest, then
// checks that the host still answers and that nothing beside the export changed.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>

#include "tests/hostile/host_under_test.h"
#include "tests/hostile/scripted_peer.h"

using namespace ringbox;
using namespace ringbox::test;
using proto::Opcode;
using proto::WireError;

namespace {

constexpr uint64_t kCreateWrite = proto::kOpenWrite | proto::kOpenCreate | proto::kOpenTruncate;

std::string two(std::string_view a, std::string_view b) {
  return std::string(a) + std::string(b);
}

}  // namespace

TEST_CASE("hostile: dot-dot paths climbing out of the export are refused", "[hostile][path]") {
  HostUnderTest host;
  ScriptedPeer guest(host.handler);
  for (std::string p : {"../sentinel/passwd", "out/../../sentinel/passwd", "..", "../sentinel",
                        "in/../../sentinel/dir/x"}) {
    CAPTURE(p);
    CHECK(guest.call(Opcode::kOpen, p, {kCreateWrite, 0644}).status == wire(WireError::kInval));
    CHECK(guest.call(Opcode::kPutfile, p + "pwned", {p.size(), 0, 0, 0}, proto::kPutfileFinal)
              .status == wire(WireError::kInval));
    CHECK(guest.call(Opcode::kUnlink, p).status == wire(WireError::kInval));
    CHECK(guest.call(Opcode::kMkdir, p + "/d", {0755}).status == wire(WireError::kInval));
    CHECK(guest.call(Opcode::kRename, two("in/a.txt", p), {8}).status == wire(WireError::kInval));
    CHECK(guest.call(Opcode::kGetfile, p).status == wire(WireError::kInval));
  }
  CHECK(guest.host_answers());
  CHECK(host.sentinel_unchanged());
}

TEST_CASE("hostile: absolute paths reach nothing on the host", "[hostile][path]") {
  HostUnderTest host;
  ScriptedPeer guest(host.handler);
  const std::string abs = host.tree.sentinel_dir + "/passwd";
  for (const std::string& p : {std::string("/etc/passwd"), abs, std::string("/"),
                               std::string("/proc/self/root/etc/passwd")}) {
    CAPTURE(p);
    CHECK(guest.call(Opcode::kGetfile, p).status == wire(WireError::kInval));
    CHECK(guest.call(Opcode::kOpen, p, {kCreateWrite, 0644}).status == wire(WireError::kInval));
    CHECK(guest.call(Opcode::kTruncate, p, {0}).status == wire(WireError::kInval));
  }
  CHECK(guest.host_answers());
  CHECK(host.sentinel_unchanged());
}

TEST_CASE("hostile: a planted symlink to outside the export is never followed", "[hostile][path]") {
  HostUnderTest host;
  // As if the submit side shipped these in the job's sandbox.
  REQUIRE(::symlink("../../sentinel", host.tree.ex("out/rel").c_str()) == 0);
  REQUIRE(::symlink(host.tree.sentinel_dir.c_str(), host.tree.ex("out/abs").c_str()) == 0);
  REQUIRE(::symlink("../../sentinel/passwd", host.tree.ex("in/passwd").c_str()) == 0);
  ScriptedPeer guest(host.handler);
  for (const char* p : {"out/rel/passwd", "out/abs/passwd", "in/passwd", "out/abs/dir/x"}) {
    CAPTURE(p);
    CHECK(guest.call(Opcode::kGetfile, p).status == wire(WireError::kXDev));
    CHECK(guest.call(Opcode::kOpen, p, {proto::kOpenWrite | proto::kOpenTruncate}).status ==
          wire(WireError::kXDev));
    CHECK(guest.call(Opcode::kTruncate, p, {0}).status == wire(WireError::kXDev));
  }
  for (std::string p : {"out/rel/new", "out/abs/dir/new"}) {
    CAPTURE(p);
    CHECK(guest.call(Opcode::kOpen, p, {kCreateWrite, 0644}).status == wire(WireError::kXDev));
    CHECK(guest.call(Opcode::kPutfile, p + "data", {p.size(), 0, 0, 0}, proto::kPutfileFinal)
              .status == wire(WireError::kXDev));
    CHECK(guest.call(Opcode::kMkdir, p, {0755}).status == wire(WireError::kXDev));
    CHECK(guest.call(Opcode::kSymlink, two("x", p), {1}).status == wire(WireError::kXDev));
  }
  CHECK(guest.call(Opcode::kUnlink, "out/abs/passwd").status == wire(WireError::kXDev));
  CHECK(guest.call(Opcode::kRmdir, "out/abs/dir").status == wire(WireError::kXDev));
  CHECK(guest.call(Opcode::kRename, two("out/abs/passwd", "out/stolen"), {14}).status ==
        wire(WireError::kXDev));
  CHECK(guest.host_answers());
  CHECK(host.sentinel_unchanged());
}

TEST_CASE("hostile: the guest cannot make a symlink that points out of the export",
          "[hostile][path]") {
  HostUnderTest host;
  ScriptedPeer guest(host.handler);
  const std::string abs = host.tree.sentinel_dir;
  for (const std::string& target :
       {std::string("../../sentinel"), abs, std::string("/proc/self/root"),
        std::string("../in/../../sentinel/passwd")}) {
    CAPTURE(target);
    CHECK(guest.call(Opcode::kSymlink, two(target, "out/link"), {target.size()}).status ==
          wire(WireError::kXDev));
    CHECK_FALSE(TempTree::exists(host.tree.ex("out/link")));
  }
  CHECK(guest.host_answers());
  CHECK(host.sentinel_unchanged());
}

TEST_CASE("hostile: procfs magic links are refused", "[hostile][path]") {
  HostUnderTest host;
  REQUIRE(::symlink("/proc/self/root", host.tree.ex("out/root").c_str()) == 0);
  REQUIRE(::symlink("/proc/self/cwd", host.tree.ex("out/cwd").c_str()) == 0);
  REQUIRE(::symlink("/proc/self/fd", host.tree.ex("out/fds").c_str()) == 0);
  ScriptedPeer guest(host.handler);
  const std::string via_root = "out/root" + host.tree.sentinel_dir + "/passwd";
  for (const std::string& p : {via_root, std::string("out/cwd/x"), std::string("out/fds/0"),
                               std::string("out/root/etc/passwd")}) {
    CAPTURE(p);
    CHECK(guest.call(Opcode::kGetfile, p).status == wire(WireError::kXDev));
    CHECK(guest.call(Opcode::kOpen, p, {kCreateWrite, 0644}).status == wire(WireError::kXDev));
    CHECK(guest.call(Opcode::kStat, p).status == wire(WireError::kXDev));
  }
  CHECK(guest.host_answers());
  CHECK(host.sentinel_unchanged());
}

TEST_CASE("hostile: symlink loops and endless chains cost bounded work", "[hostile][path]") {
  HostUnderTest host;
  REQUIRE(::symlink("b", host.tree.ex("out/a").c_str()) == 0);
  REQUIRE(::symlink("a", host.tree.ex("out/b").c_str()) == 0);
  REQUIRE(::symlink("self/self/self", host.tree.ex("out/self").c_str()) == 0);
  ScriptedPeer guest(host.handler);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 50; ++i) {
    CHECK(guest.call(Opcode::kStat, "out/a").status == wire(WireError::kLoop));
    CHECK(guest.call(Opcode::kGetfile, "out/self/x").status == wire(WireError::kLoop));
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
  CHECK(guest.host_answers());
  CHECK(host.sentinel_unchanged());
}

TEST_CASE("hostile: a directory swapped for a symlink between requests is not followed",
          "[hostile][path]") {
  HostUnderTest host;
  std::filesystem::create_directories(host.tree.ex("out/work"));
  ScriptedPeer guest(host.handler);
  std::string p = "out/work/result";
  REQUIRE(
      guest.call(Opcode::kPutfile, p + "v1", {p.size(), 0, 0, 0}, proto::kPutfileFinal).status ==
      0);
  // Between two requests the directory becomes a link to the outside (a racing host-side
  // process, or a second guest thread with rename + a link planted earlier).
  REQUIRE(::rename(host.tree.ex("out/work").c_str(), host.tree.ex("out/work.old").c_str()) == 0);
  REQUIRE(::symlink((host.tree.sentinel_dir + "/dir").c_str(), host.tree.ex("out/work").c_str()) ==
          0);
  CHECK(guest.call(Opcode::kPutfile, p + "v2", {p.size(), 0, 0, 0}, proto::kPutfileFinal).status ==
        wire(WireError::kXDev));
  CHECK(guest.call(Opcode::kOpen, "out/work/x", {kCreateWrite, 0644}).status ==
        wire(WireError::kXDev));
  CHECK(guest.call(Opcode::kUnlink, "out/work/x").status == wire(WireError::kXDev));
  CHECK(TempTree::read_file(host.tree.ex("out/work.old/result")) == "v1");
  CHECK(guest.host_answers());
  CHECK(host.sentinel_unchanged());
}

TEST_CASE("hostile: symlinks cannot carry a write past the job's policy", "[hostile][path]") {
  auto policy = host::files::Policy::create({"in"}, {"out"});
  REQUIRE(policy);
  HostUnderTest host(std::move(*policy));
  const std::string export_before = TempTree::snapshot(host.tree.ex("in"));
  ScriptedPeer guest(host.handler);
  // The guest plants links in its writable area, then writes through them.
  REQUIRE(guest.call(Opcode::kSymlink, two("../in", "out/in"), {5}).status == 0);
  REQUIRE(guest.call(Opcode::kSymlink, two("../secret", "out/sec"), {9}).status == 0);
  CHECK(guest.call(Opcode::kPutfile, "out/in/a.txtpwned", {12, 0, 0, 0}, proto::kPutfileFinal)
            .status == wire(WireError::kAcces));
  CHECK(guest.call(Opcode::kOpen, "out/in/a.txt", {proto::kOpenWrite | proto::kOpenTruncate})
            .status == wire(WireError::kAcces));
  CHECK(guest.call(Opcode::kUnlink, "out/in/a.txt").status == wire(WireError::kAcces));
  CHECK(guest.call(Opcode::kGetfile, "out/sec/s.txt").status == wire(WireError::kAcces));
  CHECK(guest.call(Opcode::kReaddir, "out/sec").status == wire(WireError::kAcces));
  CHECK(TempTree::snapshot(host.tree.ex("in")) == export_before);
  CHECK(guest.host_answers());
  CHECK(host.sentinel_unchanged());
}

TEST_CASE("hostile: paths with NUL bytes are refused, never truncated", "[hostile][path]") {
  HostUnderTest host;
  TempTree::write_file(host.tree.ex("out/keep"), "keep");
  ScriptedPeer guest(host.handler);
  const std::string p("out/keep\0../../sentinel/passwd", 30);
  CHECK(guest.call(Opcode::kUnlink, p).status == wire(WireError::kInval));
  CHECK(guest.call(Opcode::kOpen, p, {kCreateWrite, 0644}).status == wire(WireError::kInval));
  CHECK(guest.call(Opcode::kPutfile, p + "x", {p.size(), 0, 0, 0}, proto::kPutfileFinal).status ==
        wire(WireError::kInval));
  CHECK(TempTree::read_file(host.tree.ex("out/keep")) == "keep");
  CHECK(guest.host_answers());
  CHECK(host.sentinel_unchanged());
}

TEST_CASE("hostile: FIFOs in the export cannot stall the host", "[hostile][path]") {
  HostUnderTest host;
  REQUIRE(::mkfifo(host.tree.ex("in/fifo").c_str(), 0666) == 0);
  ScriptedPeer guest(host.handler);
  const auto start = std::chrono::steady_clock::now();
  CHECK(guest.call(Opcode::kOpen, "in/fifo", {proto::kOpenRead}).status == wire(WireError::kAcces));
  CHECK(guest.call(Opcode::kGetfile, "in/fifo").status == wire(WireError::kAcces));
  CHECK(guest.call(Opcode::kOpen, "in/fifo", {proto::kOpenWrite}).status ==
        wire(WireError::kAcces));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  CHECK(guest.host_answers());
  CHECK(host.sentinel_unchanged());
}
