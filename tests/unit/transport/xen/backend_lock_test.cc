#include "shared/transport/xen/backend_lock.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

using namespace ringbox;

TEST_CASE("a second backend for the same domain is refused while the first lives", "[xen]") {
  char tmpl[] = "/tmp/ringbox-lock-test.XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string dir = std::string(tmpl) + "/locks";  // created on demand
  {
    auto first = transport::lock_backend(7, dir);
    REQUIRE(first);
    auto second = transport::lock_backend(7, dir);
    REQUIRE_FALSE(second);
    CHECK_THAT(second.error().message(),
               Catch::Contains("already served by ringbox-host pid " + std::to_string(::getpid())));
    // Another domain is another lock.
    CHECK(transport::lock_backend(8, dir));
  }
  // The first holder went (as a killed host's descriptors do): the next one attaches.
  CHECK(transport::lock_backend(7, dir));
  std::system(("rm -rf " + std::string(tmpl)).c_str());
}
