#include "shared/ring/layout.h"

#include <catch2/catch.hpp>

using namespace ringbox;

TEST_CASE("geometry within protocol bounds is accepted", "[ring][layout]") {
  auto g = ring::validate_geometry(proto::kDefaultRingOrder, proto::kDefaultDataPages);
  REQUIRE(g);
  CHECK(g->slots() == 256);
  CHECK(g->request_offset() % proto::kPageSize == 0);
  CHECK(g->response_offset() % proto::kPageSize == 0);
  CHECK(g->data_offset() % proto::kPageSize == 0);
  CHECK(g->region_bytes() == g->data_offset() + g->data_bytes());
  // The default must fit the default xen-gntalloc limit of 1024 pages.
  CHECK(g->total_pages() <= 1024);
}

TEST_CASE("geometry outside protocol bounds is refused with the bound in the message",
          "[ring][layout]") {
  auto too_big = ring::validate_geometry(proto::kMaxRingOrder + 1, proto::kDefaultDataPages);
  REQUIRE_FALSE(too_big);
  CHECK(too_big.error().what.find("ring order") != std::string::npos);
  CHECK_FALSE(ring::validate_geometry(proto::kMinRingOrder - 1, proto::kDefaultDataPages));
  CHECK_FALSE(ring::validate_geometry(proto::kDefaultRingOrder, proto::kMinDataPages - 1));
  CHECK_FALSE(ring::validate_geometry(proto::kDefaultRingOrder, proto::kMaxDataPages + 1));
  CHECK_FALSE(ring::validate_geometry(proto::kDefaultRingOrder, 0xffffffffu));
}

TEST_CASE("one message may use at most a quarter of the data area", "[ring][layout]") {
  ring::Geometry g{4, 16};
  CHECK(g.max_message_bytes() == 16 * 4096 / 4);
  CHECK(g.max_message_bytes() % proto::kBufferAlign == 0);
}

TEST_CASE("a region smaller than its geometry cannot be viewed", "[ring][layout]") {
  ring::Geometry g{4, 16};
  alignas(4096) static std::byte small[4096 * 4];
  auto v = ring::view_region(small, g);
  REQUIRE_FALSE(v);
}
