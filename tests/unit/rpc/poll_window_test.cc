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
// n doorbell-ended sleeps of `len` us each, with (caught) or without messages caught by polling
// between them.
void sleeps(rpc::PollWindow& w, int n, int len, bool caught = true) {
  for (int i = 0; i < n; ++i) {
    w.slept(us(len), true);
    if (caught) w.caught();
  }
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
  CHECK(slow.window() == us(50));  // and a 9 ms sleep is not soon after a 2 ms limit
  rpc::PollWindow off(0);
  sleeps(off, rpc::PollWindow::kWakeSamples, 1500);
  CHECK(off.limit() == us(0));
  CHECK(off.window() == us(0));
}

TEST_CASE("a peer that writes every 10 ms is not polled for", "[rpc]") {
  // Quick wake-ups first, then a steady pace of one message per 10 ms: the sleeps are the pace.
  rpc::PollWindow w(50);
  sleeps(w, rpc::PollWindow::kWakeSamples, 20);
  for (int i = 0; i < 40; ++i) {
    w.slept(us(10000 - w.window().count()), true);
    CHECK(w.window() == us(50));
  }
}

// The share of the time spent polling past the base for a peer that writes every gap_us, more
// than the limit, so that polling never catches a message: each sleep lasts what is left of the
// gap after the window, plus the wake-up.
double extra_polled_share(int gap_us, int wake_us, int rounds) {
  rpc::PollWindow w(50);
  sleeps(w, rpc::PollWindow::kWakeSamples, wake_us);  // the wake-ups measured first
  REQUIRE(gap_us > w.limit().count());
  int64_t extra = 0;
  for (int i = 0; i < rounds; ++i) {
    const int64_t win = w.window().count();
    extra += win - 50;
    w.slept(us(gap_us - win + wake_us), true);
  }
  return static_cast<double>(extra) / (static_cast<double>(rounds) * gap_us);
}

TEST_CASE("polling that catches nothing backs off, whatever the pace", "[rpc]") {
  // Without the back-off these shares were 41 - 72 %: the sleeps shorten as the window grows.
  for (int gap : {300, 1000, 2500, 3000, 4000}) {
    INFO("a message every " << gap << " us, cheap wake-ups");
    CHECK(extra_polled_share(gap, 20, 2000) < 0.05);
  }
  for (int gap : {1500, 2500, 3000, 4000}) {
    INFO("a message every " << gap << " us, 1 ms wake-ups");
    CHECK(extra_polled_share(gap, 1000, 2000) < 0.05);
  }
}

TEST_CASE("misses at a grown window put it back to its base for a hold that doubles", "[rpc]") {
  rpc::PollWindow w(50);
  sleeps(w, rpc::PollWindow::kWakeSamples, 1000);  // caught in between: grown to the limit
  REQUIRE(w.window() == us(1000));
  for (int i = 1; i < rpc::PollWindow::kMissesToBackOff; ++i) w.slept(us(1050), true);
  CHECK(w.window() == us(1000));  // seven misses: still polling
  w.slept(us(1050), true);
  CHECK(w.window() == us(50));  // the eighth: back off, a hold of one sleep
  w.slept(us(1050), true);
  CHECK(w.window() == us(50));  // held
  w.slept(us(1050), true);
  CHECK(w.window() == us(100));  // growing again
  // The regrowth counts: eight misses from 100 us on, four of them before reaching the limit.
  // (Judging only a window at its limit, 4 + 8 sleeps here, starved a CPU-bound host's peer.)
  int to_base = 0;
  for (; to_base < 40 && w.window() > us(50); ++to_base) w.slept(us(1050), true);
  CHECK(to_base == rpc::PollWindow::kMissesToBackOff);
  REQUIRE(w.window() == us(50));  // backed off again: a hold of two sleeps now
  w.slept(us(1050), true);
  w.slept(us(1050), true);
  CHECK(w.window() == us(50));
  w.slept(us(1050), true);
  CHECK(w.window() == us(100));
  w.caught();  // polling caught a message: the next hold is one sleep again
}
