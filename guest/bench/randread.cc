#include "guest/bench/randread.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

namespace ringbox::bench {

int run_randread(const std::string& path, uint64_t count, uint64_t block, bool want_direct) {
  using Clock = std::chrono::steady_clock;
  auto t_open = Clock::now();
  // O_DIRECT (when asked): every pread goes to the file system, never to the guest's page cache
  // (the view keeps pages in both modes so that MAP_SHARED works; see docs/modes.md). A file
  // system that refuses O_DIRECT (tmpfs) is read through the cache, and the JSON says so.
  bool direct = want_direct;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
  if (fd < 0 && errno == EINVAL && direct) {
    direct = false;
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) {
    std::fprintf(stderr, "ringbox-bench randread: open %s: %s\n", path.c_str(),
                 std::strerror(errno));
    return 1;
  }
  double open_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_open).count();
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size <= 0) {
    std::fprintf(stderr, "ringbox-bench randread: %s is empty or cannot be stat'ed\n",
                 path.c_str());
    ::close(fd);
    return 1;
  }
  uint64_t blocks = std::max<uint64_t>(1, static_cast<uint64_t>(st.st_size) / block);
  // Page-aligned, as O_DIRECT on a disk file system requires.
  void* mem = nullptr;
  if (posix_memalign(&mem, 4096, block) != 0) {
    std::fprintf(stderr, "ringbox-bench randread: no memory for a %llu-byte buffer\n",
                 static_cast<unsigned long long>(block));
    ::close(fd);
    return 1;
  }
  std::unique_ptr<char, decltype(&std::free)> buf(static_cast<char*>(mem), &std::free);
  std::vector<double> us;
  us.reserve(count);
  std::mt19937_64 rng(42);
  uint64_t bytes = 0;
  auto t0 = Clock::now();
  for (uint64_t i = 0; i < count; ++i) {
    off_t off = static_cast<off_t>((rng() % blocks) * block);
    auto a = Clock::now();
    ssize_t n = ::pread(fd, buf.get(), block, off);
    auto b = Clock::now();
    if (n < 0) {
      std::fprintf(stderr, "ringbox-bench randread: pread %s at %lld: %s\n", path.c_str(),
                   static_cast<long long>(off), std::strerror(errno));
      ::close(fd);
      return 1;
    }
    bytes += static_cast<uint64_t>(n);
    us.push_back(std::chrono::duration<double, std::micro>(b - a).count());
  }
  double total_s = std::chrono::duration<double>(Clock::now() - t0).count();
  ::close(fd);
  std::sort(us.begin(), us.end());
  double mean = 0;
  for (double x : us) mean += x;
  mean /= static_cast<double>(us.size());
  std::printf(
      "{\"file\": \"%s\", \"file_bytes\": %lld, \"reads\": %llu, \"block\": %llu, "
      "\"open_ms\": %.3f, \"p50_us\": %.3f, \"p99_us\": %.3f, \"mean_us\": %.3f, "
      "\"reads_total_s\": %.4f, \"bytes_read\": %llu, \"direct\": %s}\n",
      path.c_str(), static_cast<long long>(st.st_size), static_cast<unsigned long long>(count),
      static_cast<unsigned long long>(block), open_ms, us[us.size() / 2],
      us[std::min(us.size() - 1, us.size() * 99 / 100)], mean, total_s,
      static_cast<unsigned long long>(bytes), direct ? "true" : "false");
  return 0;
}

}  // namespace ringbox::bench
