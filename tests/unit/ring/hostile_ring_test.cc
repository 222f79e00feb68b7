// A peer that breaks the ring contract must end in a clean error on the victim's side: no
// crash, no out-of-bounds access (these run under ASan/UBSan in CI), no trust in the copy.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <thread>

#include "shared/ring/backend_ring.h"
#include "shared/ring/frontend_ring.h"
#include "shared/ring/shared_memory.h"
#include "shared/rpc/request_check.h"
#include "tests/support/ring_fixture.h"

using namespace ringbox;

TEST_CASE("a guest request index that jumps past the ring breaks the ring for good",
          "[ring][hostile]") {
  const ring::Geometry g{3, 16};
  test::PrivateRegion region(g);
  REQUIRE(ring::FrontendRing::create(region.bytes(), g));
  auto back = ring::BackendRing::attach(region.bytes(), g);
  REQUIRE(back);
  for (uint32_t bogus : {g.slots() + 1, 0x80000000u, 0xffffffffu}) {
    CAPTURE(bogus);
    region.control().req_prod = bogus;
    proto::RequestSlot got;
    auto t = back->take_request(got);
    REQUIRE_FALSE(t);
    CHECK(t.error().code == Errc::kPeerBroken);
    CHECK(back->broken());
    // Setting a sane index afterwards does not resurrect a broken ring.
    region.control().req_prod = 1;
    CHECK_FALSE(back->take_request(got));
    CHECK_FALSE(back->final_check_requests());
  }
}

TEST_CASE("a full ring's worth of requests is fine, one more is a broken peer", "[ring][hostile]") {
  const ring::Geometry g{2, 16};
  test::PrivateRegion region(g);
  REQUIRE(ring::FrontendRing::create(region.bytes(), g));
  auto back = ring::BackendRing::attach(region.bytes(), g);
  REQUIRE(back);
  region.control().req_prod = g.slots();
  proto::RequestSlot got;
  for (uint32_t i = 0; i < g.slots(); ++i) REQUIRE(*back->take_request(got));
  // All slots now held by unanswered requests: a single extra request is impossible.
  region.control().req_prod = g.slots() + 1;
  CHECK_FALSE(back->take_request(got));
}

TEST_CASE("a writer racing the consumer never gets an unchecked buffer past the sanitizer",
          "[ring][hostile]") {
  // The guest's other vCPU flips every request slot between a valid request and one whose
  // buffer lies far outside the data area while the backend takes and checks requests. A
  // consumer that checked one read of the slot and used another (a double fetch) would hand
  // out a buffer outside the area; the private copy makes every accepted request consistent.
  const ring::Geometry g{2, 16};
  test::PrivateRegion region(g);
  REQUIRE(ring::FrontendRing::create(region.bytes(), g));
  auto back = ring::BackendRing::attach(region.bytes(), g);
  REQUIRE(back);
  auto* slots = reinterpret_cast<proto::RequestSlot*>(region.bytes().data() + g.request_offset());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> flips{0};
  std::thread writer([&] {
    for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      flips.store(i, std::memory_order_relaxed);
      const bool evil = (i & 1) != 0;
      for (uint32_t k = 0; k < g.slots(); ++k) {
        ring::store_release(slots[k].buf_off, evil ? 0xffffff00u : 0u);
        ring::store_release(slots[k].buf_len, evil ? 0xffffffffu : 64u);
        ring::store_release(slots[k].in_len, evil ? 0xfffffff0u : 8u);
      }
    }
  });
  const std::span<std::byte> area = back->data_area();
  int accepted = 0, refused = 0;
  // At least 20,000 requests, and on until the writer has been seen both ways: on a loaded
  // machine the writer thread may not run at all during the first 20,000 (bounded: 20 s).
  while (flips.load() < 2) std::this_thread::yield();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (uint32_t n = 1; n <= 20000 || ((accepted == 0 || refused == 0) &&
                                      std::chrono::steady_clock::now() < give_up);
       ++n) {
    ring::store_release(region.control().req_prod, n);
    proto::RequestSlot copy;
    auto got = back->take_request(copy);
    REQUIRE(got);
    REQUIRE(*got);
    auto req = rpc::check_ring_request(copy, area, g);
    if (req) {
      ++accepted;
      CHECK(req->out.data() >= area.data());
      CHECK(req->out.data() + req->out.size() <= area.data() + g.data_bytes());
      CHECK(req->in.size() <= req->out.size());
      CHECK(req->out.size() == copy.buf_len);  // the request is built from the checked copy
    } else {
      ++refused;
    }
    REQUIRE(back->put_response(proto::ResponseSlot{}));
    (void)back->push_responses();
  }
  stop = true;
  writer.join();
  // Both kinds were taken: the writer really raced the consumer.
  CHECK(accepted > 0);
  CHECK(refused > 0);
}

TEST_CASE("a host response index past the outstanding requests breaks the frontend",
          "[ring][hostile]") {
  const ring::Geometry g{3, 16};
  test::PrivateRegion region(g);
  auto front = ring::FrontendRing::create(region.bytes(), g);
  REQUIRE(front);
  proto::RequestSlot req{};
  front->put_request(req);
  (void)front->push_requests();
  region.control().rsp_prod = 2;  // one request outstanding, two responses claimed
  proto::ResponseSlot rsp;
  auto t = front->take_response(rsp);
  REQUIRE_FALSE(t);
  CHECK(t.error().code == Errc::kPeerBroken);
  CHECK_FALSE(front->final_check_responses());
}

TEST_CASE("a region without the ringbox magic is refused at attach", "[ring][hostile]") {
  const ring::Geometry g{3, 16};
  test::PrivateRegion region(g);
  auto back = ring::BackendRing::attach(region.bytes(), g);
  REQUIRE_FALSE(back);
  CHECK(back.error().code == Errc::kPeerBroken);
}
