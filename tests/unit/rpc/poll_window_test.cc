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
  CHECK(w.window() == us(rpc::kPollMinLimitUs));  // never past the limit
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

namespace {
// n doorbell-ended sleeps of `len` us each.
void sleeps(rpc::PollWindow& w, int n, int len) {
  for (int i = 0; i < n; ++i) w.slept(us(len), true);
}
}  // namespace

TEST_CASE("when wake-ups cost more than the fixed limit, the window grows to what they cost",
          "[rpc]") {
  // Under TCG a woken vCPU can take 1.5 ms: no sleep is ever shorter than that, yet the message
  // came right after the sleep began. A fixed 200 us limit never grew the window here.
  rpc::PollWindow w(50);
  sleeps(w, rpc::PollWindow::kWakeSamples, 1500);
  CHECK(w.limit() == us(1500));
  CHECK(w.window() == us(1500));
  w.slept(us(1600), true);  // the message came 100 us after the sleep began
  CHECK(w.window() == us(1500));
  w.slept(us(6000), true);  // it came 4.5 ms after: polling 1.5 ms would not have caught it
  CHECK(w.window() == us(50));
  w.slept(us(1550), true);
  CHECK(w.window() == us(100));
}

TEST_CASE("the wake-up's estimate needs a few sleeps and ignores a few early doorbells", "[rpc]") {
  rpc::PollWindow w(50);
  sleeps(w, rpc::PollWindow::kWakeSamples / 4 - 1, 1500);
  CHECK(w.limit() == us(rpc::kPollMinLimitUs));  // too few sleeps to tell yet
  CHECK(w.window() == us(50));                   // 1.5 ms is not soon after a 200 us limit
  // A quarter less one of the sleeps were short (a doorbell already pending): the first quartile
  // is still a real wake-up.
  rpc::PollWindow v(50);
  sleeps(v, rpc::PollWindow::kWakeSamples / 4 - 1, 2);
  sleeps(v, rpc::PollWindow::kWakeSamples - rpc::PollWindow::kWakeSamples / 4 + 1, 1200);
  CHECK(v.limit() == us(1200));
}

TEST_CASE("the limit stays within its floor and its ceiling", "[rpc]") {
  rpc::PollWindow fast(50);
  sleeps(fast, rpc::PollWindow::kWakeSamples, 20);  // cheap wake-ups (real hardware)
  CHECK(fast.limit() == us(rpc::kPollMinLimitUs));
  CHECK(fast.window() == us(rpc::kPollMinLimitUs));
  rpc::PollWindow slow(50);
  sleeps(slow, rpc::PollWindow::kWakeSamples, 9000);  // a loaded host: never poll 9 ms
  CHECK(slow.limit() == us(rpc::kPollMaxLimitUs));
  rpc::PollWindow off(0);
  sleeps(off, rpc::PollWindow::kWakeSamples, 1500);
  CHECK(off.limit() == us(0));
  CHECK(off.window() == us(0));
}
