#include "host/submitd/submitd_main.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <iostream>
#include <thread>

#include "host/submitd/server.h"
#include "shared/chirp/endpoint.h"
#include "shared/util/file_io.h"
#include "shared/util/log.h"

namespace ringbox::submitd {
namespace {

namespace po = boost::program_options;

constexpr const char* kUsage =
    "Usage: ringbox-submitd --root DIR [options]\n"
    "\n"
    "A Chirp file server for the submit machine: exports DIR (every path confined beneath it)\n"
    "to ringbox-host's chirp back end, cctools' chirp and HTCondor Chirp clients.\n"
    "Auth: cctools' negotiated 'address' and 'unix' methods reach --root; an HTCondor-style\n"
    "cookie ('cookie <c>', from a .chirp.config file) reaches the directory it was given for.\n"
    "See docs/ringbox-submitd.md.\n\nOptions";

Result<std::string> read_cookie(const std::string& file) {
  auto ep = chirp::read_chirp_config(file);
  if (!ep) return std::move(ep.error());
  return ep->cookie;
}

// Writes "<host> <port> <cookie>\n" mode 0600 (the starter writes 0700; either keeps the
// cookie from other users).
Result<void> write_chirp_config(const std::string& file, const std::string& host, uint16_t port,
                                const std::string& cookie) {
  return replace_file(file, host + " " + std::to_string(port) + " " + cookie + "\n", 0600);
}

Result<void> write_port_file(const std::string& file, uint16_t port) {
  return replace_file(file, std::to_string(port) + "\n", 0644);
}

}  // namespace

int submitd_main(int argc, char** argv) {
  log::set_program("ringbox-submitd");
  std::string root, listen, auth, cookie_file, write_config, port_file, challenge_dir;
  std::vector<std::string> jobs, addresses;
  std::vector<unsigned> uids;
  int port = 9094, max_clients = 64, max_open = 64, idle_s = 60, request_s = 10;
  int64_t min_rate = 1 << 20;
  bool verbose = false;
  po::options_description desc(kUsage);
  desc.add_options()("help,h", "show this help")(
      "root,r", po::value(&root),
      "directory exported to address/unix-authenticated clients "
      "(and to the --cookie-file cookie)")("listen,l",
                                           po::value(&listen)->default_value("127.0.0.1"),
                                           "address to listen on "
                                           "(0.0.0.0 or :: for every interface)")(
      "port,p", po::value(&port)->default_value(9094), "TCP port (0 = any free port)")(
      "port-file", po::value(&port_file), "write the port here once listening")(
      "auth,a", po::value(&auth)->default_value("cookie,address,unix"),
      "auth methods offered, comma-separated: cookie, address, unix")(
      "cookie-file", po::value(&cookie_file),
      "HTCondor .chirp.config-format file "
      "('<host> <port> <cookie>'); its cookie grants --root")(
      "write-chirp-config", po::value(&write_config),
      "make a random cookie for --root and "
      "write '<listen> <port> <cookie>' here (mode 0600), for clients to read")(
      "job", po::value(&jobs),
      "NAME=DIR:COOKIEFILE: another tenant; the cookie in "
      "COOKIEFILE (.chirp.config format) reaches DIR and nothing else (repeatable)")(
      "allow-address", po::value(&addresses),
      "peer IP that 'address' auth accepts "
      "(repeatable; default loopback only)")("allow-uid", po::value(&uids),
                                             "uid that 'unix' auth accepts (repeatable; default: "
                                             "the server's own)")(
      "challenge-dir", po::value(&challenge_dir)->default_value("/tmp"),
      "where 'unix' auth challenge files are made (must be shared with clients)")(
      "max-clients", po::value(&max_clients)->default_value(64), "clients served at once")(
      "max-open-files", po::value(&max_open)->default_value(64), "open files per client")(
      "idle-timeout", po::value(&idle_s)->default_value(60), "seconds a client may stay idle")(
      "request-timeout", po::value(&request_s)->default_value(10),
      "seconds for the rest of a request line once it started, and the base of payload "
      "deadlines")("min-rate", po::value(&min_rate)->default_value(1 << 20),
                   "bytes/s a payload must keep up (slower clients are cut off)")(
      "verbose,v", po::bool_switch(&verbose), "log every client");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "ringbox-submitd: " << e.what() << "\n(see ringbox-submitd --help)\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  if (verbose) log::set_level(log::Level::kDebug);

  ServerConfig cfg;
  cfg.listen_host = listen;
  if (port < 0 || port > 65535) {
    std::cerr << "ringbox-submitd: --port must be 0..65535\n";
    return 2;
  }
  cfg.port = static_cast<uint16_t>(port);
  cfg.max_clients = std::max(1, max_clients);
  cfg.limits.max_open_files = std::max(1, max_open);
  cfg.timeouts.idle_ms = std::max(1, idle_s) * 1000;
  cfg.timeouts.line_ms = std::max(1, request_s) * 1000;
  cfg.timeouts.io_ms = std::max(1, request_s) * 1000;
  cfg.timeouts.min_rate_bytes_per_s = std::max<int64_t>(1, min_rate);
  cfg.auth.allow_cookie = auth.find("cookie") != std::string::npos;
  cfg.auth.allow_address = auth.find("address") != std::string::npos;
  cfg.auth.allow_unix = auth.find("unix") != std::string::npos;
  cfg.auth.challenge_dir = challenge_dir;
  if (!addresses.empty()) cfg.auth.addresses = addresses;
  for (unsigned u : uids) cfg.auth.uids.push_back(static_cast<uid_t>(u));

  if (root.empty() && jobs.empty()) {
    std::cerr << "ringbox-submitd: nothing to export: give --root DIR and/or --job "
                 "NAME=DIR:COOKIEFILE\n";
    return 2;
  }
  std::string root_cookie;
  if (!root.empty()) {
    auto dir = ConfinedDir::open(root);
    if (!dir) {
      std::cerr << "ringbox-submitd: " << dir.error().message() << "\n";
      return 1;
    }
    if (!cookie_file.empty()) {
      auto c = read_cookie(cookie_file);
      if (!c) {
        std::cerr << "ringbox-submitd: " << c.error().message() << "\n";
        return 1;
      }
      root_cookie = *c;
    } else if (!write_config.empty()) {
      root_cookie = random_cookie();
    }
    cfg.auth.tenants.push_back(
        Tenant{"root", std::make_shared<ConfinedDir>(std::move(*dir)), root_cookie});
    cfg.auth.has_default = true;
  }
  for (const auto& j : jobs) {
    size_t eq = j.find('='), colon = j.rfind(':');
    if (eq == std::string::npos || colon == std::string::npos || colon < eq) {
      std::cerr << "ringbox-submitd: --job '" << j << "' is not NAME=DIR:COOKIEFILE\n";
      return 2;
    }
    auto dir = ConfinedDir::open(j.substr(eq + 1, colon - eq - 1));
    auto c = read_cookie(j.substr(colon + 1));
    if (!dir || !c) {
      std::cerr << "ringbox-submitd: --job " << j << ": "
                << (!dir ? dir.error().message() : c.error().message()) << "\n";
      return 1;
    }
    cfg.auth.tenants.push_back(
        Tenant{j.substr(0, eq), std::make_shared<ConfinedDir>(std::move(*dir)), *c});
  }

  // Signals: SIGPIPE is ignored (a vanished client is an error value, not a death); SIGTERM
  // and SIGINT stop the server from a thread that waits for them.
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t stop_set;
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGTERM);
  sigaddset(&stop_set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_set, nullptr);

  auto server = Server::listen(cfg);
  if (!server) {
    std::cerr << "ringbox-submitd: " << server.error().message() << "\n";
    return 1;
  }
  Server* srv = server->get();
  if (!write_config.empty()) {
    auto w = write_chirp_config(write_config, listen, srv->port(), root_cookie);
    if (!w) {
      std::cerr << "ringbox-submitd: " << w.error().message() << "\n";
      return 1;
    }
  }
  if (!port_file.empty()) {
    auto w = write_port_file(port_file, srv->port());
    if (!w) {
      std::cerr << "ringbox-submitd: " << w.error().message() << "\n";
      return 1;
    }
  }
  log::info("serving " + (root.empty() ? std::string("--job tenants") : root) + " on " + listen +
            ":" + std::to_string(srv->port()));
  std::thread waiter([srv, stop_set] {
    int sig = 0;
    sigwait(&stop_set, &sig);
    log::info(std::string("stopping on ") + strsignal(sig));
    srv->stop();
  });
  srv->run();
  pthread_kill(waiter.native_handle(), SIGTERM);  // wakes the waiter if run() ended otherwise
  waiter.join();
  return 0;
}

}  // namespace ringbox::submitd
