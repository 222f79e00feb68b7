#include <catch2/catch.hpp>
#include <cstring>

#include "shared/ring/backend_ring.h"
#include "shared/ring/frontend_ring.h"
#include "tests/support/ring_fixture.h"

using namespace ringbox;

namespace {

proto::RequestSlot make_request(uint64_t id) {
  proto::RequestSlot r{};
  r.id = id;
  r.opcode = static_cast<uint16_t>(proto::Opcode::kPing);
  r.arg[0] = id * 3;
  return r;
}

// A front/back pair over private memory whose indexes all start at `start` (as if that many
// messages had already gone through), so wrap-around of the u32 indexes can be tested directly.
struct Rings {
  test::PrivateRegion region;
  ring::FrontendRing front;
  ring::BackendRing back;
};

Rings make_rings(const ring::Geometry& g, uint32_t start) {
  test::PrivateRegion region(g);
  REQUIRE(ring::FrontendRing::create(region.bytes(), g));
  region.control().req_prod = start;
  region.control().rsp_prod = start;
  region.control().req_event = start + 1;
  region.control().rsp_event = start + 1;
  auto front = ring::FrontendRing::adopt(region.bytes(), g);
  REQUIRE(front);
  auto back = ring::BackendRing::attach(region.bytes(), g);
  REQUIRE(back);
  return Rings{std::move(region), std::move(*front), std::move(*back)};
}

}  // namespace

TEST_CASE("requests and responses cross every index wrap-around boundary in order",
          "[ring][wrap]") {
  const ring::Geometry g{3, 16};  // 8 slots
  const uint32_t n = g.slots();
  for (uint32_t start : {0u, n - 1, n, 0x7fffffffu, 0x80000000u - 3, 0xffffffffu - n,
                         0xffffffffu - 1, 0xffffffffu}) {
    CAPTURE(start);
    Rings r = make_rings(g, start);
    uint64_t next_id = 1, expect_req = 1, expect_rsp = 1;
    // 5 rounds of filling the ring to different depths, which moves the indexes across 2^32.
    for (uint32_t depth : {n, 1u, n - 1, 3u, n}) {
      for (uint32_t i = 0; i < depth; ++i) {
        REQUIRE(r.front.free_slots() > 0);
        r.front.put_request(make_request(next_id++));
      }
      CHECK(r.front.free_slots() == n - depth);
      (void)r.front.push_requests();
      proto::RequestSlot got;
      for (uint32_t i = 0; i < depth; ++i) {
        auto t = r.back.take_request(got);
        REQUIRE(t);
        REQUIRE(*t);
        CHECK(got.id == expect_req);
        CHECK(got.arg[0] == expect_req * 3);
        ++expect_req;
        proto::ResponseSlot rsp{};
        rsp.id = got.id;
        REQUIRE(r.back.put_response(rsp));
      }
      auto none = r.back.take_request(got);
      REQUIRE(none);
      CHECK_FALSE(*none);
      (void)r.back.push_responses();
      proto::ResponseSlot rsp;
      for (uint32_t i = 0; i < depth; ++i) {
        auto t = r.front.take_response(rsp);
        REQUIRE(t);
        REQUIRE(*t);
        CHECK(rsp.id == expect_rsp++);
      }
      CHECK(r.front.free_slots() == n);
    }
  }
}

TEST_CASE("a producer kicks only when the consumer armed its event inside the batch",
          "[ring][notify]") {
  const ring::Geometry g{3, 16};
  Rings r = make_rings(g, 0);
  // Fresh ring: req_event = 1, so the first push (0 -> 1) must kick.
  r.front.put_request(make_request(1));
  CHECK(r.front.push_requests());
  // The backend has not re-armed: further pushes are silent (it is known to be busy).
  r.front.put_request(make_request(2));
  CHECK_FALSE(r.front.push_requests());
  proto::RequestSlot got;
  REQUIRE(*r.back.take_request(got));
  REQUIRE(*r.back.take_request(got));
  // Drained: the final check arms req_event = cons + 1 and finds nothing.
  auto pending = r.back.final_check_requests();
  REQUIRE(pending);
  CHECK_FALSE(*pending);
  // A batch of three pushed at once crosses the armed event exactly once.
  for (uint64_t id = 3; id <= 5; ++id) r.front.put_request(make_request(id));
  CHECK(r.front.push_requests());
  r.front.put_request(make_request(6));
  CHECK_FALSE(r.front.push_requests());
}

TEST_CASE("the final check sees a request pushed just before the consumer armed its event",
          "[ring][notify]") {
  const ring::Geometry g{3, 16};
  Rings r = make_rings(g, 0);
  proto::RequestSlot got;
  r.front.put_request(make_request(1));
  (void)r.front.push_requests();
  REQUIRE(*r.back.take_request(got));
  r.front.put_request(make_request(2));
  CHECK_FALSE(r.front.push_requests());  // backend busy: no kick
  auto pending = r.back.final_check_requests();
  REQUIRE(pending);
  CHECK(*pending);  // the re-check after arming finds it: no lost wake-up
}

TEST_CASE("responses kick the frontend only once it armed rsp_event", "[ring][notify]") {
  const ring::Geometry g{3, 16};
  Rings r = make_rings(g, 0);
  proto::RequestSlot got;
  for (uint64_t id = 1; id <= 2; ++id) r.front.put_request(make_request(id));
  (void)r.front.push_requests();
  REQUIRE(*r.back.take_request(got));
  REQUIRE(*r.back.take_request(got));
  proto::ResponseSlot rsp{};
  rsp.id = 1;
  REQUIRE(r.back.put_response(rsp));
  CHECK(r.back.push_responses());  // initial rsp_event = 1
  REQUIRE(*r.front.take_response(rsp));
  rsp.id = 2;
  REQUIRE(r.back.put_response(rsp));
  CHECK_FALSE(r.back.push_responses());  // frontend has not re-armed: it is polling
}

TEST_CASE("a full ring has no free slot until a response is consumed", "[ring][backpressure]") {
  const ring::Geometry g{2, 16};  // 4 slots
  Rings r = make_rings(g, 0xfffffffeu);
  for (uint64_t id = 1; id <= 4; ++id) r.front.put_request(make_request(id));
  (void)r.front.push_requests();
  CHECK(r.front.free_slots() == 0);
  proto::RequestSlot got;
  REQUIRE(*r.back.take_request(got));
  proto::ResponseSlot rsp{};
  rsp.id = got.id;
  REQUIRE(r.back.put_response(rsp));
  (void)r.back.push_responses();
  CHECK(r.front.free_slots() == 0);  // answered but not yet consumed
  REQUIRE(*r.front.take_response(rsp));
  CHECK(r.front.free_slots() == 1);
}

TEST_CASE("the backend refuses to answer more requests than it took", "[ring]") {
  const ring::Geometry g{2, 16};
  Rings r = make_rings(g, 0);
  proto::ResponseSlot rsp{};
  CHECK_FALSE(r.back.put_response(rsp));
}
