// chirp-fault-client: ChirpClient while its server dies.
//   --mode restart: writes a 50 MiB file in 256 KiB pwrites, stores and renames files, makes
//     directories, while the test kills and restarts the server; then checks on the server's
//     directory that every write landed once: the big file byte-identical, every renamed file
//     present with its bytes, no source names or temporaries left. Prints the retry count
//     (the test requires > 0, proving the kills hit calls in flight).
//   --mode gone: the server is stopped or frozen; one call must fail with EIO within the
//     bound (--peer-gone-ms plus connect and reply deadlines), never hang.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "shared/chirp/client.h"

using namespace ringbox;
using namespace ringbox::chirp;

namespace {

std::string read_local(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string block(int i, size_t n) {
  std::string s(n, '\0');
  for (size_t k = 0; k < n; ++k) s[k] = static_cast<char>((i * 131 + k * 7) & 0xff);
  return s;
}

int fail(const std::string& what) {
  std::printf("FAIL %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string url, mode, dir;
  int peer_gone_ms = 20'000, reply_ms = 2'000, pace_ms = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--url")
      url = v;
    else if (k == "--mode")
      mode = v;
    else if (k == "--server-dir")
      dir = v;
    else if (k == "--peer-gone-ms")
      peer_gone_ms = std::stoi(v);
    else if (k == "--reply-ms")
      reply_ms = std::stoi(v);
  }
  auto ep = parse_chirp_url(url);
  if (!ep) return fail(ep.error().message());
  ep->methods = {"address"};
  ClientOptions opt;
  opt.connections = 2;
  opt.connect_ms = 1000;
  opt.peer_gone_ms = peer_gone_ms;
  opt.timeouts.idle_ms = reply_ms;
  opt.timeouts.line_ms = reply_ms;
  opt.timeouts.io_ms = reply_ms;
  ChirpClient c(*ep, opt);

  if (mode == "gone") {
    auto t0 = std::chrono::steady_clock::now();
    auto r = c.stat("anything");
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    if (r) return fail("stat succeeded with the server gone");
    std::printf("stat failed after %lld ms: errno %d: %s\n", static_cast<long long>(ms),
                r.error().sys_errno, r.error().message().c_str());
    if (r.error().sys_errno != EIO) return fail("expected EIO");
    if (ms > peer_gone_ms + 3 * reply_ms + 2000) return fail("took longer than the bound");
    std::printf("PASSED\n");
    return 0;
  }

  if (auto m = c.mkdir("faults", 0755); !m) return fail(m.error().message());
  auto o = c.open("faults/big.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (!o) return fail(o.error().message());
  constexpr int kBlocks = 200;
  constexpr size_t kBlock = 256 << 10;
  for (int i = 0; i < kBlocks; ++i) {
    // Paced, so the run outlasts several kill/restart cycles of the test however fast the
    // machine is.
    std::this_thread::sleep_for(std::chrono::milliseconds(pace_ms));
    std::string b = block(i, kBlock);
    auto w = c.pwrite(o->first, std::as_bytes(std::span(b)), static_cast<uint64_t>(i) * kBlock);
    if (!w || *w != kBlock)
      return fail("pwrite block " + std::to_string(i) + ": " + (w ? "short" : w.error().message()));
    std::string small = block(1000 + i, 10'000 + i);
    auto src = [&small](std::span<std::byte> out, uint64_t off) -> Result<size_t> {
      std::memcpy(out.data(), small.data() + off, out.size());
      return out.size();
    };
    std::string name = "faults/f" + std::to_string(i);
    if (auto p = c.put_file(name, 0644, small.size(), src); !p)
      return fail("put_file " + name + ": " + p.error().message());
    if (auto r = c.rename(name, "faults/g" + std::to_string(i)); !r)
      return fail("rename " + name + ": " + r.error().message());
    if (auto m = c.mkdir("faults/d" + std::to_string(i), 0755); !m)
      return fail("mkdir: " + m.error().message());
    if (auto u = c.unlink("faults/g" + std::to_string(i)); !u && i % 2 == 0)
      return fail("unlink: " + u.error().message());
    if (i % 2 == 0) {
      // Put it back (the odd ones stay, the even ones are unlinked and stored again).
      if (auto p = c.put_file("faults/g" + std::to_string(i), 0644, small.size(), src); !p)
        return fail("put_file again: " + p.error().message());
    } else {
      if (auto p = c.put_file("faults/g" + std::to_string(i), 0644, small.size(), src); !p)
        return fail("put_file again: " + p.error().message());
    }
  }
  if (auto cl = c.close(o->first); !cl) return fail("close: " + cl.error().message());
  std::printf("retries %llu reconnects %llu\n", static_cast<unsigned long long>(c.retries()),
              static_cast<unsigned long long>(c.reconnects()));
  // Server-side checks.
  std::string big = read_local(dir + "/faults/big.bin");
  if (big.size() != kBlocks * kBlock) return fail("big.bin size " + std::to_string(big.size()));
  for (int i = 0; i < kBlocks; ++i) {
    if (big.compare(static_cast<size_t>(i) * kBlock, kBlock, block(i, kBlock)) != 0)
      return fail("big.bin block " + std::to_string(i) + " differs");
    if (read_local(dir + "/faults/g" + std::to_string(i)) != block(1000 + i, 10'000 + i))
      return fail("g" + std::to_string(i) + " differs");
    struct stat st {};
    if (::stat((dir + "/faults/f" + std::to_string(i)).c_str(), &st) == 0)
      return fail("f" + std::to_string(i) + " still there");
    if (::stat((dir + "/faults/d" + std::to_string(i)).c_str(), &st) != 0)
      return fail("d" + std::to_string(i) + " missing");
  }
  auto list = c.getdir("faults", false);
  if (!list) return fail(list.error().message());
  if (list->size() != 2 + 1 + 2 * kBlocks)
    return fail("faults/ holds " + std::to_string(list->size()) + " entries, expected " +
                std::to_string(3 + 2 * kBlocks) + " (a temporary left behind?)");
  std::printf("PASSED\n");
  return 0;
}
