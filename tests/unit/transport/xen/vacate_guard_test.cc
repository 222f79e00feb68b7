// The vacate contract of the RPC client (RingChannel::set_region_guard, docs/vacate.md), over a
// real local channel: memfd region, eventfd doorbells. On Xen the channel swaps the granted
// pages for a private copy before the suspend and fresh grants after the restore, at the same
// address, inside the guard; here the test does the same swap with a scribble in between that
// any thread touching the region meanwhile would trip over.
#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "shared/rpc/handler.h"
#include "shared/rpc/ring_client.h"
#include "shared/rpc/ring_server.h"
#include "tests/support/ring_fixture.h"

using namespace ringbox;
using proto::Opcode;

namespace {

class VacatableChannel final : public transport::RingChannel {
 public:
  explicit VacatableChannel(std::unique_ptr<transport::RingChannel> inner)
      : inner_(std::move(inner)) {}
  std::span<std::byte> region() override { return inner_->region(); }
  const ring::Geometry& geometry() const override { return inner_->geometry(); }
  transport::Doorbell& doorbell() override { return inner_->doorbell(); }
  std::string describe() const override { return "vacatable " + inner_->describe(); }
  void set_restart_handler(RestartHandler h) override {
    std::lock_guard lk(mu_);
    restart_ = std::move(h);
  }
  void set_region_guard(RegionGuard g) override {
    std::lock_guard lk(mu_);
    guard_ = std::move(g);
  }
  // Swaps the region's bytes out and back in, as Xen's quiesce and rebuild do, with garbage
  // in between (scribble: only while no host serves the region, as on Xen, where the host has
  // lost the grants by then).
  Result<void> swap(int drain_ms, bool scribble = true) {
    std::lock_guard lk(mu_);
    if (!guard_) return make_error(Errc::kInvalidArgument, "no region guard registered");
    return guard_(drain_ms, [this, scribble]() -> Result<void> {
      ++swaps;
      if (!scribble) return ok();
      auto r = inner_->region();
      std::vector<std::byte> copy(r.begin(), r.end());
      std::memset(r.data(), 0xa5, r.size());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      std::memcpy(r.data(), copy.data(), copy.size());
      return ok();
    });
  }
  std::atomic<int> swaps{0};  // changes the guard ran
  Result<void> restart() {
    std::lock_guard lk(mu_);
    return restart_();
  }

 private:
  std::unique_ptr<transport::RingChannel> inner_;
  std::mutex mu_;
  RestartHandler restart_;
  RegionGuard guard_;
};

class EchoHandler final : public rpc::Handler {
 public:
  rpc::Reply handle(const rpc::Request& req) override {
    if (req.opcode == static_cast<uint16_t>(Opcode::kPing)) ++pings;
    return rpc::handle_session_opcode(req);
  }
  std::atomic<int> pings{0};
};

bool ping(rpc::Client& client, int i) {
  std::vector<std::byte> in(512), out(512);
  for (size_t j = 0; j < in.size(); ++j) in[j] = static_cast<std::byte>(i * 7 + j);
  rpc::Call c;
  c.opcode = Opcode::kPing;
  c.in = in;
  c.out = out;
  auto r = client.call(c);
  return r && r->ok() && r->out_len == in.size() && out == in;
}

}  // namespace

TEST_CASE("calls unanswered at the vacate are kept and replayed to the host after the restore",
          "[xen][vacate]") {
  const ring::Geometry g{4, 32};
  auto pair = test::make_local_pair(g);
  auto ch = std::make_unique<VacatableChannel>(std::move(pair.frontend));
  VacatableChannel* channel = ch.get();
  auto client = rpc::RingClient::create(std::move(ch), {10});
  REQUIRE(client);
  // The agent settled kHello with the host before the vacate (negotiate_version); the restored
  // connection repeats it ahead of the replay, as the new host requires it first.
  (*client)->note_hello({proto::kVersionMin, proto::kVersionMax, 0, 0}, proto::kVersionMax, 0);
  // No host answers: the calls wait in the ring.
  constexpr int kCalls = 3;
  std::vector<int> ok_calls(kCalls, 0);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCalls; ++i)
    callers.emplace_back([&, i] { ok_calls[i] = ping(**client, 100 + i) ? 1 : 0; });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // Quiesce: the drain gives up after 100 ms and keeps them; the region is swapped out.
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(channel->swap(100));
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(100));
  // Restored: fresh pages at the same address, the new host's generation replays.
  REQUIRE(channel->swap(0));
  REQUIRE(channel->restart());
  EchoHandler after;
  auto server = rpc::RingServer::create(std::move(pair.backend), after, {});
  REQUIRE(server);
  std::thread serving([&] { (void)(*server)->serve(); });
  for (auto& t : callers) t.join();
  for (int i = 0; i < kCalls; ++i) CHECK(ok_calls[i] == 1);
  CHECK(after.pings == kCalls);
  CHECK(ping(**client, 7));
  client->reset();
  (*server)->stop();
  serving.join();
}

TEST_CASE("calls that start while the guard drains wait until the region changed",
          "[xen][vacate]") {
  // A write-back sends chunk after chunk: were new calls let in while the vacate drains, the
  // ring would never be quiet, and the write-back could finish (or half finish) before the
  // save instead of after the restore.
  const ring::Geometry g{4, 32};
  auto pair = test::make_local_pair(g);
  auto ch = std::make_unique<VacatableChannel>(std::move(pair.frontend));
  VacatableChannel* channel = ch.get();
  auto client = rpc::RingClient::create(std::move(ch), {10});
  REQUIRE(client);
  std::atomic<bool> release_first{false};
  std::atomic<bool> holding_first{false};
  std::atomic<int> swaps_seen_by_second{-1};
  class Handler final : public rpc::Handler {
   public:
    Handler(std::atomic<bool>& release, std::atomic<bool>& holding, std::atomic<int>& seen,
            VacatableChannel& ch)
        : release_(release), holding_(holding), seen_(seen), ch_(ch) {}
    rpc::Reply handle(const rpc::Request& req) override {
      if (req.opcode == static_cast<uint16_t>(Opcode::kPing) && req.in.size() > 0) {
        std::byte first{};
        req.in.copy_to(std::span(&first, 1), 0);
        if (first == std::byte{7}) {
          holding_ = true;
          while (!release_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (first == std::byte{14}) seen_ = ch_.swaps.load();
      }
      return rpc::handle_session_opcode(req);
    }
    bool runs_inline(uint16_t) const override { return false; }

   private:
    std::atomic<bool>& release_;
    std::atomic<bool>& holding_;
    std::atomic<int>& seen_;
    VacatableChannel& ch_;
  } handler(release_first, holding_first, swaps_seen_by_second, *channel);
  auto server = rpc::RingServer::create(std::move(pair.backend), handler, {});
  REQUIRE(server);
  std::thread serving([&] { (void)(*server)->serve(); });
  REQUIRE(rpc::negotiate_version(**client));

  std::atomic<bool> first_ok{false}, second_ok{false};
  // Each step waits for the one before (bounded), so a loaded machine cannot reorder them.
  auto wait_until = [](auto done) {
    for (int i = 0; i < 10000 && !done(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return done();
  };
  std::thread first([&] { first_ok = ping(**client, 1); });  // held by the host
  REQUIRE(wait_until([&] { return holding_first.load(); }));
  Result<void> swapped = ok();
  std::thread guard([&] { swapped = channel->swap(30000, false); });
  REQUIRE(wait_until([&] { return (*client)->parking(); }));
  std::thread second([&] { second_ok = ping(**client, 2); });  // starts during the drain
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(swaps_seen_by_second == -1);  // parked: it has not reached the host
  release_first = true;
  guard.join();
  first.join();
  second.join();
  REQUIRE(swapped);
  CHECK(first_ok);
  CHECK(second_ok);
  CHECK(swaps_seen_by_second == 1);  // it reached the host after the change, not before
  client->reset();
  (*server)->stop();
  serving.join();
}
