#include "shared/transport/tcp/stream_rpc.h"

#include <catch2/catch.hpp>
#include <thread>

#include "shared/transport/tcp/tcp_socket.h"

using namespace ringbox;

namespace {
class SessionHandler final : public rpc::Handler {
 public:
  rpc::Reply handle(const rpc::Request& r) override { return rpc::handle_session_opcode(r); }
};

struct TcpPair {
  UniqueFd client;
  UniqueFd server;
};

TcpPair connect_pair() {
  auto l = transport::tcp_listen({"127.0.0.1", 0});
  REQUIRE(l);
  auto port = transport::tcp_local_port(l->get());
  REQUIRE(port);
  auto c = transport::tcp_connect({"127.0.0.1", *port});
  REQUIRE(c);
  auto s = transport::tcp_accept(l->get(), 1000);
  REQUIRE(s);
  return {std::move(*c), std::move(*s)};
}
}  // namespace

TEST_CASE("the TCP transport carries the same calls as the ring", "[tcp]") {
  auto p = connect_pair();
  SessionHandler h;
  Result<void> served;
  std::thread t([&] { served = transport::serve_stream(p.server.get(), h); });
  {
    transport::StreamClient client(std::move(p.client));
    auto v = rpc::negotiate_version(client);
    REQUIRE(v);
    std::vector<std::byte> in(3000, std::byte{9}), out(3000);
    rpc::Call c;
    c.opcode = proto::Opcode::kPing;
    c.in = in;
    c.out = out;
    auto r = client.call(c);
    REQUIRE(r);
    CHECK(r->out_len == 3000);
    CHECK(out == in);
  }
  t.join();
  CHECK(served);
}

TEST_CASE("a TCP frame announcing an oversized payload ends the connection cleanly",
          "[tcp][hostile]") {
  auto p = connect_pair();
  SessionHandler h;
  Result<void> served;
  std::thread t([&] { served = transport::serve_stream(p.server.get(), h); });
  proto::FrameHeader fh{proto::kMagic, 1, 1, 0, 0xfffffff0u, 0};
  REQUIRE(transport::write_all(p.client.get(), &fh, sizeof(fh)));
  t.join();
  REQUIRE_FALSE(served);
  CHECK(served.error().code == Errc::kPeerBroken);
}

TEST_CASE("host:port parsing rejects junk", "[tcp]") {
  CHECK(transport::parse_host_port("127.0.0.1:80"));
  CHECK_FALSE(transport::parse_host_port("127.0.0.1"));
  CHECK_FALSE(transport::parse_host_port("127.0.0.1:99999"));
  CHECK_FALSE(transport::parse_host_port("127.0.0.1:8x"));
}
