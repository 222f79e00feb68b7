// The exception firewall: an exception or an allocation failure inside a handler, whichever
// opcode group it hits, is answered with an error and the host serves on, on the ring (inline
// and on workers) and on TCP. The faults come from rpc::testing::set_handler_fault, which
// throws inside the firewall just before the real HostHandler runs.
#include <catch2/catch.hpp>
#include <cstring>
#include <new>
#include <stdexcept>
#include <thread>
#include <utility>

#include "shared/rpc/request_check.h"
#include "shared/transport/tcp/stream_rpc.h"
#include "shared/transport/tcp/tcp_socket.h"
#include "tests/hostile/host_under_test.h"
#include "tests/hostile/scripted_peer.h"
#include "tests/support/long_poll_handler.h"

using namespace ringbox;
using namespace ringbox::test;
using proto::Opcode;
using proto::WireError;

namespace {

// Which exception the hook throws, for requests whose arg[3] is kFaultMarker.
enum class Fault { kBadAlloc, kRuntime, kForeign };
constexpr uint64_t kFaultMarker = 0xfa017;
std::atomic<Fault> g_fault{Fault::kBadAlloc};

void throw_fault(const rpc::Request& req) {
  if (req.arg[3] != kFaultMarker) return;
  switch (g_fault.load()) {
    case Fault::kBadAlloc:
      throw std::bad_alloc();
    case Fault::kRuntime:
      throw std::runtime_error("injected failure");
    case Fault::kForeign:
      throw 42;  // not even a std::exception
  }
}

// Installs the hook for one test and removes it after.
struct FaultHook {
  FaultHook() { rpc::testing::set_handler_fault(&throw_fault); }
  ~FaultHook() { rpc::testing::set_handler_fault(nullptr); }
};

// One opcode of each handler group, with a payload it accepts.
struct Target {
  Opcode op;
  std::string payload;
};
const std::vector<Target> kTargets = {
    {Opcode::kPing, "ping"},     {Opcode::kHeartbeat, ""},     // session
    {Opcode::kJobGet, ""},       {Opcode::kWaitEvent, ""},     // job
    {Opcode::kStat, "in/a.txt"}, {Opcode::kOpen, "in/a.txt"},  // files
    {Opcode::kPutfile, "out/x"},
};

WireError expected(Fault f) {
  return f == Fault::kBadAlloc ? WireError::kNoMem : WireError::kIo;
}

// Both ends of one TCP connection on the loopback: the client's and the server's.
std::pair<UniqueFd, UniqueFd> tcp_pair() {
  auto l = transport::tcp_listen({"127.0.0.1", 0});
  REQUIRE(l);
  auto port = transport::tcp_local_port(l->get());
  REQUIRE(port);
  auto fd = transport::tcp_connect({"127.0.0.1", *port});
  REQUIRE(fd);
  auto server_fd = transport::tcp_accept(l->get(), 1000);
  REQUIRE(server_fd);
  return {std::move(*fd), std::move(*server_fd)};
}

}  // namespace

TEST_CASE("hostile: exceptions in every handler group are answered and the ring serves on",
          "[hostile][firewall]") {
  FaultHook hook;
  for (int workers : {0, 2}) {
    CAPTURE(workers);
    HostUnderTest host;
    rpc::ServerOptions opts;
    opts.workers = workers;
    ScriptedPeer guest(host.handler, opts);
    for (Fault f : {Fault::kBadAlloc, Fault::kRuntime, Fault::kForeign}) {
      g_fault = f;
      for (const auto& t : kTargets) {
        CAPTURE(static_cast<int>(t.op), static_cast<int>(f));
        std::array<uint64_t, 4> arg{};
        if (t.op == Opcode::kOpen) arg[0] = proto::kOpenRead;
        if (t.op == Opcode::kPutfile) arg[0] = t.payload.size();
        arg[3] = kFaultMarker;
        auto r = guest.call(t.op, t.payload, arg);
        CHECK(r.status == wire(expected(f)));
        CHECK(r.out_len == 0);
        REQUIRE(guest.host_answers());
      }
    }
    // Nothing half-done was left behind by the faults: no handle opened, no upload started.
    CHECK(host.files->open_handles() == 0);
    CHECK(host.files->pending_putfiles() == 0);
    CHECK(guest.call(Opcode::kStat, "in/a.txt").status == 0);
    CHECK(host.sentinel_unchanged());
  }
}

TEST_CASE("hostile: exceptions in every handler group are answered and TCP serves on",
          "[hostile][firewall]") {
  FaultHook hook;
  HostUnderTest host;
  auto [fd, server_fd] = tcp_pair();
  Result<void> served;
  std::thread t([&] { served = transport::serve_stream(server_fd.get(), host.handler); });
  {
    transport::StreamClient client(std::move(fd));
    REQUIRE(rpc::negotiate_version(client));
    for (Fault f : {Fault::kBadAlloc, Fault::kRuntime, Fault::kForeign}) {
      g_fault = f;
      for (const auto& tg : kTargets) {
        CAPTURE(static_cast<int>(tg.op), static_cast<int>(f));
        std::vector<std::byte> in(tg.payload.size()), out(4096);
        if (!in.empty()) std::memcpy(in.data(), tg.payload.data(), in.size());
        rpc::Call c;
        c.opcode = tg.op;
        c.in = in;
        c.out = out;
        if (tg.op == Opcode::kOpen) c.arg[0] = proto::kOpenRead;
        if (tg.op == Opcode::kPutfile) c.arg[0] = tg.payload.size();
        c.arg[3] = kFaultMarker;
        auto r = client.call(c);
        REQUIRE(r);  // the connection lives
        CHECK(r->status == wire(expected(f)));
        REQUIRE(ping_ok(client));
      }
    }
  }
  t.join();
  CHECK(served);
  CHECK(host.files->open_handles() == 0);
}

TEST_CASE("hostile: a handler's oversized reply is kIo on both transports", "[hostile][firewall]") {
  // A buggy handler claiming more reply bytes than the buffer: the same answer everywhere (TCP
  // used to clamp it, the ring answered kIo).
  struct Liar final : rpc::Handler {
    rpc::Reply handle(const rpc::Request& req) override {
      rpc::Reply r;
      r.out_len = static_cast<uint32_t>(req.out.size()) + 1;
      return r;
    }
  } liar;
  ScriptedPeer guest(liar);
  auto r = guest.call(Opcode::kPing, "x", {}, 0, 64);
  CHECK(r.status == wire(WireError::kIo));
  CHECK(r.out_len == 0);

  auto [fd, server_fd] = tcp_pair();
  std::thread t([&] { (void)transport::serve_stream(server_fd.get(), liar); });
  {
    transport::StreamClient client(std::move(fd));
    REQUIRE(rpc::negotiate_version(client));
    std::vector<std::byte> out(64);
    rpc::Call c;
    c.opcode = Opcode::kPing;
    c.out = out;
    auto tr = client.call(c);
    REQUIRE(tr);
    CHECK(tr->status == wire(WireError::kIo));
    CHECK(tr->out_len == 0);
  }
  t.join();
}

TEST_CASE("hostile: every opcode before kHello is refused on the ring", "[hostile][session]") {
  HostUnderTest host;
  ScriptedPeer guest(host.handler, {}, /*hello=*/false);
  for (Opcode op : {Opcode::kPing, Opcode::kStat, Opcode::kOpen, Opcode::kJobGet,
                    Opcode::kWaitEvent, Opcode::kBulkRead, Opcode::kPutfile}) {
    CAPTURE(static_cast<int>(op));
    auto r = guest.call(op, op == Opcode::kStat || op == Opcode::kOpen ? "in/a.txt" : "",
                        {proto::kOpenRead, 0, 0, 0});
    CHECK(r.status == wire(WireError::kProto));
  }
  CHECK(host.files->open_handles() == 0);
  auto hello = guest.call(Opcode::kHello, "", {2, 2, proto::kFeatureBulk, 0});
  REQUIRE(hello.status == 0);
  CHECK(hello.val[1] == 0);  // a job's host never grants the bulk opcodes
  CHECK(guest.call(Opcode::kBulkRead, "", {64, 1, 0, 0}).status == wire(WireError::kNoSys));
  CHECK(guest.call(Opcode::kStat, "in/a.txt").status == 0);
  CHECK(guest.call(Opcode::kHello, "", {2, 2, 0, 0}).status == wire(WireError::kProto));
  CHECK(guest.host_answers());
}
