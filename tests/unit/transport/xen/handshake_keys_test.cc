// The xenstore handshake values a hostile guest writes, and how the host reads them.
#include "shared/transport/xen/handshake_keys.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

using namespace ringbox;
using namespace ringbox::transport::xen;
using proto::XenbusState;

namespace {

RawFrontendKeys good_keys() {
  ring::Geometry g;  // the default geometry: 519 region pages, one directory page
  RawFrontendKeys k;
  k.protocol_version = std::to_string(proto::kVersionMax);
  k.ring_order = std::to_string(g.ring_order);
  k.data_pages = std::to_string(g.data_pages);
  k.dir_refs = "2041";
  k.event_channel = "17";
  k.state = "3";
  return k;
}

std::string what_of(const Result<FrontendParams>& r) {
  return r ? "" : r.error().what;
}

}  // namespace

TEST_CASE("canonical decimals within bounds parse", "[xen][keys]") {
  CHECK(*parse_decimal("0", 0, 10, "v") == 0);
  CHECK(*parse_decimal("10", 0, 10, "v") == 10);
  CHECK(*parse_decimal("4294967295", 0, std::numeric_limits<uint32_t>::max(), "v") == 4294967295u);
  CHECK(*parse_decimal("18446744073709551615", 0, std::numeric_limits<uint64_t>::max(), "v") ==
        std::numeric_limits<uint64_t>::max());
}

TEST_CASE("hostile decimals are refused with the key named", "[xen][keys]") {
  const uint64_t max32 = std::numeric_limits<uint32_t>::max();
  for (const std::string& bad : std::vector<std::string>{
           "", "-1", "+1", " 1", "1 ", "1\n", "01", "00", "0x10", "1e3", "1.0", "٣", "4294967296",
           "18446744073709551616", "99999999999999999999999", std::string("1\0", 2),
           std::string(5000, '7')}) {
    INFO("value: " << quote_untrusted(bad));
    auto r = parse_decimal(bad, 0, max32, "frontend key ring-order");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::kPeerBroken);
    CHECK(r.error().what.find("frontend key ring-order") == 0);
  }
  CHECK_FALSE(parse_decimal("11", 0, 10, "v"));
  CHECK_FALSE(parse_decimal("1", 2, 10, "v"));
}

TEST_CASE("quoted untrusted values are escaped and truncated", "[xen][keys]") {
  CHECK(quote_untrusted("ok") == "'ok'");
  CHECK(quote_untrusted(std::string("a\0\n'\\", 5)) == "'a\\x00\\x0a\\x27\\x5c'");
  std::string q = quote_untrusted(std::string(1000, 'x'));
  CHECK(q.size() < 80);
  CHECK(q.find("1000 bytes, truncated") != std::string::npos);
}

TEST_CASE("xenbus states parse, Unknown and out-of-range values do not", "[xen][keys]") {
  CHECK(*parse_state("1", "s") == XenbusState::kInitialising);
  CHECK(*parse_state("6", "s") == XenbusState::kClosed);
  CHECK_FALSE(parse_state("0", "s"));
  CHECK_FALSE(parse_state("7", "s"));
  CHECK_FALSE(parse_state("4 ", "s"));
}

TEST_CASE("dir-refs must list exactly the refs the geometry needs", "[xen][keys]") {
  auto r = parse_dir_refs("8 9 4294967295", 3);
  REQUIRE(r);
  CHECK(*r == std::vector<uint32_t>{8, 9, 4294967295u});
  CHECK(format_dir_refs(*r) == "8 9 4294967295");

  CHECK_FALSE(parse_dir_refs("8 9", 3));             // too few
  CHECK_FALSE(parse_dir_refs("8 9 10 11", 3));       // too many
  CHECK_FALSE(parse_dir_refs("8  9 10", 3));         // double space
  CHECK_FALSE(parse_dir_refs(" 8 9 10", 3));         // leading space
  CHECK_FALSE(parse_dir_refs("8 9 10 ", 3));         // trailing space
  CHECK_FALSE(parse_dir_refs("8\t9 10", 3));         // tab
  CHECK_FALSE(parse_dir_refs("8 9 4294967296", 3));  // not a u32
  CHECK_FALSE(parse_dir_refs("", 1));
  // A long list is refused as soon as it runs past the count, not after parsing it all.
  std::string flood;
  for (int i = 0; i < 2000; ++i) flood += std::to_string(i) + " ";
  flood += "1";
  auto f = parse_dir_refs(flood, 1);
  REQUIRE_FALSE(f);
  CHECK(f.error().what.find("more than the 1 directory refs") != std::string::npos);
}

TEST_CASE("directory page counts follow the region size", "[xen][keys]") {
  CHECK(dir_pages_for(1) == 1);
  CHECK(dir_pages_for(1024) == 1);
  CHECK(dir_pages_for(1025) == 2);
  ring::Geometry def;
  CHECK(def.total_pages() == 519);  // 1 control + 4 request + 2 response + 512 data
  CHECK(dir_pages_for(def.total_pages()) == 1);
  // The default region and its directory fit xen-gntalloc's default limit of 1024 pages.
  CHECK(def.total_pages() + dir_pages_for(def.total_pages()) <= 1024);
  auto biggest = ring::validate_geometry(proto::kMaxRingOrder, proto::kMaxDataPages);
  REQUIRE(biggest);
  CHECK(dir_pages_for(biggest->total_pages()) == proto::kXenMaxDirPages);
}

TEST_CASE("a well-formed frontend key set validates", "[xen][keys]") {
  auto p = validate_frontend_keys(good_keys());
  REQUIRE(p);
  CHECK(p->version == proto::kVersionMax);
  CHECK(p->geometry.ring_order == proto::kDefaultRingOrder);
  CHECK(p->geometry.data_pages == proto::kDefaultDataPages);
  CHECK(p->dir_refs == std::vector<uint32_t>{2041});
  CHECK(p->event_channel == 17);
  CHECK(p->state == XenbusState::kInitialised);
}

TEST_CASE("a missing frontend key is named", "[xen][keys]") {
  auto k = good_keys();
  k.dir_refs.reset();
  auto p = validate_frontend_keys(k);
  REQUIRE_FALSE(p);
  CHECK(what_of(p) == "frontend key dir-refs is missing");
}

TEST_CASE("hostile frontend keys are refused", "[xen][keys]") {
  struct Case {
    const char* name;
    void (*mutate)(RawFrontendKeys&);
  };
  const Case cases[] = {
      {"ring order too small", [](RawFrontendKeys& k) { k.ring_order = "1"; }},
      {"ring order too large", [](RawFrontendKeys& k) { k.ring_order = "13"; }},
      {"ring order huge", [](RawFrontendKeys& k) { k.ring_order = "4294967298"; }},
      {"data pages too few", [](RawFrontendKeys& k) { k.data_pages = "15"; }},
      {"data pages too many", [](RawFrontendKeys& k) { k.data_pages = "65537"; }},
      {"data pages negative", [](RawFrontendKeys& k) { k.data_pages = "-512"; }},
      {"dir refs for a smaller region", [](RawFrontendKeys& k) { k.dir_refs = ""; }},
      {"dir refs for a larger region", [](RawFrontendKeys& k) { k.dir_refs = "1 2"; }},
      {"event channel zero", [](RawFrontendKeys& k) { k.event_channel = "0"; }},
      {"event channel beyond the FIFO ABI", [](RawFrontendKeys& k) { k.event_channel = "131072"; }},
      {"state unknown", [](RawFrontendKeys& k) { k.state = "0"; }},
      {"state garbage", [](RawFrontendKeys& k) { k.state = "Connected"; }},
      {"version zero", [](RawFrontendKeys& k) { k.protocol_version = "0"; }},
      {"version beyond u16", [](RawFrontendKeys& k) { k.protocol_version = "65536"; }},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    auto k = good_keys();
    c.mutate(k);
    auto p = validate_frontend_keys(k);
    CHECK_FALSE(p);
  }
}

TEST_CASE("the largest geometry needs as many dir refs as kXenMaxDirPages", "[xen][keys]") {
  auto k = good_keys();
  k.ring_order = std::to_string(proto::kMaxRingOrder);
  k.data_pages = std::to_string(proto::kMaxDataPages);
  std::vector<uint32_t> refs;
  for (uint32_t i = 0; i < proto::kXenMaxDirPages; ++i) refs.push_back(100 + i);
  k.dir_refs = format_dir_refs(refs);
  auto p = validate_frontend_keys(k);
  REQUIRE(p);
  CHECK(p->dir_refs.size() == proto::kXenMaxDirPages);
}

TEST_CASE("region refs survive a pack and unpack round trip", "[xen][dir]") {
  std::vector<uint32_t> refs = {8, 9, 10, 0xdeadbeef, 4096};
  std::vector<std::byte> page(proto::kPageSize, std::byte{0xff});
  pack_region_refs(page, refs);
  // little-endian on the wire whatever the host
  CHECK(page[12] == std::byte{0xef});
  CHECK(page[15] == std::byte{0xde});
  CHECK(page[20] == std::byte{0});  // bytes after the list are zeroed
  auto back = unpack_region_refs(page, refs.size());
  REQUIRE(back);
  CHECK(*back == refs);
}

TEST_CASE("a directory naming one grant for two region pages is refused", "[xen][dir]") {
  std::vector<uint32_t> refs = {8, 9, 10, 9};
  std::vector<std::byte> page(proto::kPageSize);
  pack_region_refs(page, refs);
  auto r = unpack_region_refs(page, refs.size());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::kPeerBroken);
  CHECK(r.error().what.find("grant ref 9") != std::string::npos);
}

TEST_CASE("a directory copy too short for the region is refused", "[xen][dir]") {
  std::vector<std::byte> small(8);
  CHECK_FALSE(unpack_region_refs(small, 3));
}

TEST_CASE("xenstore paths follow the contract", "[xen][keys]") {
  CHECK(frontend_dir(7) == "/local/domain/7/data/ringbox");
  CHECK(backend_dir(7) == "/local/domain/0/backend/ringbox/7");
}

TEST_CASE("vacate nonces are short lowercase hex and nothing else", "[xen][vacate]") {
  CHECK(parse_vacate_nonce("0123456789abcdef"));
  CHECK(parse_vacate_nonce(std::string(proto::kMaxVacateNonce, 'a')));
  for (std::string bad : {std::string(), std::string(proto::kMaxVacateNonce + 1, 'a'),
                          std::string("ABCDEF"), std::string("12 34"), std::string("12\n"),
                          std::string("12\0"
                                      "34",
                                      5),
                          std::string("../x")}) {
    INFO(quote_untrusted(bad));
    CHECK(!parse_vacate_nonce(bad));
  }
}

TEST_CASE("the vacate budget is the host's decimal, bounded, with a default", "[xen][vacate]") {
  CHECK(vacate_wait_ms(std::string("30000")) == 30000);
  CHECK(vacate_wait_ms(std::string("0")) == 0);
  CHECK(vacate_wait_ms(std::to_string(proto::kMaxVacateWaitMs)) == proto::kMaxVacateWaitMs);
  CHECK(vacate_wait_ms(std::nullopt) == proto::kDefaultVacateWaitMs);
  for (std::string bad :
       {std::string(), std::to_string(proto::kMaxVacateWaitMs + 1), std::string("-1"),
        std::string("1e9"), std::string("030000"), std::string("99999999999999999999999")}) {
    INFO(quote_untrusted(bad));
    CHECK(vacate_wait_ms(bad) == proto::kDefaultVacateWaitMs);
  }
}
