#include "shared/transport/tcp/stream_rpc.h"

#include <array>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

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
  // Everything right but the length (a version-1 header would fail for its version alone).
  proto::FrameHeader fh{proto::kMagic, proto::kVersionMax, 1, 0, 0xfffffff0u, 0};
  REQUIRE(transport::write_all(p.client.get(), &fh, sizeof(fh)));
  t.join();
  REQUIRE_FALSE(served);
  CHECK(served.error().code == Errc::kPeerBroken);
}

namespace {
// A raw request frame on fd and its response slot (the payload is read and dropped).
proto::ResponseSlot raw_call(int fd, proto::RequestSlot s, std::span<const std::byte> in = {}) {
  s.in_len = s.in_len != 0 ? s.in_len : static_cast<uint32_t>(in.size());
  proto::FrameHeader fh{
      proto::kMagic, proto::kVersionMax, 1, 0, static_cast<uint32_t>(in.size()), 0};
  REQUIRE(transport::write_all(fd, &fh, sizeof(fh)));
  REQUIRE(transport::write_all(fd, &s, sizeof(s)));
  if (!in.empty()) REQUIRE(transport::write_all(fd, in.data(), in.size()));
  proto::FrameHeader rh;
  REQUIRE(transport::read_all(fd, &rh, sizeof(rh)));
  proto::ResponseSlot r;
  REQUIRE(transport::read_all(fd, &r, sizeof(r)));
  std::vector<std::byte> drop(rh.payload_len);
  REQUIRE(transport::read_all(fd, drop.data(), drop.size()));
  return r;
}
proto::RequestSlot slot(uint64_t id, proto::Opcode op, std::array<uint64_t, 4> arg = {}) {
  proto::RequestSlot s{};
  s.id = id;
  s.opcode = static_cast<uint16_t>(op);
  for (int i = 0; i < 4; ++i) s.arg[i] = arg[i];
  return s;
}
int32_t status_of(proto::WireError e) {
  return -static_cast<int32_t>(e);
}
}  // namespace

TEST_CASE("TCP refuses every opcode before kHello and a second kHello, as the ring does",
          "[tcp][session]") {
  auto p = connect_pair();
  SessionHandler h;
  Result<void> served;
  std::thread t([&] { served = transport::serve_stream(p.server.get(), h); });
  int fd = p.client.get();
  for (auto op : {proto::Opcode::kPing, proto::Opcode::kHeartbeat, proto::Opcode::kOpen,
                  proto::Opcode::kWaitEvent, static_cast<proto::Opcode>(0x7777)}) {
    CAPTURE(static_cast<int>(op));
    CHECK(raw_call(fd, slot(1, op)).status == status_of(proto::WireError::kProto));
  }
  auto hello = raw_call(fd, slot(2, proto::Opcode::kHello, {2, 2, proto::kFeatureBulk, 0}));
  CHECK(hello.status == 0);
  CHECK(hello.val[0] == proto::kVersionMax);
  CHECK(hello.val[1] == 0);  // this host offers no features
  CHECK(raw_call(fd, slot(3, proto::Opcode::kHeartbeat)).status == 0);
  CHECK(raw_call(fd, slot(4, proto::Opcode::kHello, {2, 2, 0, 0})).status ==
        status_of(proto::WireError::kProto));
  CHECK(raw_call(fd, slot(5, proto::Opcode::kBulkRead, {0, 0, 0, 0})).status ==
        status_of(proto::WireError::kNoSys));
  p.client.reset();
  t.join();
  CHECK(served);
}

TEST_CASE("TCP answers a bad slot in a well-sized frame with kProto and serves on",
          "[tcp][hostile]") {
  auto p = connect_pair();
  SessionHandler h;
  Result<void> served;
  std::thread t([&] { served = transport::serve_stream(p.server.get(), h); });
  int fd = p.client.get();
  REQUIRE(raw_call(fd, slot(1, proto::Opcode::kHello, {2, 2, 0, 0})).status == 0);
  auto reserved = slot(2, proto::Opcode::kHeartbeat);
  reserved.reserved1 = 7;
  CHECK(raw_call(fd, reserved).status == status_of(proto::WireError::kProto));
  auto offset = slot(3, proto::Opcode::kHeartbeat);
  offset.buf_off = 64;
  CHECK(raw_call(fd, offset).status == status_of(proto::WireError::kProto));
  auto lying = slot(4, proto::Opcode::kPing);
  lying.in_len = 100;  // the frame carries 4 bytes
  std::vector<std::byte> four(4);
  CHECK(raw_call(fd, lying, four).status == status_of(proto::WireError::kProto));
  auto big = slot(5, proto::Opcode::kPing);
  big.buf_len = proto::kMaxStreamPayload + 1;
  CHECK(raw_call(fd, big).status == status_of(proto::WireError::kProto));
  CHECK(raw_call(fd, slot(6, proto::Opcode::kHeartbeat)).status == 0);
  p.client.reset();
  t.join();
  CHECK(served);
}

TEST_CASE("host:port parsing rejects junk", "[tcp]") {
  CHECK(transport::parse_host_port("127.0.0.1:80"));
  CHECK_FALSE(transport::parse_host_port("127.0.0.1"));
  CHECK_FALSE(transport::parse_host_port("127.0.0.1:99999"));
  CHECK_FALSE(transport::parse_host_port("127.0.0.1:8x"));
}
