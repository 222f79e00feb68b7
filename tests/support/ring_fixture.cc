#include "tests/support/ring_fixture.h"

#include <catch2/catch.hpp>
#include <thread>

namespace ringbox::test {

ChannelPair make_local_pair(const ring::Geometry& g) {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  UniqueFd a(sv[0]), b(sv[1]);
  Result<std::unique_ptr<transport::RingChannel>> back = make_error(Errc::kTimeout, "not run");
  std::thread t([&] { back = transport::local_accept(std::move(b)); });
  auto front = transport::local_connect(std::move(a), g);
  t.join();
  REQUIRE(front.has_value());
  REQUIRE(back.has_value());
  return {std::move(*front), std::move(*back)};
}

}  // namespace ringbox::test
