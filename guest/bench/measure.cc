#include "guest/bench/measure.h"

#include <algorithm>
#include <chrono>

#include "shared/rpc/handler.h"

namespace ringbox::bench {
namespace {
using Clock = std::chrono::steady_clock;

double percentile(std::vector<double>& v, double p) {
  size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}
}  // namespace

Result<LatencyStats> measure_rtt(rpc::Client& c, uint32_t bytes, uint64_t iterations,
                                 uint64_t warmup) {
  std::vector<std::byte> in(bytes), out(bytes);
  std::vector<double> us;
  us.reserve(iterations);
  for (uint64_t i = 0; i < warmup + iterations; ++i) {
    in[i % bytes] = static_cast<std::byte>(i);
    rpc::Call call;
    call.opcode = proto::Opcode::kPing;
    call.in = in;
    call.out = out;
    auto t0 = Clock::now();
    auto r = c.call(call);
    auto t1 = Clock::now();
    if (!r) return std::move(r.error());
    if (!r->ok() || r->out_len != bytes || out != in)
      return make_error(Errc::kProtocol, "echo of " + std::to_string(bytes) +
                                             " bytes came back wrong at iteration " +
                                             std::to_string(i));
    if (i >= warmup) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  LatencyStats s;
  s.payload_bytes = bytes;
  s.samples = us.size();
  double sum = 0;
  for (double x : us) sum += x;
  s.mean_us = sum / static_cast<double>(us.size());
  s.min_us = *std::min_element(us.begin(), us.end());
  s.p50_us = percentile(us, 0.50);
  s.p99_us = percentile(us, 0.99);
  return s;
}

Result<ThroughputStats> measure_bulk(rpc::Client& c, bool to_host, uint64_t message_bytes,
                                     uint64_t total_bytes) {
  if (message_bytes > c.max_payload())
    return make_error(Errc::kTooLarge, "bulk message of " + std::to_string(message_bytes) +
                                           " bytes exceeds this transport's limit of " +
                                           std::to_string(c.max_payload()) +
                                           " (raise --data-pages)");
  std::vector<std::byte> buf(message_bytes, std::byte{0x5a});
  uint64_t moved = 0;
  auto t0 = Clock::now();
  while (moved < total_bytes) {
    rpc::Call call;
    call.flags = proto::kBulkCopyOnly;
    if (to_host) {
      call.opcode = proto::Opcode::kBulkWrite;
      call.in = buf;
    } else {
      call.opcode = proto::Opcode::kBulkRead;
      call.arg[0] = message_bytes;
      call.out = buf;
    }
    auto r = c.call(call);
    if (!r) return std::move(r.error());
    if (!r->ok() || (!to_host && r->out_len != message_bytes))
      return make_error(Errc::kProtocol,
                        "bulk call refused with status " + std::to_string(r->status));
    moved += message_bytes;
  }
  ThroughputStats s;
  s.direction = to_host ? "guest-to-host" : "host-to-guest";
  s.message_bytes = message_bytes;
  s.total_bytes = moved;
  s.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  s.mb_per_s = static_cast<double>(moved) / s.seconds / 1e6;
  return s;
}

Result<void> verify_bulk(rpc::Client& c, uint64_t message_bytes, int rounds) {
  std::vector<std::byte> buf(message_bytes), expect(message_bytes);
  for (int i = 0; i < rounds; ++i) {
    rpc::Call call;
    call.opcode = proto::Opcode::kBulkRead;
    call.arg = {message_bytes, static_cast<uint64_t>(i) + 1, 0, 0};
    call.out = buf;
    auto r = c.call(call);
    if (!r) return std::move(r.error());
    rpc::fill_pattern(expect, static_cast<uint64_t>(i) + 1);
    if (!r->ok() || buf != expect || r->val[0] != rpc::fnv1a64(buf))
      return make_error(Errc::kProtocol,
                        "host-to-guest bulk data corrupted in round " + std::to_string(i));
    rpc::Call w;
    w.opcode = proto::Opcode::kBulkWrite;
    w.in = buf;
    auto wr = c.call(w);
    if (!wr) return std::move(wr.error());
    if (!wr->ok() || wr->val[0] != rpc::fnv1a64(buf))
      return make_error(Errc::kProtocol,
                        "guest-to-host bulk data corrupted in round " + std::to_string(i));
  }
  return ok();
}

}  // namespace ringbox::bench
