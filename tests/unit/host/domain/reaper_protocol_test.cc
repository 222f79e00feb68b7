#include "host/domain/reaper_protocol.h"

#include <catch2/catch.hpp>

using namespace ringbox;
using namespace ringbox::host::domain::reaper_protocol;

namespace {
std::string strip_nl(std::string s) {
  REQUIRE(!s.empty());
  REQUIRE(s.back() == '\n');
  s.pop_back();
  return s;
}
}  // namespace

TEST_CASE("owner messages round-trip", "[domain][reaper]") {
  auto d = parse_owner_message(strip_nl(format_domid(17)));
  REQUIRE(d);
  CHECK(d->kind == OwnerMessage::Kind::kDomid);
  CHECK(d->domid == 17);
  auto r = parse_owner_message(strip_nl(format_release()));
  REQUIRE(r);
  CHECK(r->kind == OwnerMessage::Kind::kRelease);
}

TEST_CASE("reaper messages round-trip", "[domain][reaper]") {
  auto ready = parse_reaper_message(strip_nl(format_ready(4242)));
  REQUIRE(ready);
  CHECK(ready->kind == ReaperMessage::Kind::kReady);
  CHECK(ready->pid == 4242);
  auto released = parse_reaper_message(strip_nl(format_released()));
  REQUIRE(released);
  CHECK(released->kind == ReaperMessage::Kind::kReleased);
  auto err = parse_reaper_message(strip_nl(format_error("no xenstored\nhere")));
  REQUIRE(err);
  CHECK(err->kind == ReaperMessage::Kind::kError);
  CHECK(err->error == "no xenstored here");
}

TEST_CASE("domain ids outside the guest range and sloppy numbers are refused", "[domain][reaper]") {
  CHECK_FALSE(parse_owner_message("domid 0"));
  CHECK_FALSE(parse_owner_message("domid 32752"));  // DOMID_FIRST_RESERVED
  CHECK_FALSE(parse_owner_message("domid 017"));
  CHECK_FALSE(parse_owner_message("domid -1"));
  CHECK_FALSE(parse_owner_message("domid 1 "));
  CHECK_FALSE(parse_owner_message("domid "));
  CHECK(parse_owner_message("domid 32751"));
}

TEST_CASE("unknown lines are errors, never a release", "[domain][reaper]") {
  CHECK_FALSE(parse_owner_message("releasex"));
  CHECK_FALSE(parse_owner_message("RELEASE"));
  CHECK_FALSE(parse_owner_message(""));
  CHECK_FALSE(parse_reaper_message("ready"));
  CHECK_FALSE(parse_reaper_message("ready 0"));
  CHECK_FALSE(parse_reaper_message("released "));
}

TEST_CASE("an error text is cut to one line of bounded length", "[domain][reaper]") {
  std::string line = format_error(std::string(5000, 'x'));
  CHECK(line.size() == kMaxLineBytes);
  CHECK(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);
}

TEST_CASE("take_line splits lines and waits for the rest of a partial one", "[domain][reaper]") {
  std::string buf = "domid 5\nrel";
  auto a = take_line(buf);
  REQUIRE(a);
  REQUIRE(*a);
  CHECK(**a == "domid 5");
  auto b = take_line(buf);
  REQUIRE(b);
  CHECK_FALSE(*b);
  buf += "ease\n";
  auto c = take_line(buf);
  REQUIRE(c);
  REQUIRE(*c);
  CHECK(**c == "release");
  CHECK(buf.empty());
}

TEST_CASE("take_line refuses a line longer than the limit", "[domain][reaper]") {
  std::string buf(kMaxLineBytes, 'x');
  CHECK_FALSE(take_line(buf));
  std::string buf2 = std::string(kMaxLineBytes, 'x') + "\n";
  CHECK_FALSE(take_line(buf2));
  std::string buf3 = std::string(kMaxLineBytes - 1, 'x') + "\n";
  auto ok3 = take_line(buf3);
  REQUIRE(ok3);
  CHECK(*ok3);
}
