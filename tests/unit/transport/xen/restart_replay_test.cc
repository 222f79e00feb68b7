// The backend-restart contract the Xen transport relies on (RingChannel::set_restart_handler and
// RingClient::reset_and_replay), exercised over a real local channel: memfd region, eventfd
// doorbells. The only stand-in is the restart signal itself: on Xen the channel's xenstore
// monitor calls the handler when a new ringbox-host attaches; here the test calls it at the
// same point, after the "old backend" stopped and before the new one attaches.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "shared/ring/backend_ring.h"
#include "shared/ring/shared_memory.h"
#include "shared/rpc/handler.h"
#include "shared/rpc/ring_client.h"
#include "shared/rpc/ring_server.h"
#include "tests/support/ring_fixture.h"

using namespace ringbox;
using proto::Opcode;

namespace {

// Forwards to a real channel and keeps the restart handler the client registers.
class RestartableChannel final : public transport::RingChannel {
 public:
  explicit RestartableChannel(std::unique_ptr<transport::RingChannel> inner)
      : inner_(std::move(inner)) {}
  std::span<std::byte> region() override { return inner_->region(); }
  const ring::Geometry& geometry() const override { return inner_->geometry(); }
  transport::Doorbell& doorbell() override { return inner_->doorbell(); }
  std::string describe() const override { return "restartable " + inner_->describe(); }
  void set_restart_handler(RestartHandler h) override {
    std::lock_guard lk(mu_);
    handler_ = std::move(h);
  }
  Result<void> restart() {
    std::lock_guard lk(mu_);
    if (!handler_) return make_error(Errc::kInvalidArgument, "no restart handler registered");
    return handler_();
  }
  bool has_handler() {
    std::lock_guard lk(mu_);
    return static_cast<bool>(handler_);
  }

 private:
  std::unique_ptr<transport::RingChannel> inner_;
  std::mutex mu_;
  RestartHandler handler_;
};

class CountingHandler final : public rpc::Handler {
 public:
  rpc::Reply handle(const rpc::Request& req) override {
    if (req.opcode == static_cast<uint16_t>(Opcode::kPing)) ++pings;
    return rpc::handle_session_opcode(req);
  }
  std::atomic<int> pings{0};
};

std::vector<std::byte> payload(int i) {
  std::vector<std::byte> p(256);
  for (size_t j = 0; j < p.size(); ++j) p[j] = static_cast<std::byte>(i * 31 + j);
  return p;
}

}  // namespace

// Takes `n` requests as a backend that is about to die would: through a bare BackendRing.
std::vector<proto::RequestSlot> take_requests(ring::BackendRing& ring, size_t n) {
  std::vector<proto::RequestSlot> taken;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (taken.size() < n && std::chrono::steady_clock::now() < deadline) {
    proto::RequestSlot s;
    auto got = ring.take_request(s);
    if (!got) FAIL(got.error().message());
    if (*got) taken.push_back(s);
  }
  REQUIRE(taken.size() == n);
  return taken;
}

void publish_echo(ring::BackendRing& ring, const proto::RequestSlot& req) {
  proto::ResponseSlot rsp{};
  rsp.id = req.id;
  rsp.out_len = req.in_len;  // an echo: the payload is already in place
  REQUIRE(ring.put_response(rsp));
  ring.push_responses();
}

// The client's kHello, answered by a bare backend (the newest version, no features).
void hello_through(ring::BackendRing& ring, rpc::Client& client) {
  Result<uint16_t> v = make_error(Errc::kCancelled, "not run");
  std::thread t([&] { v = rpc::negotiate_version(client); });
  auto taken = take_requests(ring, 1);
  proto::ResponseSlot rsp{};
  rsp.id = taken[0].id;
  rsp.val[0] = proto::kVersionMax;
  REQUIRE(ring.put_response(rsp));
  ring.push_responses();
  t.join();
  REQUIRE(v);
}

Result<rpc::Reply> ping(rpc::Client& client, int i) {
  std::vector<std::byte> in = payload(i), out(in.size());
  rpc::Call c;
  c.opcode = Opcode::kPing;
  c.in = in;
  c.out = out;
  auto r = client.call(c);
  if (r && out != in) return make_error(Errc::kPeerBroken, "echo differs");
  return r;
}

TEST_CASE("calls in flight when the backend dies complete after a new backend attaches",
          "[xen][restart]") {
  const ring::Geometry g{4, 16};
  auto pair = test::make_local_pair(g);
  auto restartable = std::make_unique<RestartableChannel>(std::move(pair.frontend));
  RestartableChannel* channel = restartable.get();
  auto client = rpc::RingClient::create(std::move(restartable), {10});
  REQUIRE(client);
  REQUIRE(channel->has_handler());
  {
    auto first = ring::BackendRing::attach(pair.backend->region(), g);
    REQUIRE(first);
    hello_through(*first, **client);
  }

  // Three calls in flight from three threads.
  constexpr int kCalls = 3;
  std::vector<std::vector<std::byte>> in(kCalls), out(kCalls, std::vector<std::byte>(256));
  std::vector<Result<rpc::Reply>> results(kCalls, make_error(Errc::kCancelled, "not run"));
  std::vector<std::thread> callers;
  for (int i = 0; i < kCalls; ++i) {
    in[i] = payload(i);
    callers.emplace_back([&, i] {
      rpc::Call c;
      c.opcode = Opcode::kPing;
      c.in = in[i];
      c.out = out[i];
      results[i] = (*client)->call(c);
    });
  }

  // The old backend takes all three, publishes the answer to the first, executes the second
  // and overwrites its buffer (a response in the making) without publishing, never gets to the
  // third, and dies.
  {
    auto old = ring::BackendRing::attach(pair.backend->region(), g);
    REQUIRE(old);
    auto taken = take_requests(*old, kCalls);
    publish_echo(*old, taken[0]);
    std::memset(old->data_area().data() + taken[1].buf_off, 0xee, taken[1].in_len);
  }

  // A new backend attaches: the client resets the ring and replays, then the server starts.
  REQUIRE(channel->restart());
  CountingHandler handler;
  auto server = rpc::RingServer::create(std::move(pair.backend), handler, {});
  REQUIRE(server);
  std::thread serving([&] { (void)(*server)->serve(); });

  for (auto& t : callers) t.join();
  for (int i = 0; i < kCalls; ++i) {
    INFO("call " << i);
    REQUIRE(results[i]);
    CHECK(results[i]->ok());
    CHECK(results[i]->out_len == 256);
    CHECK(out[i] == in[i]);  // the overwritten payload was copied afresh before the replay
  }
  // The first call's answer came from the old backend: delivered, not run again.
  CHECK(handler.pings == kCalls - 1);
  // The restarted ring keeps working.
  CHECK(ping(**client, 9));

  client->reset();  // unregisters the handler and marks the frontend gone
  (*server)->stop();
  serving.join();
}

TEST_CASE("a restart with nothing in flight leaves a ring a new backend serves from zero",
          "[xen][restart]") {
  const ring::Geometry g{4, 16};
  auto pair = test::make_local_pair(g);
  auto restartable = std::make_unique<RestartableChannel>(std::move(pair.frontend));
  RestartableChannel* channel = restartable.get();
  auto client = rpc::RingClient::create(std::move(restartable), {10});
  REQUIRE(client);
  {
    // The first backend answers five calls, then dies.
    auto old = ring::BackendRing::attach(pair.backend->region(), g);
    REQUIRE(old);
    hello_through(*old, **client);
    for (int i = 0; i < 5; ++i) {
      Result<rpc::Reply> r = make_error(Errc::kCancelled, "not run");
      std::thread caller([&] { r = ping(**client, i); });  // Catch2 asserts on this thread only
      publish_echo(*old, take_requests(*old, 1)[0]);
      caller.join();
      CHECK(r);
    }
  }
  REQUIRE(channel->restart());
  auto* control = reinterpret_cast<proto::ControlPage*>(pair.backend->region().data());
  // Nothing replayed but the kHello the new backend needs first (it refuses anything else).
  CHECK(ring::load_acquire(control->req_prod) == 1);
  CHECK(ring::load_acquire(control->rsp_prod) == 0);
  auto first = ring::copy_struct_from_shared(
      *reinterpret_cast<proto::RequestSlot*>(pair.backend->region().data() + g.request_offset()));
  CHECK(first.opcode == static_cast<uint16_t>(Opcode::kHello));

  CountingHandler handler;
  auto server = rpc::RingServer::create(std::move(pair.backend), handler, {});
  REQUIRE(server);
  std::thread serving([&] { (void)(*server)->serve(); });
  for (int i = 0; i < 20; ++i) CHECK(ping(**client, i));
  CHECK(handler.pings == 20);
  client->reset();
  (*server)->stop();
  serving.join();
}
