#include "host/host_main.h"

#include <boost/program_options.hpp>
#include <iostream>

#include "host/host_handler.h"
#include "host/serve.h"
#include "shared/util/log.h"

namespace po = boost::program_options;

namespace ringbox::host {
namespace {

int cmd_serve(const std::vector<std::string>& args) {
  ServeConfig cfg;
  po::options_description desc("ringbox-host serve: serve one agent, then exit");
  desc.add_options()("help,h", "show this help")(
      "transport", po::value(&cfg.transport)->default_value("local"), "local | tcp")(
      "listen", po::value(&cfg.address)->required(),
      "local: Unix socket path; tcp: HOST:PORT to listen on")(
      "spin-us", po::value(&cfg.server.spin_us)->default_value(50),
      "busy-poll this long before sleeping on the doorbell")(
      "workers", po::value(&cfg.server.workers)->default_value(0),
      "handler threads (0 = serve inline, in order)")(
      "accept-timeout-ms", po::value(&cfg.accept_timeout_ms)->default_value(30000),
      "give up if no agent connects in time");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).run(), vm);
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  po::notify(vm);
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
  } catch (const po::error& e) {
    std::cerr << "ringbox-host " << cmd << ": " << e.what() << " (see --help)\n";
    return 2;
  }
  std::cerr << "ringbox-host: unknown command '" << cmd << "'\n";
  usage();
  return 2;
}

}  // namespace ringbox::host
