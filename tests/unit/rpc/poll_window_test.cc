#include <catch2/catch.hpp>

#include "shared/rpc/spin.h"

using namespace ringbox;
using us = rpc::PollWindow::us;

TEST_CASE("the poll window grows while wake-ups come soon after it ran out", "[rpc]") {
  rpc::PollWindow w(50);
  CHECK(w.window() == us(50));
  w.slept(us(60), true);  // a 60 us round trip just missed the 50 us window
  CHECK(w.window() == us(100));
  w.slept(us(30), true);
  CHECK(w.window() == us(200));
  w.slept(us(10), true);
  CHECK(w.window() == us(rpc::kPollGrowLimitUs));  // never past the limit
}

TEST_CASE("the poll window falls back to its base after a long or timed-out sleep", "[rpc]") {
  rpc::PollWindow w(50);
  w.slept(us(60), true);
  w.slept(us(60), true);
  REQUIRE(w.window() == us(200));
  w.slept(us(5000), true);  // polling 200 us would not have caught a 5 ms gap
  CHECK(w.window() == us(50));
  w.slept(us(60), true);
  w.slept(us(100000), false);  // the wait slice ran out with no doorbell
  CHECK(w.window() == us(50));
}

TEST_CASE("a zero base never polls and a base above the limit never shrinks below itself",
          "[rpc]") {
  rpc::PollWindow off(0);
  off.slept(us(10), true);
  CHECK(off.window() == us(0));
  rpc::PollWindow big(500);
  big.slept(us(10), true);
  CHECK(big.window() == us(500));
  big.slept(us(10000), true);
  CHECK(big.window() == us(500));
}
