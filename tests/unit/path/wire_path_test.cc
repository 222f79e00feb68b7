// The wire-path module both sides use (shared/path/wire_path.h): the canonical-path check on
// hostile input, and the lexical arithmetic built on it.
#include "shared/path/wire_path.h"

#include <catch2/catch.hpp>

#include <cerrno>
#include <string>
#include <vector>

#include "shared/util/log.h"

using namespace ringbox;
using namespace ringbox::proto;

namespace {

int check_errno(std::string_view path) {
  auto r = check_wire_path(path, "path");
  return r ? 0 : r.error().sys_errno;
}

}  // namespace

TEST_CASE("hostile names are refused as paths and as components", "[wire_path]") {
  const std::string nul("a\0b", 3);
  const std::string slash_in_name = "a/b";
  for (const std::string& p :
       {std::string(""), std::string(".."), std::string("a/.."), std::string("../a"),
        std::string("a/./b"), std::string("./a"), std::string("/a"), std::string("a/"),
        std::string("a//b"), std::string("/"), nul, std::string("in/") + nul}) {
    CAPTURE(p);
    CHECK(check_errno(p) == EINVAL);
    CHECK_FALSE(is_canonical_path(p));
    CHECK_FALSE(is_valid_name(p));
  }
  CHECK_FALSE(is_valid_name("."));
  CHECK_FALSE(is_valid_name(slash_in_name));  // a path, but not one component
  CHECK(is_canonical_path(slash_in_name));
  CHECK(is_canonical_path("."));  // the export root is a path, not a name
  for (const char* name : {"a", "...", "a..", "..a", ".hidden", " ", "\xff"}) {
    CAPTURE(name);
    CHECK(is_valid_name(name));
    CHECK(check_errno(name) == 0);
  }
}

TEST_CASE("the contract's limits hold to the byte", "[wire_path]") {
  const std::string longest_name(kMaxNameBytes, 'n');
  CHECK(is_valid_name(longest_name));
  CHECK(check_errno("a/" + longest_name) == 0);
  CHECK_FALSE(is_valid_name(longest_name + "n"));
  CHECK(check_errno("a/" + longest_name + "n") == ENAMETOOLONG);
  CHECK(check_errno(longest_name + "n/a") == ENAMETOOLONG);

  std::string longest_path;  // kMaxPathBytes bytes of 200-byte components
  while (longest_path.size() + 201 <= kMaxPathBytes) longest_path += std::string(200, 'p') + "/";
  longest_path += std::string(kMaxPathBytes - longest_path.size(), 'q');
  REQUIRE(longest_path.size() == kMaxPathBytes);
  CHECK(check_errno(longest_path) == 0);
  CHECK(check_errno(longest_path + "q") == ENAMETOOLONG);
  CHECK(check_errno(std::string(kMaxPathBytes + 1, '/')) == ENAMETOOLONG);  // length first

  CHECK(check_link_text(std::string(kMaxPathBytes, '.'), "target"));
  CHECK(check_link_text(std::string(kMaxPathBytes + 1, 'x'), "target").error().sys_errno ==
        ENAMETOOLONG);
  CHECK(check_link_text("", "target").error().sys_errno == EINVAL);
  CHECK(check_link_text(std::string("a\0", 2), "target").error().sys_errno == EINVAL);
  CHECK(check_link_text("/etc/../x//", "target"));  // link text is free-form
}

TEST_CASE("errors name the field they are about", "[wire_path]") {
  auto r = check_wire_path("a//b", "rename destination path");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::kProtocol);
  CHECK(r.error().what.find("rename destination path") != std::string::npos);
}

TEST_CASE("split and join are inverses on canonical paths", "[wire_path]") {
  for (const char* p : {"a", "a/b", "in/sub/b.txt", "...", "a/..b"}) {
    CAPTURE(p);
    auto pn = split_wire_path(p);
    CHECK(is_valid_name(pn.name));
    CHECK(is_canonical_path(pn.parent));
    CHECK(pn.parent == wire_parent(p));
    CHECK(join_wire_path(pn.parent, pn.name) == p);
    std::string rebuilt = ".";
    for (const auto& c : wire_path_components(p)) rebuilt = join_wire_path(rebuilt, c);
    CHECK(rebuilt == p);
  }
}

TEST_CASE("link text resolves lexically inside the export or not at all", "[wire_path]") {
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

TEST_CASE("v2: link text may have long components but must stay inside", "[wire_path]") {
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

TEST_CASE("paths split and join around their last component", "[wire_path]") {
  auto pn = split_wire_path("a/b/c");
  CHECK(pn.parent == "a/b");
  CHECK(pn.name == "c");
  auto top = split_wire_path("c");
  CHECK(top.parent == ".");
  CHECK(top.name == "c");
  CHECK(join_wire_path(".", "c") == "c");
  CHECK(join_wire_path("a/b", "c") == "a/b/c");
  CHECK(wire_path_components(".").empty());
  CHECK(wire_path_components("a/b") == std::vector<std::string>{"a", "b"});
  CHECK(wire_path_covers(".", "x"));
  CHECK(wire_path_covers("a", "a/b"));
  CHECK_FALSE(wire_path_covers("a", "ab"));
  CHECK_FALSE(wire_path_covers("a/b", "a"));
}

TEST_CASE("guest strings are made printable before they reach a log", "[wire_path]") {
  CHECK(printable("in/a.txt") == "in/a.txt");
  CHECK(printable(std::string("a\0\x1b[31m", 7)) == "a\\x00\\x1b[31m");
  CHECK(printable(std::string(500, 'x')).size() < 130);
}
