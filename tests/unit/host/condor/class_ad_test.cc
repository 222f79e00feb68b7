// The ClassAd text parser (host/condor/class_ad.h) on real ads from HTCondor 25.14 (fixtures
// saved from a job on the personal pool of ../shared/htcondor) and on hostile text.
#include "host/condor/class_ad.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>

using namespace ringbox::host::condor;
using Kind = ClassAdValue::Kind;

namespace {
std::string fixture(const std::string& name) {
  return std::string(RINGBOX_SOURCE_DIR) + "/tests/condor/fixtures/" + name;
}
}  // namespace

TEST_CASE("a real job ad from HTCondor 25.14 gives its literals typed", "[condor][classad]") {
  auto ad = ClassAd::read_file(fixture("job.ad"));
  REQUIRE(ad);
  CHECK(ad->skipped_lines() == 0);
  CHECK(ad->size() > 50);
  CHECK(ad->get_integer("RequestCpus") == 1);
  CHECK(ad->get_string("RingboxMode") == "lazy-file");
  CHECK(ad->get_string("RingboxInputs") == "a.txt, dir/b.txt");
  CHECK(ad->get_integer("RingboxCacheMb") == 64);
  CHECK(ad->get_integer("ClusterId") == 1);
  CHECK(ad->get_bool("ExitBySignal") == false);
  CHECK(ad->get_string("Err") == "_condor_stderr");
  CHECK(ad->get_string("Owner") == "nobody");
  // The submit file's `environment` in HTCondor's own quoting, inside one string literal.
  CHECK(ad->get_string("Environment") == "BAZ=quoted' 'value FOO=bar");
  CHECK(ad->get_integer("requestmemory") == 128);  // names are case-insensitive
  const ClassAdValue* disk = ad->find("RequestDisk");
  REQUIRE(disk);
  CHECK(disk->kind == Kind::kReal);
  CHECK(disk->real == 1048576.0);
}

TEST_CASE("a real machine ad gives the slot's Cpus and Memory", "[condor][classad]") {
  auto ad = ClassAd::read_file(fixture("machine.ad"));
  REQUIRE(ad);
  CHECK(ad->get_integer("Cpus") >= 1);
  CHECK(ad->get_number("Memory") > 0);
  CHECK(ad->get_bool("HasFileTransfer") == true);
  CHECK(ad->get_bool("Start") == true);
  // The startd writes MachineMaxVacateTime as the expression of its config, unevaluated.
  const ClassAdValue* vacate = ad->find("MachineMaxVacateTime");
  REQUIRE(vacate);
  CHECK(vacate->kind == Kind::kExpression);
  CHECK(vacate->text == "10 * 60");
}

TEST_CASE("literals of every kind", "[condor][classad]") {
  CHECK(parse_classad_value("42").kind == Kind::kInteger);
  CHECK(parse_classad_value("-7").integer == -7);
  CHECK(parse_classad_value("2.5").kind == Kind::kReal);
  CHECK(parse_classad_value("2.5").real == 2.5);
  CHECK(parse_classad_value("1.0E-05").real == Approx(1e-5));
  CHECK(parse_classad_value("TRUE").boolean);
  CHECK(parse_classad_value("False").kind == Kind::kBoolean);
  CHECK(parse_classad_value("undefined").kind == Kind::kUndefined);
  CHECK(parse_classad_value("ERROR").kind == Kind::kError);
  CHECK(parse_classad_value(R"("a\"b\\c\nd\te\101")").text == "a\"b\\c\nd\teA");
  CHECK(parse_classad_value(R"("")").kind == Kind::kString);
  CHECK(parse_classad_value(R"("")").text.empty());
}

TEST_CASE("what is not a literal is kept as expression text", "[condor][classad]") {
  for (const char* e :
       {"ifthenelse(MemoryUsage =!= undefined, MemoryUsage, 128)", "{ \"a\", \"b\" }", "[ a = 1 ]",
        "\"a\" + \"b\"", R"("bad\q escape")", "\"unterminated", "99999999999999999999999", "0x10",
        "+5", "1.5.5", "true && false", "-", ""}) {
    ClassAdValue v = parse_classad_value(e);
    INFO(e);
    CHECK(v.kind == Kind::kExpression);
  }
}

TEST_CASE("hostile ad text never crashes and stays bounded", "[condor][classad]") {
  SECTION("lines that are not Name = value are skipped and counted") {
    auto ad = ClassAd::parse("garbage\n= 3\n9name = 1\nok = 1\n  \n# comment\nx y = 2\n");
    REQUIRE(ad);
    CHECK(ad->size() == 1);
    CHECK(ad->skipped_lines() == 4);
    CHECK(ad->get_integer("OK") == 1);
  }
  SECTION("a repeated name: the last line wins") {
    auto ad = ClassAd::parse("A = 1\na = \"two\"\n");
    REQUIRE(ad);
    CHECK(ad->size() == 1);
    CHECK(ad->get_string("A") == "two");
    CHECK(!ad->get_integer("A"));
  }
  SECTION("NUL bytes, CRLF and no final newline") {
    std::string text("A = \"x\0y\"\r\nB = 3", 16);
    auto ad = ClassAd::parse(text);
    REQUIRE(ad);
    CHECK(ad->get_string("A") == std::string("x\0y", 3));
    CHECK(ad->get_integer("B") == 3);
  }
  SECTION("an over-long line refuses the ad") {
    std::string text = "A = \"" + std::string(kMaxAdLineBytes, 'x') + "\"\n";
    auto ad = ClassAd::parse(text);
    REQUIRE(!ad);
    CHECK(ad.error().code == ringbox::Errc::kTooLarge);
    CHECK(ad.error().what.find("line 1") != std::string::npos);
  }
  SECTION("too many attributes refuses the ad") {
    std::string text;
    for (size_t i = 0; i <= kMaxAdAttributes; ++i) text += "A" + std::to_string(i) + " = 1\n";
    CHECK(!ClassAd::parse(text));
  }
  SECTION("an over-long name is not an attribute") {
    auto ad = ClassAd::parse(std::string(kMaxAttributeNameBytes + 1, 'n') + " = 1\n");
    REQUIRE(ad);
    CHECK(ad->size() == 0);
  }
  SECTION("a file that is not a regular file is refused") {
    CHECK(!ClassAd::read_file("/dev/zero"));
    CHECK(!ClassAd::read_file("/nonexistent/job.ad"));
  }
}
