// The RPC layer over a real local channel (memfd + eventfd), both ends in one process.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "shared/ring/frontend_ring.h"
#include "shared/rpc/ring_client.h"
#include "shared/rpc/ring_server.h"
#include "tests/support/long_poll_handler.h"
#include "tests/support/ring_fixture.h"

using namespace ringbox;
using proto::Opcode;

namespace {

// Echo with a per-request random delay on several workers: responses come back out of order.
class JitterHandler final : public rpc::Handler {
 public:
  rpc::Reply handle(const rpc::Request& req) override {
    thread_local std::mt19937 rng(std::random_device{}());
    if (req.opcode == static_cast<uint16_t>(Opcode::kPing))
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
    return rpc::handle_session_opcode(req);
  }
};

struct Served {
  std::unique_ptr<rpc::RingClient> client;
  std::unique_ptr<rpc::RingServer> server;
  std::thread thread;
  Result<void> result;
  ~Served() {
    client.reset();  // frontend gone: the server returns
    server->stop();
    if (thread.joinable()) thread.join();
  }
};

// A served ring client; with `hello` it has negotiated (asking for, and granted, bulk).
std::unique_ptr<Served> serve(rpc::Handler& h, ring::Geometry g, rpc::ServerOptions so,
                              int client_spin_us = 20, bool hello = true) {
  so.features |= proto::kFeatureBulk;
  auto pair = test::make_local_pair(g);
  auto s = std::make_unique<Served>();
  auto server = rpc::RingServer::create(std::move(pair.backend), h, so);
  REQUIRE(server);
  s->server = std::move(*server);
  s->thread = std::thread([p = s.get()] { p->result = p->server->serve(); });
  auto client = rpc::RingClient::create(std::move(pair.frontend), {client_spin_us});
  REQUIRE(client);
  s->client = std::move(*client);
  if (hello) REQUIRE(rpc::negotiate_version(*s->client, proto::kFeatureBulk));
  return s;
}

proto::WireError wire(int32_t status) {
  return static_cast<proto::WireError>(-status);
}

}  // namespace

TEST_CASE("hello negotiates the highest common version over the ring", "[rpc]") {
  JitterHandler h;
  auto s = serve(h, {4, 16}, {}, 20, false);
  auto v = rpc::negotiate_version(*s->client);
  REQUIRE(v);
  CHECK(*v == proto::kVersionMax);
  CHECK(s->client->version() == proto::kVersionMax);
  CHECK(s->client->features() == 0);  // offered, but not asked for
}

TEST_CASE("the ring refuses every opcode before kHello, and a second kHello", "[rpc][session]") {
  JitterHandler h;
  auto s = serve(h, {4, 16}, {}, 20, false);
  for (Opcode op : {Opcode::kPing, Opcode::kHeartbeat, Opcode::kStat, Opcode::kJobGet,
                    Opcode::kBulkRead, static_cast<Opcode>(0x7777)}) {
    CAPTURE(static_cast<int>(op));
    rpc::Call c;
    c.opcode = op;
    auto r = s->client->call(c);
    REQUIRE(r);
    CHECK(wire(r->status) == proto::WireError::kProto);
  }
  CHECK(s->server->stats().refused == 6);
  REQUIRE(rpc::negotiate_version(*s->client));
  CHECK(test::ping_ok(*s->client));
  auto again = rpc::negotiate_version(*s->client);
  REQUIRE_FALSE(again);
  CHECK(again.error().sys_errno == static_cast<int>(proto::WireError::kProto));
  CHECK(test::ping_ok(*s->client));  // refused, not dropped
}

TEST_CASE("the bulk opcodes need the feature bit: offered by the host and asked for",
          "[rpc][session]") {
  JitterHandler h;
  std::vector<std::byte> out(64);
  rpc::Call br;
  br.opcode = Opcode::kBulkRead;
  br.arg = {out.size(), 1, 0, 0};
  br.out = out;
  SECTION("asked for, not offered") {
    auto pair = test::make_local_pair({4, 16});
    auto server = rpc::RingServer::create(std::move(pair.backend), h, {});  // no features
    REQUIRE(server);
    std::thread t([&] { (void)(*server)->serve(); });
    auto client = rpc::RingClient::create(std::move(pair.frontend), {20});
    REQUIRE(client);
    REQUIRE(rpc::negotiate_version(**client, proto::kFeatureBulk));
    CHECK((*client)->features() == 0);
    auto r = (*client)->call(br);
    REQUIRE(r);
    CHECK(wire(r->status) == proto::WireError::kNoSys);
    client->reset();
    (*server)->stop();
    t.join();
  }
  SECTION("offered, not asked for") {
    auto s = serve(h, {4, 16}, {}, 20, false);
    REQUIRE(rpc::negotiate_version(*s->client, 0));
    auto r = s->client->call(br);
    REQUIRE(r);
    CHECK(wire(r->status) == proto::WireError::kNoSys);
  }
  SECTION("offered and asked for") {
    auto s = serve(h, {4, 16}, {});
    CHECK(s->client->features() == proto::kFeatureBulk);
    auto r = s->client->call(br);
    REQUIRE(r);
    CHECK(r->ok());
    CHECK(r->out_len == out.size());
  }
}

TEST_CASE("the opcode table refuses bad flags and overlong payloads on the ring",
          "[rpc][session]") {
  JitterHandler h;
  auto s = serve(h, {4, 64}, {});
  rpc::Call ping;
  ping.opcode = Opcode::kPing;
  ping.flags = 1;
  auto r = s->client->call(ping);
  REQUIRE(r);
  CHECK(wire(r->status) == proto::WireError::kProto);
  std::vector<std::byte> path(proto::kMaxPathBytes + 1, std::byte{'a'});
  rpc::Call stat;
  stat.opcode = Opcode::kStat;
  stat.in = path;
  r = s->client->call(stat);
  REQUIRE(r);
  CHECK(wire(r->status) == proto::WireError::kNameTooLong);
  rpc::Call heartbeat;  // defines no payload
  heartbeat.opcode = Opcode::kHeartbeat;
  heartbeat.in = std::span<const std::byte>(path).first(8);
  r = s->client->call(heartbeat);
  REQUIRE(r);
  CHECK(wire(r->status) == proto::WireError::kProto);
  CHECK(test::ping_ok(*s->client));
}

TEST_CASE("hello from a version-1 peer is refused with kProto", "[rpc]") {
  JitterHandler h;
  auto s = serve(h, {4, 16}, {});
  rpc::Call c;
  c.opcode = Opcode::kHello;
  c.arg = {1, 1, 0, 0};
  auto r = s->client->call(c);
  REQUIRE(r);
  CHECK(r->status == -static_cast<int32_t>(proto::WireError::kProto));
}

TEST_CASE("ping echoes its payload and bulk opcodes check their bytes", "[rpc]") {
  JitterHandler h;
  auto s = serve(h, {4, 64}, {});
  std::vector<std::byte> in(4096), out(4096);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<std::byte>(i * 7);
  rpc::Call c;
  c.opcode = Opcode::kPing;
  c.in = in;
  c.out = out;
  auto r = s->client->call(c);
  REQUIRE(r);
  REQUIRE(r->ok());
  CHECK(r->out_len == in.size());
  CHECK(out == in);

  std::vector<std::byte> bulk(s->client->max_payload());
  rpc::Call br;
  br.opcode = Opcode::kBulkRead;
  br.arg = {bulk.size(), 42, 0, 0};
  br.out = bulk;
  auto rr = s->client->call(br);
  REQUIRE(rr);
  REQUIRE(rr->ok());
  CHECK(rr->val[0] == rpc::fnv1a64(bulk));
  std::vector<std::byte> expect(bulk.size());
  rpc::fill_pattern(expect, 42);
  CHECK(bulk == expect);

  rpc::Call bw;
  bw.opcode = Opcode::kBulkWrite;
  bw.in = bulk;
  auto wr = s->client->call(bw);
  REQUIRE(wr);
  CHECK(wr->val[0] == rpc::fnv1a64(bulk));
}

TEST_CASE("a payload larger than a message is refused before it reaches the ring", "[rpc]") {
  JitterHandler h;
  auto s = serve(h, {4, 16}, {});
  std::vector<std::byte> huge(s->client->max_payload() + 1);
  rpc::Call c;
  c.opcode = Opcode::kBulkWrite;
  c.in = huge;
  auto r = s->client->call(c);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::kTooLarge);
}

TEST_CASE("an unknown opcode gets kNoSys and the connection lives on", "[rpc]") {
  JitterHandler h;
  auto s = serve(h, {4, 16}, {});
  rpc::Call c;
  c.opcode = static_cast<Opcode>(0x7777);
  auto r = s->client->call(c);
  REQUIRE(r);
  CHECK(r->status == -static_cast<int32_t>(proto::WireError::kNoSys));
  CHECK(test::ping_ok(*s->client));
}

TEST_CASE("many threads with more calls than slots complete out of order with intact payloads",
          "[rpc][backpressure]") {
  JitterHandler h;
  // 16 slots, 64 KiB data area: 48 threads keep the ring and the data area full.
  auto s = serve(h, {4, 16}, {.spin_us = 10, .workers = 4});
  constexpr int kThreads = 48, kCalls = 100;
  std::atomic<int> bad{0}, done{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kCalls; ++i) {
        std::vector<std::byte> in(1 + rng() % 8000), out(in.size());
        for (auto& b : in) b = static_cast<std::byte>(rng());
        rpc::Call c;
        c.opcode = Opcode::kPing;
        c.in = in;
        c.out = out;
        auto r = s->client->call(c);
        if (!r || !r->ok() || r->out_len != in.size() || out != in) ++bad;
        ++done;
      }
    });
  }
  for (auto& t : ts) t.join();
  CHECK(bad == 0);
  CHECK(done == kThreads * kCalls);
}

TEST_CASE("a malformed request gets kProto and the host keeps serving", "[rpc][hostile]") {
  JitterHandler h;
  const ring::Geometry g{3, 16};
  auto pair = test::make_local_pair(g);
  auto region = pair.frontend->region();
  auto server = rpc::RingServer::create(std::move(pair.backend), h, {});
  REQUIRE(server);
  Result<void> served;
  std::thread t([&] { served = (*server)->serve(); });

  // A scripted guest: raw slots written straight into the shared region.
  auto front = ring::FrontendRing::adopt(region, g);
  REQUIRE(front);
  auto send = [&](proto::RequestSlot s) {
    front->put_request(s);
    if (front->push_requests()) REQUIRE(pair.frontend->doorbell().ring());
    proto::ResponseSlot rsp{};
    for (int i = 0; i < 5000; ++i) {
      auto got = front->take_response(rsp);
      REQUIRE(got);
      if (*got) return rsp;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    FAIL("no response");
    return rsp;
  };
  const uint32_t area = static_cast<uint32_t>(g.data_bytes());
  auto hello = send({100, static_cast<uint16_t>(Opcode::kHello), 0, 0, 0, 0, 0, 0, {2, 2, 0, 0}});
  REQUIRE(hello.status == 0);
  struct Case {
    const char* what;
    proto::RequestSlot slot;
  };
  std::vector<Case> cases = {
      {"buffer past the data area", {1, 2, 0, 0, area - 64, 128, 0, 0, {}}},
      {"buffer offset wraps u32", {2, 2, 0, 0, 0xffffffc0u, 0x80, 0, 0, {}}},
      {"in_len larger than buffer", {3, 2, 0, 0, 0, 64, 65, 0, {}}},
      {"buffer larger than one message", {4, 2, 0, 0, 0, area, 0, 0, {}}},
      {"misaligned buffer", {5, 2, 0, 0, 3, 64, 0, 0, {}}},
      {"reserved field set", {6, 2, 0, 1, 0, 64, 0, 0, {}}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    auto rsp = send(c.slot);
    CHECK(rsp.id == c.slot.id);
    CHECK(rsp.status == -static_cast<int32_t>(proto::WireError::kProto));
    CHECK(rsp.out_len == 0);
  }
  // A well-formed ping after all that still works.
  auto ok_rsp = send({7, static_cast<uint16_t>(Opcode::kHeartbeat), 0, 0, 0, 64, 0, 0, {}});
  CHECK(ok_rsp.status == 0);
  CHECK((*server)->stats().malformed == cases.size());
  (*server)->stop();
  t.join();
  CHECK(served);
}

TEST_CASE("a guest that corrupts the request index gets dropped with a reason", "[rpc][hostile]") {
  JitterHandler h;
  const ring::Geometry g{3, 16};
  auto pair = test::make_local_pair(g);
  auto region = pair.frontend->region();
  auto server = rpc::RingServer::create(std::move(pair.backend), h, {});
  REQUIRE(server);
  Result<void> served;
  std::thread t([&] { served = (*server)->serve(); });
  reinterpret_cast<proto::ControlPage*>(region.data())->req_prod = 0x40000000u;
  REQUIRE(pair.frontend->doorbell().ring());
  t.join();
  REQUIRE_FALSE(served);
  CHECK(served.error().code == Errc::kPeerBroken);
}

TEST_CASE("the server returns when the guest side closes", "[rpc]") {
  JitterHandler h;
  auto s = serve(h, {3, 16}, {.spin_us = 0, .workers = 0});
  s->client.reset();
  s->thread.join();
  CHECK(s->result);
}

TEST_CASE("a long poll in flight never sits between quick calls and their responses", "[rpc]") {
  test::LongPollHandler h;
  auto s = serve(h, {4, 64}, {.spin_us = 0, .workers = 2}, 0);
  std::atomic<bool> polled{false};
  uint64_t poll_value = 0;
  std::thread poller([&] {
    rpc::Call c;
    c.opcode = Opcode::kWaitEvent;
    c.long_poll = true;
    auto r = s->client->call(c);
    if (r && r->ok()) poll_value = r->val[0];
    polled = true;
  });
  h.wait_until_polling();  // the poll is out and waiting in the handler
  uint64_t before = s->client->handoffs();
  for (int i = 0; i < 200; ++i) REQUIRE(test::ping_ok(*s->client));
  // Each ping polled its own response: no wake-up of, or by, the long poll's thread.
  CHECK(s->client->handoffs() == before);
  CHECK_FALSE(polled.load());
  // Alone in flight, the long poll still gets its answer (by its own sweep of the ring).
  h.release();
  poller.join();
  CHECK(poll_value == 42);
  CHECK(s->server->stats().inline_runs >= 200);
}

TEST_CASE("a handler that marks nothing inline runs every request on a worker", "[rpc]") {
  JitterHandler h;  // the default runs_inline: false
  auto s = serve(h, {4, 64}, {.spin_us = 0, .workers = 2}, 0);
  for (int i = 0; i < 20; ++i) REQUIRE(test::ping_ok(*s->client));
  CHECK(s->server->stats().requests == 21);  // and kHello, which the session answers
  CHECK(s->server->stats().inline_runs == 0);
}
