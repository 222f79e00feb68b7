// A peer that breaks the ring contract must end in a clean error on the victim's side: no
// crash, no out-of-bounds access (these run under ASan/UBSan in CI), no trust in the copy.
#include <catch2/catch.hpp>
#include <cstring>

#include "shared/ring/backend_ring.h"
#include "shared/ring/frontend_ring.h"
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

TEST_CASE("a slot rewritten after the backend took it does not change the backend's copy",
          "[ring][hostile]") {
  const ring::Geometry g{2, 16};
  test::PrivateRegion region(g);
  auto front = ring::FrontendRing::create(region.bytes(), g);
  REQUIRE(front);
  auto back = ring::BackendRing::attach(region.bytes(), g);
  REQUIRE(back);
  proto::RequestSlot req{};
  req.id = 7;
  req.buf_off = 0;
  req.buf_len = 64;
  req.in_len = 8;
  front->put_request(req);
  (void)front->push_requests();
  proto::RequestSlot copy;
  REQUIRE(*back->take_request(copy));
  auto* shared = reinterpret_cast<proto::RequestSlot*>(region.bytes().data() + g.request_offset());
  shared->buf_len = 0xffffffffu;  // the guest tries a time-of-check/time-of-use swap
  shared->in_len = 0xffffffffu;
  shared->id = 99;
  CHECK(copy.id == 7);
  CHECK(copy.buf_len == 64);
  CHECK(copy.in_len == 8);
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
