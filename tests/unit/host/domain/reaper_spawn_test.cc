// The reaper's process plumbing (fork, exec of the real ringbox-host, the socket handshake),
// run on a machine without Xen: the reaper must fail to open libxl and say so, and the owner
// must turn that into a clear error. Creating and reaping real domains is tested in the nested
// Xen scenario tests/xen/scenarios/domain-lifecycle.sh.
#include "host/domain/reaper.h"

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>

using namespace ringbox;
using namespace ringbox::host::domain;

namespace {
bool on_xen_dom0() {
  return ::access("/proc/xen/capabilities", F_OK) == 0;
}
}  // namespace

TEST_CASE("a reaper that cannot reach Xen reports why and the owner fails cleanly",
          "[domain][reaper]") {
  if (on_xen_dom0()) {
    WARN("this machine runs under Xen: the no-Xen reaper test does not apply");
    return;
  }
  auto r = DomainReaper::spawn({"7d3c0f8e-1b2a-4c5d-9e8f-0a1b2c3d4e5f", "test-domain"},
                               RINGBOX_HOST_BINARY);
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("the domain reaper could not start") != std::string::npos);
  CHECK(r.error().message().find("libxl_ctx_alloc failed") != std::string::npos);
}

TEST_CASE("a reaper whose program cannot be run is reported, not waited for", "[domain][reaper]") {
  auto r = DomainReaper::spawn({"7d3c0f8e-1b2a-4c5d-9e8f-0a1b2c3d4e5f", "test-domain"},
                               "/nonexistent/ringbox-host");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::kPeerGone);
  CHECK(r.error().message().find("/nonexistent/ringbox-host") != std::string::npos);
}

TEST_CASE("the reaper command refuses to run without its owner socket", "[domain][reaper]") {
  // Started by hand, fd 3 is closed: it must say so and exit 2, not wait or reap.
  std::string cmd = std::string(RINGBOX_HOST_BINARY) +
                    " domain-reaper --uuid 7d3c0f8e-1b2a-4c5d-9e8f-0a1b2c3d4e5f 3>&- 2>/dev/null";
  int status = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 2);
}
