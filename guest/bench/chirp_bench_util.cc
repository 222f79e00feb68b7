#include "guest/bench/chirp_bench_util.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>

extern "C" char** environ;

namespace ringbox::bench::chirpbench {

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
Throughput rate(std::string op, uint64_t bytes, Clock::time_point t0) {
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  return Throughput{std::move(op), bytes, s, static_cast<double>(bytes) / s / 1e6};
}

double process_cpu_seconds(pid_t pid) {
  if (pid <= 0) return -1;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // proc(5): fields after the ")" that ends comm; utime and stime are fields 14 and 15.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  long hz = ::sysconf(_SC_CLK_TCK);
  return hz > 0 ? static_cast<double>(utime + stime) / static_cast<double>(hz) : -1;
}

Child::~Child() {
  if (pid > 0) {
    ::kill(pid, SIGTERM);
    int st;
    ::waitpid(pid, &st, 0);
  }
}

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

Result<void> Echo::start() {
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

Echo::~Echo() {
  ::shutdown(lfd_.get(), SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
}

void Echo::serve() {
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

bool Echo::read_full(int fd, void* p, size_t n) {
  auto* b = static_cast<char*>(p);
  while (n > 0) {
    ssize_t r = ::recv(fd, b, n, 0);
    if (r <= 0) return false;
    b += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

namespace {

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof(b), "%.2f", v);
  return b;
}

}  // namespace

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
           ", \"seconds\": " + num(t.seconds) + ", \"mb_per_s\": " + num(t.mb_per_s) +
           (t.server_cpu_s_per_gib >= 0
                ? ", \"server_cpu_s_per_gib\": " + num(t.server_cpu_s_per_gib)
                : std::string()) +
           "}";
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
  std::printf("\n%-16s %-12s %12s %18s\n", "path", "stream", "MB/s", "server CPU s/GiB");
  for (const auto& p : paths) {
    for (const auto& t : p.bulk)
      if (t.server_cpu_s_per_gib >= 0)
        std::printf("%-16s %-12s %12.0f %18.3f\n", p.path.c_str(), t.op.c_str(), t.mb_per_s,
                    t.server_cpu_s_per_gib);
      else
        std::printf("%-16s %-12s %12.0f %18s\n", p.path.c_str(), t.op.c_str(), t.mb_per_s, "-");
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

}  // namespace ringbox::bench::chirpbench
