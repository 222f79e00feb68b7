// chirp-client-check: drives ringbox's ChirpClient against a real Chirp server and checks
// every call against the local file system that server exports (the reference). Used by the
// interop tests (cctools chirp_server, ringbox-submitd) and, as a job, through the real
// HTCondor starter proxy and shadow.
//
//   chirp-client-check (--url chirp://H:P[/DIR] | --chirp-config FILE) --server-dir LOCAL
//                      [--subdir NAME] [--large-mib N] [--auth address,unix]
// LOCAL is where the server's root (or the job's Iwd) is on this machine. Exit 0 when every
// check held; each failure prints what differed.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "shared/chirp/client.h"

using namespace ringbox;
using namespace ringbox::chirp;

namespace {

int failures = 0;

#define CHECK(cond, what)                                                    \
  do {                                                                       \
    if (cond) {                                                              \
      std::printf("ok   %s\n", what);                                        \
    } else {                                                                 \
      std::printf("FAIL %s (%s:%d: %s)\n", what, __FILE__, __LINE__, #cond); \
      ++failures;                                                            \
    }                                                                        \
  } while (0)

#define CHECK_OK(res, what)                                             \
  do {                                                                  \
    auto&& r_ = (res);                                                  \
    if (r_) {                                                           \
      std::printf("ok   %s\n", what);                                   \
    } else {                                                            \
      std::printf("FAIL %s: %s\n", what, r_.error().message().c_str()); \
      ++failures;                                                       \
    }                                                                   \
  } while (0)

std::string read_local(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool local_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

FileSource source_of(const std::string& data) {
  return [&data](std::span<std::byte> out, uint64_t off) -> Result<size_t> {
    size_t n = std::min<size_t>(out.size(), data.size() - std::min<size_t>(off, data.size()));
    std::memcpy(out.data(), data.data() + off, n);
    return n;
  };
}

Result<std::string> fetch(ChirpClient& c, const std::string& path) {
  std::string got;
  auto r = c.get_file(path, [&](std::span<const std::byte> b, uint64_t off) -> Result<void> {
    if (got.size() < off + b.size()) got.resize(off + b.size());
    std::memcpy(got.data() + off, b.data(), b.size());
    return ok();
  });
  if (!r) return std::move(r.error());
  if (got.size() != *r) return make_error(Errc::kProtocol, "size mismatch");
  return got;
}

// A deterministic generator for large files: never holds the file in memory.
uint64_t gen_word(uint64_t i) {
  uint64_t x = i * 0x9E3779B97F4A7C15ull;
  x ^= x >> 31;
  return x * 0xBF58476D1CE4E5B9ull;
}

FileSource generated(uint64_t) {
  return [](std::span<std::byte> out, uint64_t off) -> Result<size_t> {
    for (size_t i = 0; i < out.size(); ++i) {
      uint64_t pos = off + i;
      out[i] = static_cast<std::byte>(gen_word(pos / 8) >> (8 * (pos % 8)));
    }
    return out.size();
  };
}

bool local_matches_generated(const std::string& path, uint64_t size) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  std::vector<std::byte> buf(1 << 20), want(1 << 20);
  auto gen = generated(size);
  uint64_t off = 0;
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) return false;
    if (n == 0) break;
    (void)gen(std::span<std::byte>(want.data(), static_cast<size_t>(n)), off);
    if (std::memcmp(buf.data(), want.data(), static_cast<size_t>(n)) != 0) return false;
    off += static_cast<uint64_t>(n);
  }
  return off == size;
}

}  // namespace

int main(int argc, char** argv) {
  std::string url, config, server_dir, sub = "ringbox-check", auth;
  uint64_t large_mib = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--url")
      url = v;
    else if (k == "--chirp-config")
      config = v;
    else if (k == "--server-dir")
      server_dir = v;
    else if (k == "--subdir")
      sub = v;
    else if (k == "--large-mib")
      large_mib = std::stoull(v);
    else if (k == "--auth")
      auth = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if ((url.empty() == config.empty()) || server_dir.empty()) {
    std::fprintf(stderr,
                 "usage: chirp-client-check (--url chirp://H:P[/DIR] | --chirp-config FILE) "
                 "--server-dir LOCAL [--subdir NAME] [--large-mib N] [--auth m1,m2]\n");
    return 2;
  }
  auto ep = url.empty() ? read_chirp_config(config) : parse_chirp_url(url);
  if (!ep) {
    std::fprintf(stderr, "%s\n", ep.error().message().c_str());
    return 2;
  }
  if (!auth.empty()) {
    ep->methods.clear();
    std::stringstream ss(auth);
    for (std::string m; std::getline(ss, m, ',');) ep->methods.push_back(m);
  }
  std::string local = server_dir + (ep->dir.empty() ? "" : "/" + ep->dir) + "/" + sub;
  ClientOptions opt;
  opt.connections = 4;
  opt.peer_gone_ms = 10'000;
  ChirpClient c(*ep, opt);
  CHECK_OK(c.check(), "connect and authenticate");
  if (failures) return 1;

  // Start from an empty directory of our own.
  if (auto st = c.lstat(sub)) {
    auto entries = c.getdir(sub, false);
    if (entries) {
      for (auto& e : *entries) {
        if (e.name == "." || e.name == "..") continue;
        (void)c.unlink(sub + "/" + e.name);
        if (auto sub2 = c.getdir(sub + "/" + e.name, false)) {
          for (auto& e2 : *sub2) (void)c.unlink(sub + "/" + e.name + "/" + e2.name);
          (void)c.rmdir(sub + "/" + e.name);
        }
      }
    }
    (void)c.rmdir(sub);
  }
  CHECK_OK(c.mkdir(sub, 0755), "mkdir");
  {
    auto again = c.mkdir(sub, 0755);
    CHECK(!again && again.error().sys_errno == EEXIST, "mkdir of an existing dir is EEXIST");
  }

  // put_file / get_file, small, empty.
  std::string small = random_bytes(100'000, 1);
  CHECK_OK(c.put_file(sub + "/small.bin", 0644, small.size(), source_of(small)), "put_file");
  CHECK(read_local(local + "/small.bin") == small, "put_file bytes match on the server side");
  {
    auto got = fetch(c, sub + "/small.bin");
    CHECK(got && *got == small, "get_file bytes match");
  }
  std::string empty;
  CHECK_OK(c.put_file(sub + "/empty", 0644, 0, source_of(empty)), "put_file of an empty file");
  CHECK(local_exists(local + "/empty") && read_local(local + "/empty").empty(),
        "empty file exists and is empty");
  {
    auto got = fetch(c, sub + "/empty");
    CHECK(got && got->empty(), "get_file of an empty file");
  }

  // open / pwrite / pread / fstat / fsync / ftruncate / close.
  {
    auto o = c.open(sub + "/rw.bin", O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK_OK(o, "open rwct");
    if (o) {
      FileHandle h = o->first;
      CHECK(o->second.size == 0, "open's stat line: new file is empty");
      std::string a = random_bytes(70'000, 2), b = random_bytes(5000, 3);
      auto w1 = c.pwrite(h, std::as_bytes(std::span(a)), 0);
      auto w2 = c.pwrite(h, std::as_bytes(std::span(b)), 100'000);
      CHECK(w1 && *w1 == a.size() && w2 && *w2 == b.size(), "pwrite at two offsets");
      std::string want = a + std::string(30'000, '\0') + b;
      std::string back(want.size() + 100, 'x');
      auto r = c.pread(h, std::as_writable_bytes(std::span(back)), 0);
      CHECK(r && *r == want.size() && back.substr(0, want.size()) == want,
            "pread returns what was written, short at end of file");
      auto st = c.fstat(h);
      CHECK(st && st->size == static_cast<int64_t>(want.size()), "fstat size");
      CHECK_OK(c.fsync(h), "fsync");
      // Parallel preads on one handle over the pool.
      std::atomic<int> good{0};
      std::vector<std::thread> ts;
      for (int t = 0; t < 8; ++t) {
        ts.emplace_back([&, t] {
          for (int k = 0; k < 20; ++k) {
            size_t off = static_cast<size_t>((t * 997 + k * 4093) % 60'000);
            std::string buf(4096, '\0');
            auto n = c.pread(h, std::as_writable_bytes(std::span(buf)), off);
            if (n && *n == 4096 && buf == want.substr(off, 4096)) ++good;
          }
        });
      }
      for (auto& t : ts) t.join();
      CHECK(good.load() == 160, "160 parallel 4 KiB preads over the pool");
      CHECK_OK(c.ftruncate(h, 50'000), "ftruncate");
      CHECK_OK(c.close(h), "close");
      CHECK(read_local(local + "/rw.bin") == a.substr(0, 50'000),
            "server-side file equals the writes, truncated");
      auto bad = c.pread(h, std::as_writable_bytes(std::span(back)), 0);
      CHECK(!bad && bad.error().sys_errno == EBADF, "pread on a closed handle is EBADF");
    }
  }

  // Metadata.
  {
    auto st = c.stat(sub + "/small.bin");
    CHECK(st && st->size == 100'000 && S_ISREG(st->mode), "stat");
    auto missing = c.stat(sub + "/nope");
    CHECK(!missing && missing.error().sys_errno == ENOENT, "stat of a missing file is ENOENT");
    CHECK_OK(c.symlink("small.bin", sub + "/link"), "symlink");
    auto ls = c.lstat(sub + "/link");
    CHECK(ls && S_ISLNK(ls->mode), "lstat sees the symlink");
    auto target = c.readlink(sub + "/link");
    CHECK(target && *target == "small.bin", "readlink");
    auto followed = c.stat(sub + "/link");
    CHECK(followed && followed->size == 100'000, "stat follows the symlink");
    CHECK_OK(c.link(sub + "/small.bin", sub + "/hard"), "link");
    auto hs = c.stat(sub + "/small.bin");
    CHECK(hs && hs->nlink == 2, "hard link: nlink 2");
    CHECK_OK(c.rename(sub + "/hard", sub + "/hard2"), "rename");
    CHECK(!local_exists(local + "/hard") && local_exists(local + "/hard2"),
          "rename moved the file on the server side");
    CHECK_OK(c.chmod(sub + "/hard2", 0640), "chmod");
    struct stat lst {};
    CHECK(::stat((local + "/hard2").c_str(), &lst) == 0 && (lst.st_mode & 07777) == 0640,
          "chmod shows on the server side");
    CHECK_OK(c.utime(sub + "/hard2", 1'000'000'000, 1'100'000'000), "utime");
    CHECK(::stat((local + "/hard2").c_str(), &lst) == 0 && lst.st_mtime == 1'100'000'000,
          "utime shows on the server side");
    CHECK_OK(c.truncate(sub + "/hard2", 10), "truncate");
    CHECK(::stat((local + "/small.bin").c_str(), &lst) == 0 && lst.st_size == 10,
          "truncate shows (through the hard link)");
    auto sf = c.statfs(sub);
    CHECK(sf && sf->bsize > 0 && sf->blocks > 0, "statfs");
    CHECK_OK(c.mkdir(sub + "/d", 0700), "mkdir nested");
    CHECK_OK(c.put_file(sub + "/d/x", 0644, 3, source_of(small)), "put_file into nested dir");
    auto notempty = c.rmdir(sub + "/d");
    CHECK(!notempty && notempty.error().sys_errno == ENOTEMPTY, "rmdir of a full dir is ENOTEMPTY");
    std::set<std::string> want{"d", "empty", "hard2", "link", "rw.bin", "small.bin"};
    for (bool with_stat : {false, true}) {
      auto list = c.getdir(sub, with_stat);
      std::set<std::string> names;
      bool stats_ok = true;
      if (list) {
        for (auto& e : *list) {
          if (e.name == "." || e.name == "..") continue;
          names.insert(e.name);
          if (with_stat && e.name == "rw.bin" && e.st.size != 50'000) stats_ok = false;
        }
      }
      CHECK(list && names == want && stats_ok,
            with_stat ? "getlongdir names and sizes" : "getdir names");
    }
    CHECK_OK(c.unlink(sub + "/d/x"), "unlink");
    CHECK_OK(c.rmdir(sub + "/d"), "rmdir");
    CHECK(!local_exists(local + "/d"), "rmdir shows on the server side");
    CHECK(!local_exists(local + "/d/x"), "unlink shows on the server side");
  }

  // Large: streamed both ways, never whole in memory.
  if (large_mib > 0) {
    uint64_t size = large_mib << 20;
    CHECK_OK(c.put_file(sub + "/large.bin", 0644, size, generated(size)), "put_file large");
    CHECK(local_matches_generated(local + "/large.bin", size),
          "large file byte-identical on the server side");
    auto src = generated(size);
    std::vector<std::byte> want;
    bool same = true;
    auto r = c.get_file(sub + "/large.bin",
                        [&](std::span<const std::byte> b, uint64_t off) -> Result<void> {
                          want.resize(b.size());
                          (void)src(std::span<std::byte>(want), off);
                          if (std::memcmp(want.data(), b.data(), b.size()) != 0) same = false;
                          return ok();
                        });
    CHECK(r && *r == size && same, "get_file large byte-identical");
    (void)c.unlink(sub + "/large.bin");
  }
  // No temporary names left behind by put_file.
  {
    auto list = c.getdir(sub, false);
    bool clean = list.has_value();
    if (list) {
      for (auto& e : *list) {
        if (e.name.rfind(".ringbox-put.", 0) == 0) clean = false;
      }
    }
    CHECK(clean, "no put_file temporaries left");
  }
  std::printf("%s: %d failure(s)\n", failures ? "FAILED" : "PASSED", failures);
  return failures ? 1 : 0;
}
