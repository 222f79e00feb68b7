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

#include "guest/bench/chirp_bench_util.h"
#include "shared/chirp/connection.h"
#include "shared/util/log.h"

namespace ringbox::bench {
namespace {

namespace fs = std::filesystem;
using namespace chirpbench;  // NOLINT(google-build-using-namespace): this mode's own pieces

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

// server_pid: the server process whose CPU time the streaming rows report (-1: none).
Result<PathResult> measure_chirp(const std::string& name, const chirp::Endpoint& ep,
                                 const Options& o, pid_t server_pid) {
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
  double cpu0 = 0;
  auto cpu_per_gib = [&] {
    double now = process_cpu_seconds(server_pid);
    double v = server_pid > 0 && now >= 0
                   ? (now - cpu0) * static_cast<double>(1 << 30) / static_cast<double>(total)
                   : -1;
    cpu0 = process_cpu_seconds(server_pid);
    return v;
  };
  cpu0 = process_cpu_seconds(server_pid);
  auto t0 = Clock::now();
  auto p = c.putfile("bench-bulk", 0644, total, src);
  if (!p) return std::move(p.error());
  res.bulk.push_back(rate("putfile", total, t0));
  res.bulk.back().server_cpu_s_per_gib = cpu_per_gib();
  t0 = Clock::now();
  uint64_t seen = 0;
  auto g = c.getfile("bench-bulk", [&](std::span<const std::byte> b, uint64_t) -> Result<void> {
    seen += b.size();
    return ok();
  });
  if (!g || seen != total) return make_error(Errc::kRemote, "getfile of the bulk file");
  res.bulk.push_back(rate("getfile", total, t0));
  res.bulk.back().server_cpu_s_per_gib = cpu_per_gib();
  auto f = c.open_file("bench-bulk", O_RDONLY, 0);
  if (!f) return std::move(f.error());
  t0 = Clock::now();
  for (uint64_t off = 0; off < total; off += buf.size()) {
    auto n = c.pread(f->fd, buf, static_cast<int64_t>(off));
    if (!n || *n != buf.size()) return make_error(Errc::kRemote, "pread 1 MiB");
  }
  res.bulk.push_back(rate("pread-1m", total, t0));
  res.bulk.back().server_cpu_s_per_gib = cpu_per_gib();
  RINGBOX_TRY(c.close_file(f->fd));
  (void)c.unlink("bench-bulk");
  return res;
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
    else if (k == "--also-submitd") {
      std::string v = val();
      auto eq = v.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == v.size()) {
        std::cerr << "ringbox-bench chirp: --also-submitd wants LABEL=PATH, not '" << v << "'\n";
        return 2;
      }
      o.also_submitd.emplace_back(v.substr(0, eq), v.substr(eq + 1));
    } else if (k == "--chirp-server")
      o.chirp_server = val();
    else if (k == "--out")
      o.out = val();
    else if (k == "--dir")
      o.dir = val();
    else if (k == "--json")
      o.json = true;
    else {
      std::cerr
          << "usage: ringbox-bench chirp [--iterations N] [--bulk-mib N] [--submitd PATH]\n"
             "         [--also-submitd LABEL=PATH]... [--chirp-server PATH|none] [--dir DIR]\n"
             "         [--json] [--out FILE]\n";
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

    chirp::Endpoint ep;
    ep.host = "127.0.0.1";
    ep.methods = {"address"};
    // ringbox-submitd, then each --also-submitd (e.g. the build before a change), in turn.
    std::vector<std::pair<std::string, std::string>> submitds = {{"ringbox-submitd", o.submitd}};
    for (const auto& [label, path] : o.also_submitd)
      submitds.emplace_back("ringbox-submitd (" + label + ")", path);
    for (size_t i = 0; i < submitds.size(); ++i) {
      const auto& [name, path] = submitds[i];
      fs::path root = work / ("submitd" + std::to_string(i));
      fs::path port_file = work / ("submitd" + std::to_string(i) + ".port");
      fs::create_directories(root);
      Child sd;
      auto s = spawn(sd,
                     {path, "--root", root.string(), "--port", "0", "--port-file",
                      port_file.string(), "--auth", "address"},
                     (work / "submitd.log").string());
      auto port = s ? wait_port_file(port_file.string()) : Result<uint16_t>(s.error());
      if (!port) {
        log::error(name + " (" + path + "): " + port.error().message());
        return 1;
      }
      ep.port = *port;
      auto r = measure_chirp(name, ep, o, sd.pid);
      if (!r) {
        log::error(name + ": " + r.error().message());
        rc = 1;
      } else {
        paths.push_back(*r);
      }
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
        auto r2 = measure_chirp("cctools-chirp_server", ep, o, -1);
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
