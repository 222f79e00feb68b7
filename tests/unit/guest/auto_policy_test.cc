// AutoPolicy (guest/fs/auto_policy.h): auto mode's per-file choice between a whole fetch and
// remote reads.
#include "guest/fs/auto_policy.h"

#include <catch2/catch.hpp>

using namespace ringbox::guest::fs;

namespace {
constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kRoom = 1024 * kMiB;
const std::function<uint64_t()> room = [] { return kRoom; };
const std::function<uint64_t()> small = [] { return kMiB; };

// A policy that has measured a round trip of rtt_us and a fetch bandwidth of mb_per_s.
void measure(AutoPolicy& p, double rtt_us, double mb_per_s) {
  p.note_round_trip(rtt_us);
  double us = rtt_us + static_cast<double>(64 * kMiB) / mb_per_s;
  p.note_fetch(64 * kMiB, us);
}
}  // namespace

TEST_CASE("auto: small files are fetched at open, whatever the costs") {
  AutoPolicy p;
  measure(p, 1000, 10);  // a slow link: 1 ms round trips, 10 MB/s
  CHECK(p.fetch_at_open(0, kRoom));
  CHECK(p.fetch_at_open(4096, kRoom));
  CHECK(p.fetch_at_open(kAlwaysFetchBytes, kRoom));
  CHECK_FALSE(p.fetch_at_open(kAlwaysFetchBytes, kAlwaysFetchBytes - 1));  // no room
}

TEST_CASE("auto: a file is fetched at open when that costs at most kOpenFetchRtts round trips") {
  AutoPolicy p;
  measure(p, 50, 1000);  // 50 us round trips, 1 GB/s: 16 round trips move ~750 KB
  CHECK(p.rtt_us() == 50);
  CHECK(p.fetch_bytes_per_us() > 990);
  CHECK(p.fetch_bytes_per_us() < 1010);
  CHECK(p.fetch_at_open(512 * 1024, kRoom));
  CHECK_FALSE(p.fetch_at_open(4 * kMiB, kRoom));
  CHECK_FALSE(p.fetch_at_open(512 * 1024, 256 * 1024));
  // A faster link moves the line: at 10 GB/s 4 MiB is ~8 round trips.
  AutoPolicy fast;
  measure(fast, 50, 10000);
  CHECK(fast.fetch_at_open(4 * kMiB, kRoom));
}

TEST_CASE("auto: remote reads switch to a fetch once they cost kSwitchFraction of it") {
  AutoPolicy p;
  measure(p, 50, 1000);
  const uint64_t size = 16 * kMiB;  // fetch ~ 50 + 16.8e6 / 1000 us ~ 16.8 ms
  double fetch = p.fetch_cost_us(size);
  AutoReads f;
  int reads = 0;
  bool switched = false;
  while (!switched && reads < 100000) {
    switched = p.note_remote_read(f, size, room, 4096, 50 + 4096.0 / 1000) == AutoSwitch::kFetch;
    ++reads;
  }
  REQUIRE(switched);
  // It switched when the reads had cost half a fetch, not before and not much later.
  CHECK(f.spent_us >= kSwitchFraction * fetch);
  CHECK(f.spent_us < kSwitchFraction * fetch + 200);
  // Once: further reads never ask again.
  for (int i = 0; i < 1000; ++i)
    CHECK(p.note_remote_read(f, size, room, 4096, 54) == AutoSwitch::kStayRemote);
}

TEST_CASE("auto: a file larger than the cache's room stays remote") {
  AutoPolicy p;
  measure(p, 50, 1000);
  AutoReads f;
  int asked = 0;  // the cache's room is a statvfs: asked once, when the reads cost enough
  const std::function<uint64_t()> counted = [&] { return ++asked, small(); };
  int no_room = 0;
  for (int i = 0; i < 100000; ++i) {
    auto decided = p.note_remote_read(f, 64 * kMiB, counted, 4096, 60);
    REQUIRE(decided != AutoSwitch::kFetch);
    no_room += decided == AutoSwitch::kNoRoom;
  }
  CHECK(no_room == 1);  // said once, so the view can log it once
  CHECK(asked == 1);
  CHECK(f.reads == 100000);
  CHECK(f.bytes == 100000ull * 4096);
}

TEST_CASE("auto: estimates follow measurements, one outlier does not decide") {
  AutoPolicy p;
  CHECK(p.rtt_us() == kInitialRttUs);
  CHECK(p.fetch_bytes_per_us() == kInitialFetchBytesPerUs);
  p.note_round_trip(40);
  CHECK(p.rtt_us() == 40);  // the first measurement replaces the guess
  p.note_round_trip(4000);  // a preempted call
  CHECK(p.rtt_us() < 1100);
  for (int i = 0; i < 50; ++i) p.note_round_trip(40);
  CHECK(p.rtt_us() < 45);
  // Small fetches say little about bandwidth: they are left out.
  p.note_fetch(4096, 1e6);
  CHECK(p.fetch_bytes_per_us() == kInitialFetchBytesPerUs);
  // Nonsense samples are ignored.
  p.note_round_trip(0);
  p.note_round_trip(-5);
  p.note_fetch(64 * kMiB, 0);
  CHECK(p.rtt_us() < 45);
  CHECK(p.fetch_bytes_per_us() == kInitialFetchBytesPerUs);
}
