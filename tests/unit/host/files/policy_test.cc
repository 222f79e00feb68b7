// Policy rules and the lexical path arithmetic they rest on.
#include "host/files/policy.h"

#include <catch2/catch.hpp>

#include "host/files/lexical_path.h"
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

TEST_CASE("link text resolves lexically inside the export or not at all", "[files][lexical]") {
  CHECK(*resolve_link_text("out", "../in/a.txt") == "in/a.txt");
  CHECK(*resolve_link_text("out/deep", "./x//y/") == "out/deep/x/y");
  CHECK(*resolve_link_text(".", "a") == "a");
  CHECK(*resolve_link_text("a", "..") == ".");
  for (auto [dir, target] : {std::pair{"out", "../../etc"},
                             {".", ".."},
                             {"a/b", "../../.."},
                             {"out", "/etc/passwd"},
                             {"out", "/proc/self/root"},
                             {"out", ""}}) {
    CAPTURE(dir, target);
    auto r = resolve_link_text(dir, target);
    REQUIRE_FALSE(r);
    CHECK(r.error().sys_errno == EXDEV);
  }
  auto too_long = resolve_link_text("a", std::string(300, 'x'));
  REQUIRE_FALSE(too_long);
  CHECK(too_long.error().sys_errno == ENAMETOOLONG);
}

TEST_CASE("v2: link text may have long components but must stay inside", "[files][lexical]") {
  CHECK(check_link_stays_inside("out", "../in/a.txt"));
  CHECK(check_link_stays_inside(".", std::string(300, 'x')));
  CHECK(check_link_stays_inside("a", std::string(300, 'x') + "/../.."));
  CHECK(check_link_stays_inside("a/b", "./x//y/../../.."));
  std::string long_text;
  for (int i = 0; i < 15; ++i) long_text += std::string(250, 'd') + "/";
  CHECK(check_link_stays_inside("out", long_text));
  const std::string climbs_past_long = std::string(300, 'x') + "/../../..";
  for (auto [dir, target] : {std::pair<const char*, const char*>{"out", "../../etc"},
                             {".", ".."},
                             {"a/b", "../../.."},
                             {"a", climbs_past_long.c_str()},
                             {"out", "/etc/passwd"},
                             {"out", ""}}) {
    CAPTURE(dir, target);
    auto r = check_link_stays_inside(dir, target);
    REQUIRE_FALSE(r);
    CHECK(r.error().sys_errno == EXDEV);
  }
}

TEST_CASE("paths split and join around their last component", "[files][lexical]") {
  auto pn = split_parent("a/b/c");
  CHECK(pn.parent == "a/b");
  CHECK(pn.name == "c");
  auto top = split_parent("c");
  CHECK(top.parent == ".");
  CHECK(top.name == "c");
  CHECK(join_path(".", "c") == "c");
  CHECK(join_path("a/b", "c") == "a/b/c");
  CHECK(path_components(".").empty());
  CHECK(path_components("a/b") == std::vector<std::string>{"a", "b"});
  CHECK(path_covers(".", "x"));
  CHECK(path_covers("a", "a/b"));
  CHECK_FALSE(path_covers("a", "ab"));
  CHECK_FALSE(path_covers("a/b", "a"));
}

TEST_CASE("guest strings are made printable before they reach a log", "[files][lexical]") {
  CHECK(printable("in/a.txt") == "in/a.txt");
  CHECK(printable(std::string("a\0\x1b[31m", 7)) == "a\\x00\\x1b[31m");
  CHECK(printable(std::string(500, 'x')).size() < 130);
}
