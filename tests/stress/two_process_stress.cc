// Two processes, one ring: the child serves with several workers and random delays (responses
// out of order), the parent runs thousands of caller threads at once, every payload
// checksummed both ways. Passes only if every call came back intact.
//
// usage: ringbox-stress [threads] [calls-per-thread]
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "shared/rpc/ring_client.h"
#include "shared/rpc/ring_server.h"
#include "shared/transport/local/local_channel.h"

using namespace ringbox;
using proto::Opcode;

namespace {

class StressHandler final : public rpc::Handler {
 public:
  rpc::Reply handle(const rpc::Request& req) override {
    thread_local std::mt19937 rng(std::random_device{}());
    if (rng() % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
    if (req.opcode == static_cast<uint16_t>(Opcode::kBulkWrite)) {
      // The caller put its expected checksum in arg[0]; answer whether the bytes matched.
      rpc::Reply r = rpc::handle_session_opcode(req);
      r.val[1] = r.val[0] == req.arg[0] ? 1 : 0;
      return r;
    }
    return rpc::handle_session_opcode(req);
  }
};

int run_server(UniqueFd sock) {
  auto ch = transport::local_accept(std::move(sock));
  if (!ch) {
    std::fprintf(stderr, "server: %s\n", ch.error().message().c_str());
    return 1;
  }
  StressHandler h;
  auto server = rpc::RingServer::create(
      std::move(*ch), h, {.spin_us = 20, .workers = 3, .features = proto::kFeatureBulk});
  if (!server) return 1;
  auto r = (*server)->serve();
  if (!r) std::fprintf(stderr, "server: %s\n", r.error().message().c_str());
  return r ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::stoi(argv[1]) : 2000;
  const int calls = argc > 2 ? std::stoi(argv[2]) : 20;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 1;
  pid_t child = ::fork();
  if (child == 0) {
    ::close(sv[0]);
    _exit(run_server(UniqueFd(sv[1])));
  }
  ::close(sv[1]);
  // 4096 slots and a 16 MiB data area: thousands of requests can really be in flight at once.
  auto ch = transport::local_connect(UniqueFd(sv[0]), ring::Geometry{12, 4096});
  if (!ch) {
    std::fprintf(stderr, "client: %s\n", ch.error().message().c_str());
    return 1;
  }
  auto client = rpc::RingClient::create(std::move(*ch), {.spin_us = 5});
  if (!client) return 1;
  if (auto v = rpc::negotiate_version(**client, proto::kFeatureBulk); !v) {
    std::fprintf(stderr, "client: %s\n", v.error().message().c_str());
    return 1;
  }
  std::atomic<int> bad{0};
  std::atomic<long> bytes{0};
  std::atomic<int> ready{0};
  auto t0 = std::chrono::steady_clock::now();
  {
    std::vector<std::thread> ts;
    ts.reserve(threads);
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&, t] {
        std::mt19937_64 rng(t * 7919 + 1);
        ++ready;
        while (ready.load() < threads) std::this_thread::yield();  // all start together
        for (int i = 0; i < calls; ++i) {
          std::vector<std::byte> in(1 + rng() % 4000), out(in.size());
          for (auto& b : in) b = static_cast<std::byte>(rng());
          rpc::Call c;
          if (i % 2 == 0) {
            c.opcode = Opcode::kPing;
            c.in = in;
            c.out = out;
          } else {
            c.opcode = Opcode::kBulkWrite;
            c.arg[0] = rpc::fnv1a64(in);
            c.in = in;
          }
          auto r = (*client)->call(c);
          bool good = r && r->ok() &&
                      (i % 2 == 0 ? (r->out_len == in.size() && out == in) : r->val[1] == 1);
          if (!good) {
            if (bad++ < 5)
              std::fprintf(stderr, "call %d/%d failed: %s\n", t, i,
                           r ? ("status " + std::to_string(r->status)).c_str()
                             : r.error().message().c_str());
          }
          bytes += static_cast<long>(in.size());
        }
      });
    }
    for (auto& t : ts) t.join();
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const uint32_t peak = (*client)->peak_in_flight();
  client->reset();  // closes the channel: the server process returns
  int status = 0;
  ::waitpid(child, &status, 0);
  bool server_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  // The point of the test is concurrency: with fewer than half the threads ever in flight at
  // once it did not exercise what it claims to.
  const bool concurrent = peak >= static_cast<uint32_t>(threads) / 2;
  std::printf(
      "%d threads x %d calls, %ld payload bytes checked, %d bad, peak %u in flight, "
      "%.2f s, server %s\n",
      threads, calls, bytes.load(), bad.load(), peak, s, server_ok ? "ok" : "FAILED");
  return bad == 0 && server_ok && concurrent ? 0 : 1;
}
