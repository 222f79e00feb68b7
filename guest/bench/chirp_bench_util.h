// Pieces of `ringbox-bench chirp` (chirp_bench.cc): the options, the result records and their
// JSON/table output, timing helpers, server processes and the raw TCP echo baseline.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "shared/util/result.h"
#include "shared/util/unique_fd.h"

namespace ringbox::bench::chirpbench {

using Clock = std::chrono::steady_clock;

struct Options {
  uint64_t iterations = 5000;
  uint64_t bulk_mib = 512;
  std::string submitd;  // path of ringbox-submitd
  // More ringbox-submitd builds measured in the same run (label, path), e.g. the one before a
  // change: --also-submitd LABEL=PATH.
  std::vector<std::pair<std::string, std::string>> also_submitd;
  std::string chirp_server;  // path of cctools chirp_server ("" = look it up; "none" = skip)
  std::string out;
  std::string dir;  // where the exports live; default /dev/shm (tmpfs: measures Chirp, not a disk)
  bool json = false;
};

struct Latency {
  std::string op;
  uint64_t samples = 0;
  double p50_us = 0, p99_us = 0, mean_us = 0, min_us = 0;
};

struct Throughput {
  std::string op;
  uint64_t total_bytes = 0;
  double seconds = 0, mb_per_s = 0;
  // CPU time (user + system, all threads) the server spent on it, per GiB moved; < 0 when not
  // known (cctools chirp_server serves each connection in a forked child). Unlike MB/s it
  // hardly moves when other work shares the machine.
  double server_cpu_s_per_gib = -1;
};

struct PathResult {
  std::string path;
  std::vector<Latency> rtt;
  std::vector<Throughput> bulk;
};

// p50/p99/mean/min of samples in microseconds (sorts us).
Latency stats(std::string op, std::vector<double>& us);

// Times n calls of f after a warm-up of n/10 (at least 10); the first failure is returned.
template <class F>
Result<Latency> time_calls(const std::string& op, uint64_t n, F&& f) {
  for (uint64_t i = 0; i < std::max<uint64_t>(n / 10, 10); ++i) RINGBOX_TRY(f());  // warm-up
  std::vector<double> us;
  us.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    RINGBOX_TRY(f());
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  return stats(op, us);
}

// Throughput of bytes moved since t0.
Throughput rate(std::string op, uint64_t bytes, Clock::time_point t0);
// CPU seconds (user + system) process pid has used so far, from /proc/PID/stat; < 0 when
// pid <= 0 or unreadable.
double process_cpu_seconds(pid_t pid);

// A child process stopped (SIGTERM, then waited for) when this goes out of scope.
struct Child {
  pid_t pid = -1;
  ~Child();
};
// Starts args[0] with args, stdout and stderr appended to log.
Result<void> spawn(Child& c, const std::vector<std::string>& args, const std::string& log);
// The port a server wrote to file (5 s at most).
Result<uint16_t> wait_port_file(const std::string& file);

// The raw TCP baseline: an echo server thread on loopback. Each message is two 8-byte numbers
// (request bytes, reply bytes), then the request bytes; the reply is that many bytes. Same
// sockets, same TCP_NODELAY as Chirp.
class Echo {
 public:
  Result<void> start();
  ~Echo();
  uint16_t port() const { return port_; }

 private:
  void serve();
  static bool read_full(int fd, void* p, size_t n);
  UniqueFd lfd_;
  uint16_t port_ = 0;
  std::thread thread_;
};

// The results as JSON (scripts/bench-plot reads it) and as a table with issue 9's ratios.
std::string to_json(const std::vector<PathResult>& paths, const Options& o);
void print_table(const std::vector<PathResult>& paths);

}  // namespace ringbox::bench::chirpbench
