// ringbox-bench: latency and throughput of the ring against the network path, side by side in
// one run. `ring` starts its own servers (a local-ring host process and a TCP host process on
// loopback); `client` measures against a host that is already running (used inside the nested
// Xen machine for xen-ring vs tcp over a vif).
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <memory>

#include "guest/bench/chirp_bench.h"
#include "guest/bench/measure.h"
#include "guest/bench/randread.h"
#include "guest/bench/report.h"
#include "guest/connect.h"
#include "guest/kmod.h"
#include "shared/rpc/ring_client.h"
#include "shared/rpc/ring_server.h"
#include "shared/transport/local/local_channel.h"
#include "shared/transport/tcp/stream_rpc.h"
#include "shared/transport/tcp/tcp_socket.h"
#include "shared/transport/xen/handshake_keys.h"
#include "shared/util/log.h"

namespace po = boost::program_options;
using namespace ringbox;

namespace {

struct Params {
  uint64_t iterations = 20000;
  uint64_t warmup = 2000;
  uint64_t bulk_mib = 512;
  uint64_t bulk_message = 1 << 20;
  int spin_us = 50;
  ring::Geometry geometry{8, 2048};  // 8 MiB data area: a 1 MiB message fits (limit = area / 4)
  bool json = false;
  std::string out;
};

class SessionHandler final : public rpc::Handler {
 public:
  rpc::Reply handle(const rpc::Request& r) override { return rpc::handle_session_opcode(r); }
};

Result<bench::PathResult> measure_path(const std::string& name, rpc::Client& c, const Params& p) {
  if ((c.features() & proto::kFeatureBulk) == 0)
    return make_error(Errc::kProtocol,
                      "the host did not grant the bulk opcodes (kFeatureBulk): start it with "
                      "`ringbox-host serve --bench`");
  bench::PathResult res;
  res.path = name;
  RINGBOX_TRY(bench::verify_bulk(c, std::min<uint64_t>(p.bulk_message, c.max_payload()), 4));
  for (uint32_t bytes : {64u, 4096u}) {
    auto l = bench::measure_rtt(c, bytes, p.iterations, p.warmup);
    if (!l) return std::move(l.error());
    res.rtt.push_back(*l);
  }
  for (bool to_host : {true, false}) {
    auto t = bench::measure_bulk(c, to_host, p.bulk_message, p.bulk_mib << 20);
    if (!t) return std::move(t.error());
    res.bulk.push_back(*t);
  }
  return res;
}

int emit(const bench::Report& r, const Params& p) {
  std::string json = bench::to_json(r);
  if (!p.out.empty()) {
    FILE* f = std::fopen(p.out.c_str(), "w");
    bool written = f != nullptr && std::fputs(json.c_str(), f) >= 0;
    if (f != nullptr && std::fclose(f) != 0) written = false;  // closed even when fputs failed
    if (!written) {
      log::error("write results to " + p.out + " failed");
      return 1;
    }
  }
  if (p.json)
    std::fputs(json.c_str(), stdout);
  else
    std::fputs(bench::to_table(r).c_str(), stdout);
  return 0;
}

// Forks a host process that serves one connection with the session handler. The child closes
// its copy of guest_end (the parent's end of the socket pair): holding it, the host would never
// see the socket hang up when the benchmark dies.
pid_t spawn_ring_host(UniqueFd sock, UniqueFd& guest_end, int spin_us) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  guest_end.reset();
  auto ch = transport::local_accept(std::move(sock));
  if (!ch) _exit(1);
  SessionHandler h;
  auto s = rpc::RingServer::create(
      std::move(*ch), h, {.spin_us = spin_us, .workers = 0, .features = proto::kFeatureBulk});
  if (!s) _exit(1);
  _exit((*s)->serve() ? 0 : 1);
}

pid_t spawn_tcp_host(UniqueFd listener) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  auto c = transport::tcp_accept(listener.get(), 10000);
  if (!c) _exit(1);
  SessionHandler h;
  _exit(transport::serve_stream(c->get(), h, {.features = proto::kFeatureBulk}) ? 0 : 1);
}

int cmd_ring(const Params& p) {
  bench::Report report;
  report.benchmark = "ring-vs-tcp-loopback";
  report.config = "ring order " + std::to_string(p.geometry.ring_order) + ", " +
                  std::to_string(p.geometry.data_pages) + " data pages, spin " +
                  std::to_string(p.spin_us) + " us, " + std::to_string(p.iterations) +
                  " round trips per size, " + std::to_string(p.bulk_mib) + " MiB bulk in " +
                  std::to_string(p.bulk_message >> 10) + " KiB messages";
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 1;
  UniqueFd guest_end(sv[0]);
  // The UniqueFd owns sv[1]: it closes the parent's copy when spawn_ring_host returns.
  pid_t ring_host = spawn_ring_host(UniqueFd(sv[1]), guest_end, p.spin_us);
  {
    auto ch = transport::local_connect(std::move(guest_end), p.geometry);
    if (!ch) {
      log::error("local ring: " + ch.error().message());
      return 1;
    }
    auto client = rpc::RingClient::create(std::move(*ch), {p.spin_us});
    if (!client) return 1;
    if (auto v = rpc::negotiate_version(**client, proto::kFeatureBulk); !v) {
      log::error("local ring: " + v.error().message());
      return 1;
    }
    auto res = measure_path("local-ring", **client, p);
    if (!res) {
      log::error("local ring: " + res.error().message());
      return 1;
    }
    report.paths.push_back(*res);
  }
  ::waitpid(ring_host, nullptr, 0);

  auto listener = transport::tcp_listen({"127.0.0.1", 0});
  if (!listener) {
    log::error(listener.error().message());
    return 1;
  }
  auto port = transport::tcp_local_port(listener->get());
  if (!port) return 1;
  pid_t tcp_host = spawn_tcp_host(std::move(*listener));
  {
    auto fd = transport::tcp_connect({"127.0.0.1", *port});
    if (!fd) {
      log::error(fd.error().message());
      return 1;
    }
    transport::StreamClient client(std::move(*fd));
    if (auto v = rpc::negotiate_version(client, proto::kFeatureBulk); !v) {
      log::error("tcp loopback: " + v.error().message());
      return 1;
    }
    auto res = measure_path("tcp-loopback", client, p);
    if (!res) {
      log::error("tcp loopback: " + res.error().message());
      return 1;
    }
    report.paths.push_back(*res);
  }
  ::waitpid(tcp_host, nullptr, 0);
  return emit(report, p);
}

int cmd_client(const Params& p, const std::vector<std::string>& targets) {
  bench::Report report;
  report.benchmark = "paths-against-running-host";
  report.config = std::to_string(p.iterations) + " round trips per size, " +
                  std::to_string(p.bulk_mib) + " MiB bulk";
  for (const auto& t : targets) {
    // LABEL=TRANSPORT:ADDRESS, e.g. xen-ring=xen: or tcp-vif=tcp:10.0.0.1:7000
    auto eq = t.find('='), colon = t.find(':', eq == std::string::npos ? 0 : eq);
    if (eq == std::string::npos || colon == std::string::npos) {
      log::error("target '" + t + "' is not LABEL=TRANSPORT:ADDRESS");
      return 2;
    }
    guest::ConnectConfig cfg;
    auto transport = parse_transport(t.substr(eq + 1, colon - eq - 1));
    if (!transport) {
      log::error("target '" + t + "': the transport is local, tcp or xen");
      return 2;
    }
    cfg.transport = *transport;
    cfg.address = t.substr(colon + 1);
    cfg.geometry = p.geometry;
    cfg.spin_us = p.spin_us;
    cfg.features = proto::kFeatureBulk;  // measure_path checks the host granted it
    if (cfg.transport == Transport::kXen) {
      // As the agent does: Debian's Xen drivers are modules nothing autoloads, and this
      // geometry may grant more pages than xen-gntalloc's default limit.
      size_t region = cfg.geometry.total_pages();
      auto loaded = guest::load_modules(
          guest::kDefaultModuleDir,
          guest::xen_frontend_modules(region + transport::xen::dir_pages_for(region)));
      if (!loaded) {
        log::error(t + ": prepare the xen transport: " + loaded.error().message());
        return 1;
      }
    }
    auto client = guest::connect_to_host(cfg);
    if (!client) {
      log::error(t + ": " + client.error().message());
      return 1;
    }
    auto res = measure_path(t.substr(0, eq), **client, p);
    if (!res) {
      log::error(t + ": " + res.error().message());
      return 1;
    }
    report.paths.push_back(*res);
  }
  return emit(report, p);
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("ringbox-bench");
  // chirp has its own options (servers to start, no ring geometry).
  if (argc >= 2 && std::string(argv[1]) == "chirp") return bench::run_chirp_bench(argc, argv);
  // randread runs as a job inside a view, with its own tiny argument list.
  if (argc >= 2 && std::string(argv[1]) == "randread") {
    if (argc < 4) {
      std::cerr << "usage: ringbox-bench randread FILE COUNT [BLOCK [direct]]\n";
      return 2;
    }
    return bench::run_randread(argv[2], std::stoull(argv[3]),
                               argc > 4 ? std::stoull(argv[4]) : 4096,
                               argc > 5 && std::string(argv[5]) == "direct");
  }
  Params p;
  std::string cmd;
  std::vector<std::string> targets;
  po::options_description desc(
      "usage: ringbox-bench ring|client [options]\n"
      "       ringbox-bench randread FILE COUNT [BLOCK [direct]]\n"
      "       ringbox-bench chirp [--iterations N] [--bulk-mib N] [--json] [--out FILE]\n"
      "  ring      local ring vs TCP loopback, servers started by the benchmark\n"
      "  client    measure each --target against an already running ringbox-host\n"
      "  chirp     Chirp per-call latency and streaming: ringbox-submitd vs cctools chirp_server,\n"
      "            next to a raw TCP echo (servers started by the benchmark)\n"
      "  randread  COUNT random preads of BLOCK bytes from FILE, one JSON line (run it as a job)\n"
      "options");
  desc.add_options()("help,h", "show this help")("json", po::bool_switch(&p.json),
                                                 "print JSON instead of a table")(
      "out", po::value(&p.out), "also write the JSON to this file")(
      "iterations", po::value(&p.iterations)->default_value(p.iterations),
      "timed round trips per payload size")("warmup", po::value(&p.warmup)->default_value(p.warmup),
                                            "untimed round trips first")(
      "bulk-mib", po::value(&p.bulk_mib)->default_value(p.bulk_mib),
      "MiB moved per bulk direction")(
      "bulk-message-kib", po::value<uint64_t>()->default_value(1024), "bytes per bulk call, KiB")(
      "spin-us", po::value(&p.spin_us)->default_value(p.spin_us),
      "busy-poll before sleeping, both ends")(
      "ring-order", po::value(&p.geometry.ring_order)->default_value(p.geometry.ring_order),
      "log2 ring slots")("data-pages",
                         po::value(&p.geometry.data_pages)->default_value(p.geometry.data_pages),
                         "data area pages")("target", po::value(&targets)->composing(),
                                            "client: LABEL=TRANSPORT:ADDRESS (repeatable)")(
      "command", po::value(&cmd), "ring | client");
  po::positional_options_description pos;
  pos.add("command", 1);
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(desc).positional(pos).run(), vm);
    po::notify(vm);
    if (vm.count("help") || cmd.empty()) {
      std::cout << desc << "\n";
      return vm.count("help") ? 0 : 2;
    }
    p.bulk_message = vm["bulk-message-kib"].as<uint64_t>() * 1024;
  } catch (const po::error& e) {
    std::cerr << "ringbox-bench: " << e.what() << " (see --help)\n";
    return 2;
  }
  if (p.iterations == 0) {
    std::cerr << "ringbox-bench: --iterations must be at least 1 (see --help)\n";
    return 2;
  }
  if (auto g = ring::validate_geometry(p.geometry.ring_order, p.geometry.data_pages); !g) {
    log::error(g.error().message());
    return 2;
  }
  if (cmd == "ring") return cmd_ring(p);
  if (cmd == "client") return cmd_client(p, targets);
  std::cerr << "ringbox-bench: unknown command '" << cmd << "'\n" << desc << "\n";
  return 2;
}
