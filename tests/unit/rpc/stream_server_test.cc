// StreamServer and the pooled StreamClient over real loopback TCP.
#include "shared/transport/tcp/stream_server.h"

#include <sys/socket.h>
#include <time.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "shared/transport/tcp/stream_rpc.h"
#include "shared/transport/tcp/tcp_socket.h"
#include "tests/support/long_poll_handler.h"

using namespace ringbox;
using proto::Opcode;

namespace {

struct Listener {
  UniqueFd fd;
  uint16_t port = 0;
};

Listener listen_loopback() {
  auto l = transport::tcp_listen({"127.0.0.1", 0});
  REQUIRE(l);
  auto port = transport::tcp_local_port(l->get());
  REQUIRE(port);
  return {std::move(*l), *port};
}

transport::StreamClient::Dialer dialer(uint16_t port, std::string token) {
  return [port, token]() -> Result<UniqueFd> {
    auto fd = transport::tcp_connect({"127.0.0.1", port});
    if (!fd) return fd;
    if (!token.empty()) RINGBOX_TRY(transport::write_all(fd->get(), token.data(), token.size()));
    return fd;
  };
}

const std::string kToken(proto::kStreamTokenBytes, 'k');

}  // namespace

TEST_CASE("concurrent calls each get a connection and a long poll holds up none of them", "[tcp]") {
  auto l = listen_loopback();
  test::LongPollHandler h(7);
  transport::StreamServer server(std::move(l.fd), h, {});
  Result<void> served;
  std::thread serve_thread([&] { served = server.serve(); });
  {
    transport::StreamClient client(dialer(l.port, ""), 8);
    // One kHello; the pool repeats it on every connection it dials later (the host refuses
    // anything else first on each), so the pings below fail if it does not.
    REQUIRE(rpc::negotiate_version(client));
    std::atomic<bool> polled{false};
    std::thread poller([&] {
      rpc::Call c;
      c.opcode = Opcode::kWaitEvent;
      c.long_poll = true;
      auto r = client.call(c);
      polled = r && r->ok() && r->val[0] == 7;
    });
    std::atomic<int> good{0};
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t)
      callers.emplace_back([&, t] {
        for (int i = 0; i < 50; ++i)
          if (test::ping_ok(client, static_cast<std::byte>(t * 50 + i))) ++good;
      });
    for (auto& t : callers) t.join();
    CHECK(good == 200);
    CHECK_FALSE(polled.load());
    h.release();
    poller.join();
    CHECK(polled.load());
  }
  // The client closed every connection: serve() is done.
  serve_thread.join();
  CHECK(served);
  CHECK(server.connections_served() >= 2);
  CHECK(server.connections_served() <= 8);
}

TEST_CASE("a connection without the run's token is closed unserved", "[tcp][hostile]") {
  auto l = listen_loopback();
  test::LongPollHandler h(7);
  transport::StreamServerOptions opts;
  opts.token = kToken;
  opts.token_timeout_ms = 2000;
  transport::StreamServer server(std::move(l.fd), h, opts);
  Result<void> served;
  std::thread serve_thread([&] { served = server.serve(); });

  // Wrong token, then a well-formed frame: the server hangs up without answering.
  auto bad = transport::tcp_connect({"127.0.0.1", l.port});
  REQUIRE(bad);
  std::string wrong(proto::kStreamTokenBytes, 'x');
  REQUIRE(transport::write_all(bad->get(), wrong.data(), wrong.size()));
  char byte;
  CHECK(::recv(bad->get(), &byte, 1, 0) == 0);
  // No token at all: closed when the token time is up.
  auto silent = transport::tcp_connect({"127.0.0.1", l.port});
  REQUIRE(silent);
  CHECK(::recv(silent->get(), &byte, 1, 0) == 0);
  CHECK(server.connections_served() == 0);

  {
    transport::StreamClient client(dialer(l.port, kToken), 2);
    CHECK(rpc::negotiate_version(client));
    CHECK(test::ping_ok(client, std::byte{3}));
  }
  serve_thread.join();
  CHECK(served);
  CHECK(server.connections_served() == 1);
}

TEST_CASE("a stream server nobody connects to gives up at its deadline", "[tcp]") {
  auto l = listen_loopback();
  test::LongPollHandler h(7);
  transport::StreamServerOptions opts;
  opts.first_connection_timeout_ms = 200;
  transport::StreamServer server(std::move(l.fd), h, opts);
  auto r = server.serve();
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::kTimeout);
}

TEST_CASE("a pooled client whose host is gone fails its calls cleanly", "[tcp]") {
  auto l = listen_loopback();
  uint16_t port = l.port;
  l.fd.reset();  // nobody listens any more
  transport::StreamClient client(dialer(port, ""), 4);
  rpc::Call c;
  auto r = client.call(c);
  REQUIRE_FALSE(r);
  CHECK_FALSE(test::ping_ok(client, std::byte{1}));
}

TEST_CASE("callers queued on a single connection all fail when it breaks", "[tcp]") {
  auto l = listen_loopback();
  auto client_fd = transport::tcp_connect({"127.0.0.1", l.port});
  REQUIRE(client_fd);
  auto server_fd = transport::tcp_accept(l.fd.get(), 1000);
  REQUIRE(server_fd);
  transport::StreamClient client(std::move(*client_fd));
  // The "host" reads nothing and hangs up a moment later: the call in flight fails, and so
  // must every caller queued behind it, instead of waiting forever for a connection.
  std::vector<std::thread> callers;
  std::atomic<int> failed{0};
  for (int i = 0; i < 4; ++i)
    callers.emplace_back([&] {
      if (!test::ping_ok(client, std::byte{2})) ++failed;
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server_fd->reset();
  for (auto& t : callers) t.join();
  CHECK(failed == 4);
}

TEST_CASE("a connection closed while its handler still runs does not make the server spin",
          "[tcp]") {
  auto l = listen_loopback();
  test::LongPollHandler h(7);
  transport::StreamServer server(std::move(l.fd), h, {});
  Result<void> served;
  double serve_cpu_ms = 0;
  std::thread serve_thread([&] {
    served = server.serve();
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    serve_cpu_ms = ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
  });
  auto a = transport::tcp_connect({"127.0.0.1", l.port});
  REQUIRE(a);
  const int a_fd = a->get();
  transport::StreamClient poller_client(std::move(*a));
  REQUIRE(rpc::negotiate_version(poller_client));
  std::thread poller([&] {
    rpc::Call c;
    c.opcode = Opcode::kWaitEvent;
    (void)poller_client.call(c);  // fails once its connection is shut down below
  });
  auto b = transport::tcp_connect({"127.0.0.1", l.port});
  REQUIRE(b);
  auto other_owner = std::make_unique<transport::StreamClient>(std::move(*b));
  transport::StreamClient& other = *other_owner;
  REQUIRE(rpc::negotiate_version(other));
  REQUIRE(test::ping_ok(other));
  h.wait_until_polling();       // the poll is in the handler
  ::shutdown(a_fd, SHUT_RDWR);  // its peer is gone; its handler still waits
  poller.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(test::ping_ok(other));  // the other connection is served meanwhile
  h.release();
  other_owner.reset();  // the last connection closes: serve() returns
  serve_thread.join();
  CHECK(served);
  // Half a second with a hung-up connection in the poll set: idle, not a busy loop.
  CHECK(serve_cpu_ms < 150);
}
