// Fuzzes the host's ring consumer: the input is what a hostile guest wrote into the control page
// and the request slots, followed by further req_prod values written between polls. The backend
// must either hand out slots (never more than a ring's worth outstanding) or report a broken
// peer and stay broken.
#include <cstring>

#include "shared/ring/backend_ring.h"
#include "shared/ring/frontend_ring.h"
#include "tests/fuzz/fuzz_target.h"
#include "tests/support/ring_fixture.h"

using namespace ringbox;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ring::Geometry g{3, 16};
  test::PrivateRegion region(g);
  if (!ring::FrontendRing::create(region.bytes(), g)) return 0;
  auto back = ring::BackendRing::attach(region.bytes(), g);
  FUZZ_CHECK(back.has_value());
  size_t slots_bytes = g.slots() * sizeof(proto::RequestSlot);
  std::memcpy(region.bytes().data() + g.request_offset(), data, std::min(size, slots_bytes));
  size_t pos = std::min(size, slots_bytes);
  uint32_t taken = 0, answered = 0;
  bool broken = false;
  while (pos + 4 <= size) {
    uint32_t prod;
    std::memcpy(&prod, data + pos, 4);
    pos += 4;
    region.control().req_prod = prod;
    proto::RequestSlot s;
    for (int i = 0; i < 16; ++i) {
      auto t = back->take_request(s);
      if (!t) {
        broken = true;
        break;
      }
      if (!*t) break;
      ++taken;
      FUZZ_CHECK(taken - answered <= g.slots());
      // answer every other request so slots free up
      if (taken % 2 == 0) {
        proto::ResponseSlot rsp{};
        rsp.id = s.id;
        FUZZ_CHECK(back->put_response(rsp).has_value());
        ++answered;
        (void)back->push_responses();
      }
    }
    if (broken) {
      proto::RequestSlot s2;
      FUZZ_CHECK(!back->take_request(s2).has_value());  // stays broken
      break;
    }
  }
  return 0;
}

std::vector<std::vector<uint8_t>> fuzz_seeds() {
  std::vector<uint8_t> v(8 * sizeof(proto::RequestSlot), 0);
  for (uint32_t prod : {1u, 2u, 5u, 8u, 9u, 20u}) {
    uint8_t b[4];
    std::memcpy(b, &prod, 4);
    v.insert(v.end(), b, b + 4);
  }
  return {v};
}
