// Attacks on the ring and on the request metadata: slots and paths rewritten after they were
// published, buffers outside the data area, impossible indexes, garbage opcodes, forged
// handles, oversized lengths, dropped connections. Each checks the host survives and nothing
// beside the export changed.
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "shared/ring/shared_memory.h"
#include "tests/hostile/host_under_test.h"
#include "tests/hostile/scripted_peer.h"

using namespace ringbox;
using namespace ringbox::test;
using proto::Opcode;
using proto::WireError;

namespace {

proto::RequestSlot slot_for(Opcode op, uint32_t buf_off, uint32_t buf_len, uint32_t in_len,
                            std::array<uint64_t, 4> arg = {}, uint16_t flags = 0) {
  proto::RequestSlot s{};
  static uint64_t id = 1000;
  s.id = ++id;
  s.opcode = static_cast<uint16_t>(op);
  s.flags = flags;
  s.buf_off = buf_off;
  s.buf_len = buf_len;
  s.in_len = in_len;
  for (int i = 0; i < 4; ++i) s.arg[i] = arg[i];
  return s;
}

// A thread that keeps rewriting shared bytes until stopped: the guest's other vCPU.
class Scribbler {
 public:
  template <class F>
  explicit Scribbler(F f)
      : thread_([this, f] {
          for (uint64_t i = 0; !stop_; ++i) f(i);
        }) {}
  ~Scribbler() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

TEST_CASE("hostile: a path rewritten in shared memory while the host reads it never escapes",
          "[hostile][ring]") {
  HostUnderTest host;
  ScriptedPeer guest(host.handler);
  // Two paths of equal length: one inside the export, one climbing out. The scribbler flips the
  // request's buffer between them while the host works; whatever it copied, it checked.
  const std::string good = "out/aaaaaaaaaaaaaaaaa/p", evil = "../sentinel/dir/pwned!!";
  REQUIRE(good.size() == evil.size());
  REQUIRE(guest.call(Opcode::kMkdir, "out/aaaaaaaaaaaaaaaaa", {0755}).status == 0);
  const uint32_t buf = ScriptedPeer::kSlotBufferBytes * 15;  // a buffer no helper uses
  std::byte* target = guest.data().data() + buf;
  int accepted = 0, refused = 0;
  {
    Scribbler flip([&](uint64_t i) {
      const std::string& p = (i & 1) ? evil : good;
      ring::copy_to_shared(target, p.data(), p.size());
    });
    for (int i = 0; i < 300; ++i) {
      const Opcode op = i % 3 == 0 ? Opcode::kOpen : i % 3 == 1 ? Opcode::kPutfile : Opcode::kLstat;
      std::array<uint64_t, 4> arg{};
      uint16_t flags = 0;
      if (op == Opcode::kOpen) arg = {proto::kOpenWrite | proto::kOpenCreate, 0644, 0, 0};
      if (op == Opcode::kPutfile) {
        arg = {good.size(), 0, 0, 0};
        flags = proto::kPutfileFinal;
      }
      auto s = slot_for(op, buf, 4096, static_cast<uint32_t>(good.size()), arg, flags);
      guest.publish(guest.stage(s, {}) + 1);
      auto r = guest.next_response();
      REQUIRE(r);
      // Success (the good path was copied) or a refusal (the evil one, or a mix); never more.
      CHECK((r->status == 0 || r->status == wire(WireError::kInval) ||
             r->status == wire(WireError::kExist) || r->status == wire(WireError::kNoEnt) ||
             r->status == wire(WireError::kIsDir) || r->status == wire(WireError::kNotDir)));
      if (r->status == 0) ++accepted;
      if (r->status == wire(WireError::kInval)) ++refused;
      if (r->status == 0 && op == Opcode::kOpen) guest.call(Opcode::kClose, {}, {r->val[0]});
    }
  }
  // Both copies were seen: the race really ran, and each outcome was handled.
  CHECK(accepted > 0);
  CHECK(refused > 0);
  CHECK(guest.host_answers());
  CHECK(host.sentinel_unchanged());
  CHECK_FALSE(TempTree::exists(host.tree.base + "/sentinel/dir/pwned!!"));
}

TEST_CASE("hostile: slot fields rewritten after publication change nothing the host copied",
          "[hostile][ring]") {
  HostUnderTest host;
  ScriptedPeer guest(host.handler);
  std::atomic<uint32_t> live_index{0};
  int accepted = 0, refused = 0;
  {
    // Rewrites whichever slot is in flight: opcode, buffer, lengths, reserved fields.
    Scribbler flip([&](uint64_t i) {
      proto::RequestSlot& s = guest.request_slot(live_index.load());
      uint32_t v = static_cast<uint32_t>(i * 2654435761u);
      ring::store_release(s.buf_off, v & 0x3ffc0);
      ring::store_release(s.buf_len, (v >> 7) | 1);
      ring::store_release(s.in_len, v >> 3);
      ring::store_release(s.reserved0, v & 1);
      std::atomic_ref<uint64_t>(s.id).store(v, std::memory_order_relaxed);
    });
    for (int i = 0; i < 500; ++i) {
      const uint32_t buf = ScriptedPeer::buffer_of(guest.next_index());
      auto s = slot_for(i % 2 ? Opcode::kUnlink : Opcode::kStat, buf, 4096, 8);
      live_index = guest.next_index();
      guest.publish(guest.stage(s, "in/a.txt") + 1);
      auto r = guest.next_response();
      REQUIRE(r);
      // Whatever mix of fields the host copied: a status of the contract, and a reply no longer
      // than the largest buffer the checks let through (one message: a quarter of the area).
      CHECK(is_wire_status(r->status));
      CHECK(r->out_len <= proto::kPageSize * ScriptedPeer::kDataPages / proto::kMaxMessageDivisor);
      if (r->status != 0) CHECK(r->out_len == 0);
      if (r->status == wire(WireError::kProto))
        ++refused;
      else
        ++accepted;  // a consistent copy got past the sanitizer
    }
  }
  // Both outcomes were seen: the scribbler really raced the host.
  CHECK(accepted > 0);
  CHECK(refused > 0);
  CHECK(guest.host_answers());
  CHECK(host.sentinel_unchanged());
}

TEST_CASE("hostile: buffers outside the data area or with impossible lengths are kProto",
          "[hostile][ring]") {
  HostUnderTest host;
  ScriptedPeer guest(host.handler);
  const uint32_t area = ScriptedPeer::kDataPages * proto::kPageSize;
  struct Bad {
    const char* why;
    proto::RequestSlot slot;
  };
  std::vector<Bad> bad = {
      {"offset past the area", slot_for(Opcode::kStat, area, 64, 8)},
      {"end past the area", slot_for(Opcode::kStat, area - 64, 128, 8)},
      {"offset+len wraps 32 bits", slot_for(Opcode::kStat, 0xffffffc0u, 0x80, 8)},
      {"longer than a message", slot_for(Opcode::kStat, 0, area / 2, 8)},
      {"in_len beyond buf_len", slot_for(Opcode::kStat, 0, 64, 65)},
      {"misaligned offset", slot_for(Opcode::kStat, 8, 64, 8)},
  };
  bad.push_back({"reserved0 set", slot_for(Opcode::kStat, 0, 64, 8)});
  bad.back().slot.reserved0 = 1;
  bad.push_back({"reserved1 set", slot_for(Opcode::kStat, 0, 64, 8)});
  bad.back().slot.reserved1 = 0x80000000u;
  for (auto& b : bad) {
    CAPTURE(b.why);
    guest.publish(guest.stage(b.slot, {}) + 1);
    auto r = guest.next_response();
    REQUIRE(r);
    CHECK(r->id == b.slot.id);
    CHECK(r->status == wire(WireError::kProto));
    CHECK(r->out_len == 0);
  }
  CHECK(guest.host_answers());
  CHECK(host.sentinel_unchanged());
}

TEST_CASE("hostile: a request index jumping past the ring drops the connection, not the host",
          "[hostile][ring]") {
  HostUnderTest host;
  {
    ScriptedPeer guest(host.handler);
    REQUIRE(guest.host_answers());
    REQUIRE(guest.call(Opcode::kOpen, "in/a.txt", {proto::kOpenRead}).status == 0);
    REQUIRE(host.files->open_handles() == 1);
    guest.publish(guest.next_index() + 1000);  // claims 1000 requests in a 16-slot ring
    auto served = guest.wait_server(10000);
    REQUIRE_FALSE(served);
    CHECK(served.error().code == Errc::kPeerBroken);
  }
  // The server's end closed the connection's state (HostHandler::connection_ended): no test
  // calls end_connection() itself, so a production path that forgot it would show here.
  CHECK(host.files->open_handles() == 0);
  // The same host (and file service) serves the next connection normally.
  ScriptedPeer next(host.handler);
  CHECK(next.call(Opcode::kStat, "in/a.txt").status == 0);
  CHECK(next.host_answers());
  CHECK(host.sentinel_unchanged());
}

TEST_CASE("hostile: garbage opcodes, arguments and payloads get clean errors", "[hostile][ring]") {
  // Read-only, so that no random payload may change the export either.
  HostUnderTest host(host::files::Policy::read_only());
  const std::string export_before = TempTree::snapshot(host.tree.export_dir);
  ScriptedPeer guest(host.handler);
  std::mt19937_64 rng(0x5eed);
  const std::vector<std::string> seeds = {"in/a.txt", "in", ".", "in/sub/b.txt", "../x", "out/y"};
  for (int i = 0; i < 3000; ++i) {
    // Half the time a file opcode (32..54), otherwise anything at all.
    uint16_t op = (i & 1) ? static_cast<uint16_t>(32 + rng() % 23) : static_cast<uint16_t>(rng());
    std::string payload;
    switch (rng() % 4) {
      case 0:
        payload = seeds[rng() % seeds.size()];
        break;
      case 1:
        payload.resize(rng() % 300);
        for (auto& c : payload) c = static_cast<char>(rng());
        break;
      case 2:
        payload = seeds[rng() % seeds.size()] + std::string(1, '\0') + "tail";
        break;
      default:
        break;
    }
    std::array<uint64_t, 4> arg{};
    for (auto& a : arg) a = (rng() & 1) ? rng() : rng() % 64;
    const uint32_t buf_len = 64u << (rng() % 8);  // 64 B .. 8 KiB
    if (payload.size() > buf_len) payload.resize(buf_len);
    auto s = slot_for(static_cast<Opcode>(op), ScriptedPeer::buffer_of(guest.next_index()), buf_len,
                      static_cast<uint32_t>(payload.size()), arg,
                      static_cast<uint16_t>(rng() % 4 == 0 ? rng() : 0));
    guest.publish(guest.stage(s, payload) + 1);
    auto r = guest.next_response();
    REQUIRE(r);
    CHECK(r->id == s.id);
    CHECK(is_wire_status(r->status));
    CHECK(r->out_len <= buf_len);
    if (r->status != 0) CHECK(r->out_len == 0);
    if (r->status == 0 && op == static_cast<uint16_t>(Opcode::kOpen))
      guest.call(Opcode::kClose, {}, {r->val[0]});
  }
  CHECK(guest.host_answers());
  CHECK(TempTree::snapshot(host.tree.export_dir) == export_before);
  CHECK(host.sentinel_unchanged());
}

TEST_CASE("hostile: forged and stale handles are kBadF and never reach another file",
          "[hostile][ring]") {
  HostUnderTest host;
  ScriptedPeer guest(host.handler);
  auto a = guest.call(Opcode::kOpen, "in/a.txt", {proto::kOpenRead});
  REQUIRE(a.status == 0);
  REQUIRE(guest.call(Opcode::kClose, {}, {a.val[0]}).status == 0);
  auto b = guest.call(Opcode::kOpen, "in/sub/b.txt", {proto::kOpenRead | proto::kOpenWrite});
  REQUIRE(b.status == 0);
  std::mt19937_64 rng(42);
  std::vector<uint64_t> forged = {a.val[0], 0, b.val[0] + 1, b.val[0] ^ (uint64_t{1} << 33),
                                  ~uint64_t{0}};
  for (int i = 0; i < 200; ++i) forged.push_back(rng());
  for (uint64_t h : forged) {
    if (h == b.val[0]) continue;
    CAPTURE(h);
    CHECK(guest.call(Opcode::kPread, {}, {h, 0, 16}).status == wire(WireError::kBadF));
    CHECK(guest.call(Opcode::kPwrite, "pwned", {h, 0}).status == wire(WireError::kBadF));
    CHECK(guest.call(Opcode::kFtruncate, {}, {h, 0}).status == wire(WireError::kBadF));
    CHECK(guest.call(Opcode::kClose, {}, {h}).status == wire(WireError::kBadF));
  }
  CHECK(TempTree::read_file(host.tree.ex("in/sub/b.txt")) == "bravo\n");
  CHECK(TempTree::read_file(host.tree.ex("in/a.txt")) == "alpha\n");
  CHECK(guest.host_answers());
  CHECK(host.sentinel_unchanged());
}

TEST_CASE("hostile: lengths larger than the buffer or the payload are refused", "[hostile][ring]") {
  HostUnderTest host;
  ScriptedPeer guest(host.handler);
  auto h = guest.call(Opcode::kOpen, "in/a.txt", {proto::kOpenRead});
  REQUIRE(h.status == 0);
  // pread asking for more than the buffer holds (the host must not write past it).
  CHECK(guest.call(Opcode::kPread, {}, {h.val[0], 0, 4097}, 0, 4096).status ==
        wire(WireError::kInval));
  CHECK(guest.call(Opcode::kPread, {}, {h.val[0], 0, ~uint64_t{0}}).status ==
        wire(WireError::kInval));
  // Putfile and rename lengths pointing past the payload.
  CHECK(guest.call(Opcode::kPutfile, "out/x", {1u << 20, 0, 0, 0}).status ==
        wire(WireError::kInval));
  CHECK(guest.call(Opcode::kRename, "in/a.txtout/b", {~uint64_t{0}}).status ==
        wire(WireError::kInval));
  CHECK(guest.call(Opcode::kStat, std::string(5000, 'a'), {}, 0, 8192).status ==
        wire(WireError::kNameTooLong));
  // A buffer too small for a fixed-size reply.
  CHECK(guest.call(Opcode::kFstat, {}, {h.val[0]}, 0, 32).status == wire(WireError::kOverflow));
  CHECK(guest.host_answers());
  CHECK(host.sentinel_unchanged());
}

TEST_CASE("hostile: a guest flooding the handle table gets kMFile and the host keeps serving",
          "[hostile][ring]") {
  HostUnderTest host(host::files::Policy::read_write(), 32);
  ScriptedPeer guest(host.handler);
  for (int i = 0; i < 32; ++i)
    REQUIRE(guest.call(Opcode::kOpen, "in/a.txt", {proto::kOpenRead}).status == 0);
  for (int i = 0; i < 10; ++i)
    CHECK(guest.call(Opcode::kOpen, "in/a.txt", {proto::kOpenRead}).status ==
          wire(WireError::kMFile));
  CHECK(guest.host_answers());
  CHECK(host.sentinel_unchanged());
}

TEST_CASE("hostile: a putfile cut off by a dead connection leaves the target intact",
          "[hostile][ring]") {
  for (bool named_temp : {false, true}) {
    CAPTURE(named_temp);
    HostUnderTest host(host::files::Policy::read_write(), 1024, named_temp);
    TempTree::write_file(host.tree.ex("out/result"), "previous result");
    {
      ScriptedPeer guest(host.handler);
      const std::string p = "out/result";
      REQUIRE(guest.call(Opcode::kPutfile, p + "first half ", {p.size(), 0, 0, 0}).status == 0);
      REQUIRE(guest.call(Opcode::kPutfile, p + "second half", {p.size(), 11, 0, 0}).status == 0);
      if (named_temp) CHECK(TempTree::list(host.tree.ex("out")).size() == 2);
      guest.disconnect();  // the guest dies before the final chunk
      REQUIRE(guest.wait_server(10000));
    }
    // The server's destructor ended the connection: nobody calls end_connection() here.
    CHECK(TempTree::read_file(host.tree.ex("out/result")) == "previous result");
    CHECK(TempTree::list(host.tree.ex("out")) == std::vector<std::string>{"result"});
    CHECK(host.files->pending_putfiles() == 0);
    CHECK(host.sentinel_unchanged());
  }
}

TEST_CASE("hostile: handles of a dead connection are useless to the next one", "[hostile][ring]") {
  HostUnderTest host;
  uint64_t old_handle = 0;
  {
    ScriptedPeer guest(host.handler);
    auto h = guest.call(Opcode::kOpen, "in/a.txt", {proto::kOpenRead | proto::kOpenWrite});
    REQUIRE(h.status == 0);
    old_handle = h.val[0];
    guest.disconnect();
    REQUIRE(guest.wait_server(10000));
  }
  CHECK(host.files->open_handles() == 0);  // closed by the server's end, not by this test
  ScriptedPeer next(host.handler);
  CHECK(next.call(Opcode::kPwrite, "pwned", {old_handle, 0}).status == wire(WireError::kBadF));
  auto reopened = next.call(Opcode::kOpen, "in/sub/b.txt", {proto::kOpenRead});
  REQUIRE(reopened.status == 0);
  CHECK(reopened.val[0] != old_handle);
  CHECK(next.call(Opcode::kPread, {}, {old_handle, 0, 10}).status == wire(WireError::kBadF));
  CHECK(TempTree::read_file(host.tree.ex("in/a.txt")) == "alpha\n");
  CHECK(next.host_answers());
  CHECK(host.sentinel_unchanged());
}

TEST_CASE("hostile: handler workers survive concurrent attacks on one service", "[hostile][ring]") {
  HostUnderTest host;
  rpc::ServerOptions opts;
  opts.workers = 4;
  ScriptedPeer guest(host.handler, opts);
  // Keep all 16 slots busy with a mix of legal and hostile requests, out of order replies.
  std::mt19937_64 rng(7);
  const std::vector<std::pair<Opcode, std::string>> mix = {
      {Opcode::kStat, "in/a.txt"},      {Opcode::kGetfile, "../sentinel/passwd"},
      {Opcode::kReaddir, "in"},         {Opcode::kOpen, "in/a.txt"},
      {Opcode::kUnlink, "out/../../x"}, {Opcode::kLstat, "/etc/passwd"},
  };
  uint32_t published = guest.next_index();
  std::map<uint64_t, Opcode> pending;
  for (int round = 0; round < 100; ++round) {
    for (uint32_t i = 0; i < guest.slots(); ++i) {
      auto& [op, path] = mix[rng() % mix.size()];
      std::array<uint64_t, 4> arg{};
      if (op == Opcode::kOpen) arg[0] = proto::kOpenRead;
      auto s = slot_for(op, ScriptedPeer::buffer_of(guest.next_index()), 4096,
                        static_cast<uint32_t>(path.size()), arg);
      pending[s.id] = op;
      guest.stage(s, path);
    }
    published += guest.slots();
    guest.publish(published);
    std::vector<uint64_t> opened;
    for (uint32_t i = 0; i < guest.slots(); ++i) {
      auto r = guest.next_response();
      REQUIRE(r);
      REQUIRE(pending.count(r->id) == 1);
      if (pending[r->id] == Opcode::kOpen && r->status == 0) opened.push_back(r->val[0]);
      // The legal requests succeed on every worker, the hostile ones are refused.
      const bool legal = pending[r->id] == Opcode::kStat || pending[r->id] == Opcode::kReaddir ||
                         pending[r->id] == Opcode::kOpen;
      pending.erase(r->id);
      if (legal)
        CHECK(r->status == 0);
      else
        CHECK((r->status == wire(WireError::kInval) || r->status == wire(WireError::kXDev) ||
               r->status == wire(WireError::kAcces) || r->status == wire(WireError::kNoEnt)));
    }
    for (uint64_t h : opened) CHECK(guest.call(Opcode::kClose, {}, {h}).status == 0);
    published = guest.next_index();
  }
  CHECK(host.files->open_handles() == 0);
  CHECK(guest.host_answers());
  CHECK(host.sentinel_unchanged());
}
