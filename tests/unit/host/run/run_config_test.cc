// `ringbox-host run`'s options that need no Xen to check (host/run/run_config.h):
// --checkpoint-every (docs/vacate.md, docs/condor.md).
#include "host/run/run_config.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace ringbox::host::run;

namespace {
// A xen run whose kernel and ramdisk are files that exist (the parser checks they are readable).
std::vector<std::string> xen_args(std::vector<std::string> extra) {
  std::vector<std::string> a = {"--transport",    "xen",       "--export",      "/tmp", "--kernel",
                                "/proc/self/exe", "--ramdisk", "/proc/self/exe"};
  a.insert(a.end(), extra.begin(), extra.end());
  a.insert(a.end(), {"--", "true"});
  return a;
}
}  // namespace

TEST_CASE("run's --checkpoint-every takes minutes, decimals allowed, for xen only", "[vacate]") {
  SECTION("off by default") {
    auto p = parse_run_args(xen_args({}));
    REQUIRE(p.what == ParsedRun::What::kRun);
    CHECK(p.cfg.checkpoint_every_s == 0);
  }
  SECTION("minutes to seconds") {
    auto p = parse_run_args(xen_args({"--checkpoint-every", "0.5"}));
    INFO(p.message);
    REQUIRE(p.what == ParsedRun::What::kRun);
    CHECK(p.cfg.checkpoint_every_s == Approx(30));
    p = parse_run_args(xen_args({"--checkpoint-every", "60"}));
    REQUIRE(p.what == ParsedRun::What::kRun);
    CHECK(p.cfg.checkpoint_every_s == Approx(3600));
  }
  for (const char* bad : {"0", "-1", "0.01", "20000", "nan", "ten"}) {
    INFO(bad);
    auto p = parse_run_args(xen_args({"--checkpoint-every", bad}));
    CHECK(p.what == ParsedRun::What::kBadUsage);
  }
  SECTION("the local transport has no domain to save") {
    auto p = parse_run_args(
        {"--transport", "local", "--export", "/tmp", "--checkpoint-every", "1", "--", "true"});
    REQUIRE(p.what == ParsedRun::What::kBadUsage);
    CHECK_THAT(p.message, Catch::Contains("--checkpoint-every is for --transport xen"));
  }
}
