#include "guest/bench/chirp_bench.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

#include "shared/chirp/connection.h"
#include "shared/util/log.h"

namespace ringbox::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

extern "C" char** environ;

struct Options {
  uint64_t iterations = 5000;
  uint64_t bulk_mib = 512;
  std::string submitd;       // path of ringbox-submitd
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
};

struct PathResult {
  std::string path;
  std::vector<Latency> rtt;
  std::vector<Throughput> bulk;
};

Latency stats(std::string op, std::vector<double>& us) {
  std::sort(us.begin(), us.end());
  Latency l;
  l.op = std::move(op);
  l.samples = us.size();
  if (us.empty()) return l;
  l.p50_us = us[us.size() / 2];
  l.p99_us = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  l.min_us = us.front();
  double sum = 0;
  for (double v : us) sum += v;
  l.mean_us = sum / static_cast<double>(us.size());
  return l;
}

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

Throughput rate(std::string op, uint64_t bytes, Clock::time_point t0) {
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  return Throughput{std::move(op), bytes, s, static_cast<double>(bytes) / s / 1e6};
}

// A child process stopped (SIGTERM, then waited for) when this goes out of scope.
struct Child {
  pid_t pid = -1;
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      int st;
      ::waitpid(pid, &st, 0);
    }
  }
};

Result<void> spawn(Child& c, const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  int rc = ::posix_spawn(&c.pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return sys_error(rc, "start " + args[0]);
  return ok();
}

Result<uint16_t> wait_port_file(const std::string& file) {
  for (int i = 0; i < 200; ++i) {
    std::ifstream f(file);
    int port = 0;
    if (f >> port && port > 0) return static_cast<uint16_t>(port);
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return make_error(Errc::kTimeout, "no port in " + file + " within 5 s");
}

// The raw TCP baseline: an echo server thread on loopback. Each message is an 8-byte length
// then that many bytes; the reply is `reply` bytes. Same sockets, same TCP_NODELAY as Chirp.
class Echo {
 public:
  Result<void> start() {
    lfd_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(lfd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        ::listen(lfd_.get(), 4) != 0)
      return sys_error("echo server listen");
    socklen_t len = sizeof(a);
    ::getsockname(lfd_.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
    return ok();
  }
  ~Echo() {
    ::shutdown(lfd_.get(), SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
  }
  uint16_t port() const { return port_; }

 private:
  void serve() {
    UniqueFd c(::accept4(lfd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c) return;
    int one = 1;
    ::setsockopt(c.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::vector<char> buf(1 << 20);
    for (;;) {
      uint64_t hdr[2];  // request bytes, reply bytes (either may be far larger than buf)
      if (!read_full(c.get(), hdr, sizeof(hdr))) return;
      for (uint64_t left = hdr[0]; left > 0;) {
        size_t step = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
        if (!read_full(c.get(), buf.data(), step)) return;
        left -= step;
      }
      for (uint64_t left = hdr[1]; left > 0;) {
        size_t step = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
        if (::send(c.get(), buf.data(), step, MSG_NOSIGNAL) != static_cast<ssize_t>(step)) return;
        left -= step;
      }
    }
  }
  static bool read_full(int fd, void* p, size_t n) {
    auto* b = static_cast<char*>(p);
    while (n > 0) {
      ssize_t r = ::recv(fd, b, n, 0);
      if (r <= 0) return false;
      b += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }
  UniqueFd lfd_;
  uint16_t port_ = 0;
  std::thread thread_;
};

Result<PathResult> measure_echo(uint16_t port, const Options& o) {
  auto fd = chirp::tcp_connect_timeout("127.0.0.1", port, 2000);
  if (!fd) return std::move(fd.error());
  int c = fd->get();
  int fl = ::fcntl(c, F_GETFL);
  ::fcntl(c, F_SETFL, fl & ~O_NONBLOCK);
  PathResult res;
  res.path = "tcp-echo";
  // Sizes of the Chirp exchanges they stand for: a stat (~20 B out, ~75 B back), a 4 KiB pread
  // (~16 B out, 4 KiB + 5 back), open+close (two exchanges of ~25/~80 and ~8/2 bytes).
  struct Shape {
    const char* op;
    std::vector<std::pair<uint64_t, uint64_t>> exchanges;
  };
  std::vector<char> buf(8192);
  for (const Shape& s : {Shape{"stat", {{20, 75}}}, Shape{"pread-4k", {{16, 4101}}},
                         Shape{"open+close", {{25, 80}, {8, 2}}}}) {
    auto l = time_calls(s.op, o.iterations, [&]() -> Result<void> {
      for (auto [req, rep] : s.exchanges) {
        uint64_t hdr[2] = {req, rep};
        std::memcpy(buf.data(), hdr, sizeof(hdr));
        if (::send(c, buf.data(), sizeof(hdr) + req, MSG_NOSIGNAL) < 0) return sys_error("send");
        size_t got = 0;
        while (got < rep) {
          ssize_t r = ::recv(c, buf.data() + got, rep - got, 0);
          if (r <= 0) return sys_error("recv");
          got += static_cast<size_t>(r);
        }
      }
      return ok();
    });
    if (!l) return std::move(l.error());
    res.rtt.push_back(*l);
  }
  // Raw streams of the same total, 1 MiB writes, for the streaming rows.
  const uint64_t total = o.bulk_mib << 20;
  buf.assign(1 << 20, 'z');
  for (bool up : {true, false}) {
    auto t0 = Clock::now();
    uint64_t hdr[2] = {up ? total : 0, up ? 1 : total};
    if (::send(c, hdr, sizeof(hdr), MSG_NOSIGNAL) != sizeof(hdr)) return sys_error("send");
    for (uint64_t left = up ? total : 0; left > 0;) {
      size_t step = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
      ssize_t n = ::send(c, buf.data(), step, MSG_NOSIGNAL);
      if (n <= 0) return sys_error("send stream");
      left -= static_cast<uint64_t>(n);
    }
    for (uint64_t left = up ? 1 : total; left > 0;) {
      ssize_t n =
          ::recv(c, buf.data(), static_cast<size_t>(std::min<uint64_t>(left, buf.size())), 0);
      if (n <= 0) return sys_error("recv stream");
      left -= static_cast<uint64_t>(n);
    }
    res.bulk.push_back(rate(up ? "stream-up" : "stream-down", total, t0));
  }
  return res;
}

Result<PathResult> measure_chirp(const std::string& name, const chirp::Endpoint& ep,
                                 const Options& o) {
  chirp::Timeouts t;
  t.idle_ms = t.line_ms = t.io_ms = 30'000;
  auto conn = chirp::Connection::open(ep, t, 5000);
  if (!conn) return std::move(conn.error());
  auto& c = *conn;
  PathResult res;
  res.path = name;
  const uint64_t total = o.bulk_mib << 20;
  // A test file for stat/pread, and the bulk file.
  std::string small(65536, 'x');
  auto src_small = [&](std::span<std::byte> out, uint64_t off) -> Result<size_t> {
    std::memcpy(out.data(), small.data() + off, out.size());
    return out.size();
  };
  auto put = c.putfile("bench-small", 0644, small.size(), src_small);
  if (!put) return std::move(put.error());
  auto open = c.open_file("bench-small", O_RDONLY, 0);
  if (!open) return std::move(open.error());
  std::vector<std::byte> buf(1 << 20);
  for (const char* op : {"stat", "pread-4k", "open+close"}) {
    std::string sop = op;
    auto l = time_calls(sop, o.iterations, [&]() -> Result<void> {
      if (sop == "stat")
        return c.stat("bench-small").has_value() ? ok() : make_error(Errc::kRemote, "stat");
      if (sop == "pread-4k") {
        auto n = c.pread(open->fd, std::span<std::byte>(buf.data(), 4096), 8192);
        if (!n || *n != 4096) return make_error(Errc::kRemote, "pread");
        return ok();
      }
      auto f = c.open_file("bench-small", O_RDONLY, 0);
      if (!f) return std::move(f.error());
      return c.close_file(f->fd);
    });
    if (!l) return std::move(l.error());
    res.rtt.push_back(*l);
  }
  RINGBOX_TRY(c.close_file(open->fd));
  // putfile / getfile of bulk_mib, then 1 MiB preads of it.
  std::vector<std::byte> pattern(1 << 20, std::byte{0x5a});
  auto src = [&](std::span<std::byte> out, uint64_t) -> Result<size_t> {
    std::memcpy(out.data(), pattern.data(), out.size());
    return out.size();
  };
  auto t0 = Clock::now();
  auto p = c.putfile("bench-bulk", 0644, total, src);
  if (!p) return std::move(p.error());
  res.bulk.push_back(rate("putfile", total, t0));
  t0 = Clock::now();
  uint64_t seen = 0;
  auto g = c.getfile("bench-bulk", [&](std::span<const std::byte> b, uint64_t) -> Result<void> {
    seen += b.size();
    return ok();
  });
  if (!g || seen != total) return make_error(Errc::kRemote, "getfile of the bulk file");
  res.bulk.push_back(rate("getfile", total, t0));
  auto f = c.open_file("bench-bulk", O_RDONLY, 0);
  if (!f) return std::move(f.error());
  t0 = Clock::now();
  for (uint64_t off = 0; off < total; off += buf.size()) {
    auto n = c.pread(f->fd, buf, static_cast<int64_t>(off));
    if (!n || *n != buf.size()) return make_error(Errc::kRemote, "pread 1 MiB");
  }
  res.bulk.push_back(rate("pread-1m", total, t0));
  RINGBOX_TRY(c.close_file(f->fd));
  (void)c.unlink("bench-bulk");
  return res;
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof(b), "%.2f", v);
  return b;
}

std::string to_json(const std::vector<PathResult>& paths, const Options& o) {
  std::string s = "{\n  \"benchmark\": \"chirp\",\n  \"config\": \"loopback, exports in " + o.dir +
                  ", one connection, " + std::to_string(o.iterations) + " calls per op, " +
                  std::to_string(o.bulk_mib) + " MiB streamed\",\n  \"paths\": [\n";
  for (size_t i = 0; i < paths.size(); ++i) {
    const auto& p = paths[i];
    s += "    {\"path\": \"" + p.path + "\", \"rtt\": [";
    for (size_t j = 0; j < p.rtt.size(); ++j) {
      const auto& l = p.rtt[j];
      s += std::string(j ? ", " : "") + "{\"op\": \"" + l.op +
           "\", \"samples\": " + std::to_string(l.samples) + ", \"p50_us\": " + num(l.p50_us) +
           ", \"p99_us\": " + num(l.p99_us) + ", \"mean_us\": " + num(l.mean_us) +
           ", \"min_us\": " + num(l.min_us) + "}";
    }
    s += "], \"bulk\": [";
    for (size_t j = 0; j < p.bulk.size(); ++j) {
      const auto& t = p.bulk[j];
      s += std::string(j ? ", " : "") + "{\"direction\": \"" + t.op +
           "\", \"total_bytes\": " + std::to_string(t.total_bytes) +
           ", \"seconds\": " + num(t.seconds) + ", \"mb_per_s\": " + num(t.mb_per_s) + "}";
    }
    s += "]}" + std::string(i + 1 < paths.size() ? "," : "") + "\n";
  }
  s += "  ]\n}\n";
  return s;
}

void print_table(const std::vector<PathResult>& paths) {
  std::printf("%-16s %-12s %10s %10s %10s\n", "path", "op", "p50 us", "p99 us", "mean us");
  for (const auto& p : paths) {
    for (const auto& l : p.rtt)
      std::printf("%-16s %-12s %10.1f %10.1f %10.1f\n", p.path.c_str(), l.op.c_str(), l.p50_us,
                  l.p99_us, l.mean_us);
  }
  std::printf("\n%-16s %-12s %12s\n", "path", "stream", "MB/s");
  for (const auto& p : paths) {
    for (const auto& t : p.bulk)
      std::printf("%-16s %-12s %12.0f\n", p.path.c_str(), t.op.c_str(), t.mb_per_s);
  }
  // The targets of issue 9, from this same run.
  const PathResult* echo = nullptr;
  const PathResult* submitd = nullptr;
  for (const auto& p : paths) {
    if (p.path == "tcp-echo") echo = &p;
    if (p.path == "ringbox-submitd") submitd = &p;
  }
  if (echo && submitd) {
    std::printf("\nsubmitd p50 / echo p50:");
    for (size_t i = 0; i < std::min(echo->rtt.size(), submitd->rtt.size()); ++i)
      std::printf("  %s %.2fx", submitd->rtt[i].op.c_str(),
                  submitd->rtt[i].p50_us / std::max(0.001, echo->rtt[i].p50_us));
    std::printf("\n");
  }
}

std::string beside_self(const std::string& name) {
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? name : (self.parent_path() / name).string();
}

}  // namespace

int run_chirp_bench(int argc, char** argv) {
  Options o;
  o.submitd = beside_self("ringbox-submitd");
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    auto val = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (k == "--iterations")
      o.iterations = std::stoull(val());
    else if (k == "--bulk-mib")
      o.bulk_mib = std::stoull(val());
    else if (k == "--submitd")
      o.submitd = val();
    else if (k == "--chirp-server")
      o.chirp_server = val();
    else if (k == "--out")
      o.out = val();
    else if (k == "--json")
      o.json = true;
    else {
      std::cerr << "usage: ringbox-bench chirp [--iterations N] [--bulk-mib N] [--submitd PATH]\n"
                   "         [--chirp-server PATH|none] [--dir DIR] [--json] [--out FILE]\n";
      return k == "--help" || k == "-h" ? 0 : 2;
    }
  }
  if (o.iterations == 0 || o.bulk_mib == 0) {
    std::cerr << "ringbox-bench chirp: --iterations and --bulk-mib must be at least 1\n";
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  if (o.dir.empty()) o.dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  std::string tmpl = o.dir + "/ringbox-bench-chirp.XXXXXX";
  if (!::mkdtemp(tmpl.data())) {
    std::perror(("mkdtemp in " + o.dir).c_str());
    return 1;
  }
  fs::path work = tmpl;
  ::chmod(work.c_str(), 0755);
  std::vector<PathResult> paths;
  int rc = 0;
  {
    Echo echo;
    if (auto e = echo.start(); !e) {
      log::error(e.error().message());
      return 1;
    }
    auto er = measure_echo(echo.port(), o);
    if (!er) {
      log::error("tcp echo: " + er.error().message());
      return 1;
    }
    paths.push_back(*er);

    fs::create_directories(work / "submitd");
    Child sd;
    auto s = spawn(sd,
                   {o.submitd, "--root", (work / "submitd").string(), "--port", "0", "--port-file",
                    (work / "submitd.port").string(), "--auth", "address"},
                   (work / "submitd.log").string());
    auto port = s ? wait_port_file((work / "submitd.port").string()) : Result<uint16_t>(s.error());
    if (!port) {
      log::error("ringbox-submitd (" + o.submitd + "): " + port.error().message());
      return 1;
    }
    chirp::Endpoint ep;
    ep.host = "127.0.0.1";
    ep.port = *port;
    ep.methods = {"address"};
    auto r = measure_chirp("ringbox-submitd", ep, o);
    if (!r) {
      log::error("ringbox-submitd: " + r.error().message());
      rc = 1;
    } else {
      paths.push_back(*r);
    }

    std::string cs = o.chirp_server;
    if (cs.empty() && ::access("/usr/bin/chirp_server", X_OK) == 0) cs = "/usr/bin/chirp_server";
    if (!cs.empty() && cs != "none") {
      fs::create_directories(work / "cctools");
      ::chmod((work / "cctools").c_str(), 0777);
      std::ofstream(work / "acl") << "address:127.0.0.1 rwlda\n";
      std::vector<std::string> args = {cs,
                                       "-r",
                                       (work / "cctools").string(),
                                       "-p",
                                       "0",
                                       "-Z",
                                       (work / "cctools.port").string(),
                                       "-A",
                                       (work / "acl").string(),
                                       "-u",
                                       "127.0.0.1",
                                       "-I",
                                       "127.0.0.1",
                                       "-y",
                                       work.string()};
      if (::geteuid() == 0) {
        args.push_back("-i");
        args.push_back("nobody");
      }
      Child cc;
      auto s2 = spawn(cc, args, (work / "cctools.log").string());
      auto p2 =
          s2 ? wait_port_file((work / "cctools.port").string()) : Result<uint16_t>(s2.error());
      if (!p2) {
        log::warn("cctools chirp_server: " + p2.error().message() + " (skipped)");
      } else {
        ep.port = *p2;
        auto r2 = measure_chirp("cctools-chirp_server", ep, o);
        if (!r2)
          log::warn("cctools chirp_server: " + r2.error().message());
        else
          paths.push_back(*r2);
      }
    }
  }
  fs::remove_all(work);
  std::string json = to_json(paths, o);
  if (o.json)
    std::cout << json;
  else
    print_table(paths);
  if (!o.out.empty()) std::ofstream(o.out) << json;
  return rc;
}

}  // namespace ringbox::bench
