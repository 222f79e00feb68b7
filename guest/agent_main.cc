#include "guest/agent_main.h"

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <vector>

#include "guest/connect.h"
#include "shared/util/log.h"

namespace po = boost::program_options;

namespace ringbox::guest {
namespace {

// --ping N: the first-version service check: N echo round trips with a checked payload.
int run_ping(rpc::Client& client, int count) {
  std::vector<std::byte> in(64), out(64);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) {
    for (size_t j = 0; j < in.size(); ++j) in[j] = static_cast<std::byte>(i + j);
    rpc::Call c;
    c.opcode = proto::Opcode::kPing;
    c.in = in;
    c.out = out;
    auto r = client.call(c);
    if (!r) {
      log::error("ping " + std::to_string(i) + ": " + r.error().message());
      return 1;
    }
    if (!r->ok() || r->out_len != in.size() || out != in) {
      log::error("ping " + std::to_string(i) + ": echo did not match");
      return 1;
    }
  }
  double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  std::printf("ringbox-agent: %d pings ok, %.2f us per round trip\n", count, us / count);
  return 0;
}

}  // namespace

int agent_main(int argc, char** argv) {
  log::set_program("ringbox-agent");
  ConnectConfig cfg;
  int ping = 0;
  po::options_description desc("ringbox-agent: the guest side of ringbox");
  desc.add_options()("help,h", "show this help")(
      "transport", po::value(&cfg.transport)->default_value("local"), "local | tcp | xen")(
      "connect", po::value(&cfg.address), "local: socket path; tcp: HOST:PORT")(
      "ring-order", po::value(&cfg.geometry.ring_order)->default_value(proto::kDefaultRingOrder),
      "log2 of the number of ring slots")(
      "data-pages", po::value(&cfg.geometry.data_pages)->default_value(proto::kDefaultDataPages),
      "4 KiB pages in the shared data area")(
      "spin-us", po::value(&cfg.spin_us)->default_value(50),
      "busy-poll this long for a response before sleeping")(
      "ping", po::value(&ping)->default_value(0), "do N echo round trips, report, exit");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help")) {
      std::cout << desc << "\n";
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "ringbox-agent: " << e.what() << " (see --help)\n";
    return 2;
  }
  auto g = ring::validate_geometry(cfg.geometry.ring_order, cfg.geometry.data_pages);
  if (!g) {
    log::error(g.error().message());
    return 2;
  }
  auto client = connect_to_host(cfg);
  if (!client) {
    log::error("connect to host over " + cfg.transport + ": " + client.error().message());
    return 1;
  }
  if (ping > 0) return run_ping(**client, ping);
  log::info("connected; nothing to do (no --ping and no job support yet)");
  return 0;
}

}  // namespace ringbox::guest
