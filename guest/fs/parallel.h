// Runs fn(0..n-1) on up to `threads` threads. For whole-file transfers at the end of a job:
// the host commits each file with fsync + rename + directory fsync, and several files in
// flight let those waits overlap instead of adding up. fn must be thread-safe.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace ringbox::guest::fs {

inline constexpr size_t kTransferThreads = 8;

template <class Fn>
void parallel_for(size_t n, size_t threads, Fn&& fn) {
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < n; i = next++) fn(i);
  };
  size_t extra = std::min(threads, n) > 0 ? std::min(threads, n) - 1 : 0;
  std::vector<std::thread> pool;
  pool.reserve(extra);
  for (size_t t = 0; t < extra; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
}

}  // namespace ringbox::guest::fs
