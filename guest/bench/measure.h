// The measurements ringbox-bench makes against any rpc::Client: echo round trips of a given
// size and bulk transfer throughput. Transport-agnostic, so every path is measured by the same
// code in the same run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "shared/rpc/call.h"

namespace ringbox::bench {

struct LatencyStats {
  uint32_t payload_bytes = 0;
  uint64_t samples = 0;
  double p50_us = 0, p99_us = 0, mean_us = 0, min_us = 0;
};

struct ThroughputStats {
  std::string direction;  // "guest-to-host" (kBulkWrite) or "host-to-guest" (kBulkRead)
  uint64_t message_bytes = 0;
  uint64_t total_bytes = 0;
  double seconds = 0;
  double mb_per_s = 0;  // 10^6 bytes per second
};

// kPing round trips with a payload of `bytes`, after `warmup` untimed ones. Each echo is
// checked; a mismatch is an error.
Result<LatencyStats> measure_rtt(rpc::Client& c, uint32_t bytes, uint64_t iterations,
                                 uint64_t warmup);

// kBulkWrite / kBulkRead with kBulkCopyOnly, message_bytes per call, until total_bytes moved.
// Messages larger than the client's limit are refused (choose a geometry that fits).
Result<ThroughputStats> measure_bulk(rpc::Client& c, bool to_host, uint64_t message_bytes,
                                     uint64_t total_bytes);

// A checked transfer: kBulkRead with checksums verified on both sides (correctness, not speed).
Result<void> verify_bulk(rpc::Client& c, uint64_t message_bytes, int rounds);

}  // namespace ringbox::bench
