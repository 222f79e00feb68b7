#include "host/host_main.h"

#include <boost/program_options.hpp>
#include <iostream>

#include "host/command_options.h"
#include "host/condor/wrapper.h"
#include "host/confine/confined_service.h"
#include "host/domain/boot_command.h"
#include "host/domain/reaper_main.h"
#include "host/host_handler.h"
#include "host/run/run_command.h"
#include "host/serve.h"
#include "host/service/daemon.h"
#include "shared/util/log.h"

namespace po = boost::program_options;

namespace ringbox::host {
namespace {

int cmd_serve(const std::vector<std::string>& args) {
  ServeConfig cfg;
  po::options_description desc("ringbox-host serve: serve one agent, then exit");
  desc.add_options()("help,h", "show this help")(
      "transport", po::value(&cfg.transport)->default_value(Transport::kLocal),
      "local | tcp | xen")("listen", po::value(&cfg.address),
                           "local: Unix socket path; tcp: HOST:PORT to listen on")(
      "domid", po::value(&cfg.domid),
      "xen: the guest domain whose agent to serve (attaches again after a host restart)")(
      "spin-us", po::value(&cfg.server.spin_us)->default_value(50),
      "busy-poll this long before sleeping on the doorbell")(
      "workers", po::value(&cfg.server.workers)->default_value(0),
      "handler threads (0 = serve inline, in order)")(
      "accept-timeout-ms", po::value(&cfg.accept_timeout_ms)->default_value(30000),
      "give up if no agent connects in time");
  bool bench = false;
  desc.add_options()("bench", po::bool_switch(&bench),
                     "a benchmarking host: grant the bulk opcodes (kFeatureBulk) to an agent "
                     "that asks");
  po::variables_map vm;
  if (auto done = parse_command_options(args, desc, vm)) return *done;
  if (bench) cfg.server.features = proto::kFeatureBulk;
  if (cfg.transport == Transport::kXen ? !vm.count("domid") : cfg.address.empty()) {
    std::cerr << "ringbox-host serve: "
              << (cfg.transport == Transport::kXen
                      ? "--transport xen needs --domid N"
                      : "--listen is required for --transport " + transport_name(cfg.transport))
              << " (see --help)\n";
    return 2;
  }
  HostHandler handler;
  auto r = serve_one(cfg, handler);
  if (!r) {
    log::error(r.error().message());
    return 1;
  }
  return 0;
}

void usage() {
  std::cout << "usage: ringbox-host COMMAND [options]\n"
               "commands:\n"
               "  serve   serve one agent over a local or TCP transport\n"
               "  run     run one job in a guest, serving its files and output (docs/jobs.md)\n"
               "  boot    create a guest domain through libxl and own it until it ends\n"
               "          (docs/domain-lifecycle.md)\n"
               "  daemon  ringbox's root service for HTCondor's job wrapper (docs/condor.md)\n"
               "  condor  the HTCondor job wrapper, as ringbox-condor (docs/condor.md)\n"
               "run `ringbox-host COMMAND --help` for the options of a command\n";
}

}  // namespace

int host_main(int argc, char** argv) {
  log::set_program("ringbox-host");
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    usage();
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (cmd == "serve") return cmd_serve(args);
    if (cmd == "run") return run::cmd_run(args);
    if (cmd == "boot") return domain::cmd_boot(args);
    if (cmd == "daemon") return service::cmd_daemon(args);
    if (cmd == "condor") return condor::cmd_condor(args);
    // Internal, started by `boot` and `run --transport xen` (host/domain/reaper.h).
    if (cmd == domain::kReaperCommand) return domain::reaper_main(args);
    // Internal, started by `run --confine-user` (host/confine/confined_service.h).
    if (cmd == confine::kConfinedServiceCommand) return confine::confined_service_main(args);
  } catch (const po::error& e) {
    std::cerr << "ringbox-host " << cmd << ": " << e.what() << " (see --help)\n";
    return 2;
  }
  std::cerr << "ringbox-host: unknown command '" << cmd << "'\n";
  usage();
  return 2;
}

}  // namespace ringbox::host
