#include "shared/ring/data_allocator.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

using namespace ringbox;

TEST_CASE("buffers are aligned, disjoint and merge back when released", "[ring][alloc]") {
  ring::DataAllocator a(4096, 2048);
  auto x = a.allocate(1);
  auto y = a.allocate(100);
  auto z = a.allocate(0);
  REQUIRE(x);
  REQUIRE(y);
  REQUIRE(z);
  CHECK(x->length == 64);
  CHECK(y->length == 128);
  CHECK(x->offset % 64 == 0);
  CHECK(y->offset % 64 == 0);
  CHECK(y->offset >= x->offset + x->length);
  CHECK(a.free_bytes() == 4096 - 64 - 128 - 64);
  a.release(*y);
  a.release(*x);
  a.release(*z);
  CHECK(a.free_bytes() == 4096);
  // Fully merged again: a maximal buffer fits twice in a row.
  auto big1 = a.allocate(2048);
  auto big2 = a.allocate(2048);
  REQUIRE(big1);
  REQUIRE(big2);
}

TEST_CASE("a buffer larger than one message is refused at once", "[ring][alloc]") {
  ring::DataAllocator a(4096, 1024);
  auto r = a.allocate(1025);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::kTooLarge);
}

TEST_CASE("allocation waits for space instead of failing", "[ring][alloc][backpressure]") {
  ring::DataAllocator a(2048, 2048);
  auto all = a.allocate(2048);
  REQUIRE(all);
  std::atomic<bool> got{false};
  std::thread t([&] {
    auto e = a.allocate(64);
    REQUIRE(e);
    got = true;
    a.release(*e);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_FALSE(got);
  a.release(*all);
  t.join();
  CHECK(got);
}

TEST_CASE("cancel wakes a waiting allocation with an error", "[ring][alloc]") {
  ring::DataAllocator a(2048, 2048);
  auto all = a.allocate(2048);
  REQUIRE(all);
  std::thread t([&] {
    auto e = a.allocate(64);
    CHECK_FALSE(e);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  a.cancel();
  t.join();
}
