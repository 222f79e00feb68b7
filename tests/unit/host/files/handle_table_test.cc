// HandleTable: a handle names one open file or nothing, never another file.
#include "host/files/handle_table.h"

#include <catch2/catch.hpp>
#include <set>
#include <thread>

using namespace ringbox;
using namespace ringbox::host::files;

namespace {
std::shared_ptr<OpenFile> file_named(std::string p) {
  auto f = std::make_shared<OpenFile>();
  f->path = std::move(p);
  return f;
}
}  // namespace

TEST_CASE("handles are never zero and name what was inserted", "[files][handles]") {
  HandleTable t(4);
  auto h = t.insert(file_named("a"));
  REQUIRE(h);
  CHECK(*h != 0);
  REQUIRE(t.get(*h));
  CHECK(t.get(*h)->path == "a");
  CHECK(t.size() == 1);
}

TEST_CASE("a closed handle stays dead even when its slot is reused", "[files][handles]") {
  HandleTable t(1);
  auto h1 = t.insert(file_named("first"));
  REQUIRE(h1);
  REQUIRE(t.remove(*h1));
  CHECK_FALSE(t.get(*h1));
  CHECK_FALSE(t.remove(*h1));  // double close
  auto h2 = t.insert(file_named("second"));
  REQUIRE(h2);
  CHECK(*h2 != *h1);
  CHECK_FALSE(t.get(*h1));  // the stale handle does not reach the new occupant
  CHECK(t.get(*h2)->path == "second");
}

TEST_CASE("forged handles find nothing", "[files][handles]") {
  HandleTable t(8);
  auto h = t.insert(file_named("a"));
  REQUIRE(h);
  const uint64_t low = *h & 0xffffffffu;
  for (uint64_t forged :
       {uint64_t{0}, uint64_t{1}, low, *h + 1, *h ^ (uint64_t{1} << 32), (uint64_t{1} << 32) | 9,
        ~uint64_t{0}, (*h & ~uint64_t{0xffffffff}) | 8, (*h & ~uint64_t{0xffffffff}) | 100000}) {
    CAPTURE(forged);
    if (forged == *h) continue;
    CHECK_FALSE(t.get(forged));
    CHECK_FALSE(t.remove(forged));
  }
  CHECK(t.get(*h));
}

TEST_CASE("a full table refuses with EMFILE and recovers after a close", "[files][handles]") {
  HandleTable t(3);
  std::vector<uint64_t> hs;
  for (int i = 0; i < 3; ++i) hs.push_back(*t.insert(file_named("f")));
  auto full = t.insert(file_named("g"));
  REQUIRE_FALSE(full);
  CHECK(full.error().sys_errno == EMFILE);
  REQUIRE(t.remove(hs[1]));
  CHECK(t.insert(file_named("g")));
}

TEST_CASE("clear drops every open file and invalidates every handle", "[files][handles]") {
  HandleTable t(4);
  auto keep = file_named("held");
  std::weak_ptr<OpenFile> watch = keep;
  auto h = t.insert(std::move(keep));
  REQUIRE(h);
  t.clear();
  CHECK(t.size() == 0);
  CHECK_FALSE(t.get(*h));
  CHECK(watch.expired());
}

TEST_CASE("a file in use survives a concurrent close until its user lets go", "[files][handles]") {
  HandleTable t(2);
  auto h = t.insert(file_named("busy"));
  REQUIRE(h);
  auto in_use = t.get(*h);
  REQUIRE(t.remove(*h));
  CHECK(in_use->path == "busy");  // still valid: the fd is not closed under a running call
}

TEST_CASE("handles stay unique under concurrent open and close", "[files][handles]") {
  HandleTable t(64);
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<uint64_t> seen;
  bool duplicate = false;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      for (int j = 0; j < 2000; ++j) {
        auto h = t.insert(file_named("x"));
        if (!h) continue;
        {
          std::lock_guard lk(mu);
          duplicate |= !seen.insert(*h).second;
        }
        t.remove(*h);
      }
    });
  for (auto& th : threads) th.join();
  CHECK_FALSE(duplicate);
  CHECK(t.size() == 0);
}
