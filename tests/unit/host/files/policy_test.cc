// Policy rules (the path arithmetic they rest on: tests/unit/path/wire_path_test.cc).
#include "host/files/policy.h"

#include <catch2/catch.hpp>

#include "shared/protocol/codec.h"

using namespace ringbox;
using namespace ringbox::host::files;

TEST_CASE("a rule covers its own path and everything beneath it, nothing beside it",
          "[files][policy]") {
  auto p = Policy::create({"in"}, {"out/logs"});
  REQUIRE(p);
  CHECK(p->allows("in", Access::kRead));
  CHECK(p->allows("in/a/b", Access::kRead));
  CHECK_FALSE(p->allows("inbox", Access::kRead));  // a prefix of the name is not a prefix path
  CHECK_FALSE(p->allows("in", Access::kWrite));
  CHECK(p->allows("out/logs/x", Access::kWrite));
  CHECK(p->allows("out/logs/x", Access::kRead));  // write implies read
  CHECK_FALSE(p->allows("out", Access::kRead));
  CHECK_FALSE(p->allows("out/logsx", Access::kWrite));
  CHECK_FALSE(p->allows(".", Access::kRead));
  CHECK_FALSE(p->allows("secret/s.txt", Access::kRead));
}

TEST_CASE("the default policy reads everything and writes nothing", "[files][policy]") {
  Policy p = Policy::read_only();
  CHECK(p.allows(".", Access::kRead));
  CHECK(p.allows("any/thing", Access::kRead));
  CHECK_FALSE(p.allows("any/thing", Access::kWrite));
  Policy rw = Policy::read_write();
  CHECK(rw.allows("any/thing", Access::kWrite));
  auto none = Policy::create({}, {});
  REQUIRE(none);
  CHECK_FALSE(none->allows(".", Access::kRead));
}

TEST_CASE("directories on the way to a rule can be looked up, others cannot", "[files][policy]") {
  auto p = Policy::create({"data/in"}, {"data/out/x"});
  REQUIRE(p);
  CHECK(p->leads_to_readable("."));
  CHECK(p->leads_to_readable("data"));
  CHECK(p->leads_to_readable("data/out"));
  CHECK(p->leads_to_readable("data/in"));
  CHECK_FALSE(p->leads_to_readable("data/other"));
  CHECK_FALSE(p->leads_to_readable("dat"));
  CHECK_FALSE(p->allows("data", Access::kRead));
}

TEST_CASE("policy rules must be canonical export-relative paths", "[files][policy]") {
  for (const char* bad : {"/etc", "../x", "a/", "a//b", "", "a/./b"}) {
    CAPTURE(bad);
    auto p = Policy::create({bad}, {});
    REQUIRE_FALSE(p);
    CHECK(p.error().code == Errc::kInvalidArgument);
    CHECK_FALSE(Policy::create({}, {bad}));
  }
  auto p = Policy::create({"in", "."}, {"out"});
  REQUIRE(p);
  CHECK(p->describe() == "read: in, .; write: out");
}

TEST_CASE("a reserved path is outside every rule, even the whole export's", "[files][policy]") {
  auto p = Policy::read_write().with_reserved({"ringbox.restore", "keep/me"});
  REQUIRE(p);
  CHECK(p->has_reserved());
  CHECK_FALSE(p->allows("ringbox.restore", Access::kRead));
  CHECK_FALSE(p->allows("ringbox.restore", Access::kWrite));
  CHECK_FALSE(p->allows("keep/me/x", Access::kRead));
  CHECK_FALSE(p->leads_to_readable("keep/me"));
  CHECK(p->allows("ringbox.restore2", Access::kWrite));  // a name, not a prefix
  CHECK(p->allows("keep", Access::kWrite));
  CHECK(p->allows(".", Access::kRead));
  CHECK(p->describe() == "read: .; write: .; reserved: ringbox.restore, keep/me");
  CHECK_FALSE(Policy::read_write().with_reserved({"."}));
  CHECK_FALSE(Policy::read_write().with_reserved({"/etc"}));
  CHECK_FALSE(Policy::read_write().has_reserved());
}
