#include "guest/agent_main.h"

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <vector>

#include "guest/connect.h"
#include "guest/fd_limit.h"
#include "guest/job/job_runner.h"
#include "guest/kmod.h"
#include "guest/vacate_hooks.h"
#include "shared/rpc/handler.h"
#include "shared/transport/xen/handshake_keys.h"
#include "shared/util/log.h"

namespace po = boost::program_options;

namespace ringbox::guest {
namespace {

// --ping N: the first-version service check: N echo round trips with a checked payload.
// report_every > 0 prints progress (how the nested tests see that a run is under way).
int run_ping(rpc::Client& client, int count, int report_every) {
  std::vector<std::byte> in(64), out(64);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) {
    if (report_every > 0 && i > 0 && i % report_every == 0) {
      std::printf("ringbox-agent: ping progress %d/%d\n", i, count);
      std::fflush(stdout);
    }
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
  double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  std::printf("ringbox-agent: %d pings ok, %.2f us per round trip\n", count, us / count);
  std::fflush(stdout);
  return 0;
}

double mib_per_s(uint64_t bytes, std::chrono::steady_clock::time_point t0) {
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s > 0 ? static_cast<double>(bytes) / (1024.0 * 1024.0) / s : 0.0;
}

// --bulk BYTES: BYTES from the host (kBulkRead) and BYTES to it (kBulkWrite), in the largest
// messages the transport allows. Each chunk is checked both ways: the host's FNV-1a of what it
// sent or received against ours, and the received bytes against the expected pattern.
int run_bulk(rpc::Client& client, uint64_t bytes) {
  const uint64_t chunk = client.max_payload();
  std::vector<std::byte> buf(chunk), expect(chunk);
  auto t0 = std::chrono::steady_clock::now();
  for (uint64_t off = 0, seed = 1; off < bytes; off += chunk, ++seed) {
    auto n = static_cast<size_t>(std::min(chunk, bytes - off));
    rpc::Call c;
    c.opcode = proto::Opcode::kBulkRead;
    c.arg = {n, seed, 0, 0};
    c.out = std::span(buf).first(n);
    auto r = client.call(c);
    if (!r) {
      log::error("bulk read at byte " + std::to_string(off) + ": " + r.error().message());
      return 1;
    }
    rpc::fill_pattern(std::span(expect).first(n), seed);
    if (!r->ok() || r->out_len != n || r->val[0] != rpc::fnv1a64(c.out) ||
        !std::equal(c.out.begin(), c.out.end(), expect.begin())) {
      log::error("bulk read at byte " + std::to_string(off) + ": data or checksum mismatch");
      return 1;
    }
  }
  double read_rate = mib_per_s(bytes, t0);
  t0 = std::chrono::steady_clock::now();
  for (uint64_t off = 0, seed = 1; off < bytes; off += chunk, ++seed) {
    auto n = static_cast<size_t>(std::min(chunk, bytes - off));
    auto data = std::span(buf).first(n);
    rpc::fill_pattern(data, seed ^ 0x5a5a);
    rpc::Call c;
    c.opcode = proto::Opcode::kBulkWrite;
    c.in = data;
    auto r = client.call(c);
    if (!r) {
      log::error("bulk write at byte " + std::to_string(off) + ": " + r.error().message());
      return 1;
    }
    if (!r->ok() || r->val[0] != rpc::fnv1a64(data)) {
      log::error("bulk write at byte " + std::to_string(off) + ": the host's checksum differs");
      return 1;
    }
  }
  double write_rate = mib_per_s(bytes, t0);
  std::printf(
      "ringbox-agent: bulk ok: %llu bytes host->guest at %.2f MiB/s, guest->host at "
      "%.2f MiB/s, %llu-byte messages\n",
      static_cast<unsigned long long>(bytes), read_rate, write_rate,
      static_cast<unsigned long long>(chunk));
  std::fflush(stdout);
  return 0;
}

}  // namespace

int agent_main(int argc, char** argv) {
  log::set_program("ringbox-agent");
  raise_fd_limit();
  ConnectConfig cfg;
  int ping = 0;
  int report_every = 0;
  uint64_t bulk = 0;
  std::string module_dir = kDefaultModuleDir;
  bool no_load_modules = false;
  bool job = false;
  job::JobOptions job_opts;
  uint64_t cache_max_mb = 0;
  po::options_description desc("ringbox-agent: the guest side of ringbox");
  desc.add_options()("help,h", "show this help")(
      "transport", po::value(&cfg.transport)->default_value(Transport::kLocal),
      "local | tcp | xen")("connect", po::value(&cfg.address),
                           "local: socket path; tcp: HOST:PORT")(
      "ring-order", po::value(&cfg.geometry.ring_order)->default_value(proto::kDefaultRingOrder),
      "log2 of the number of ring slots")(
      "data-pages", po::value(&cfg.geometry.data_pages)->default_value(proto::kDefaultDataPages),
      "4 KiB pages in the shared data area")("spin-us", po::value(&cfg.spin_us)->default_value(50),
                                             "busy-poll this long for a response before sleeping")(
      "ping", po::value(&ping)->default_value(0), "do N echo round trips, report, exit")(
      "bulk", po::value(&bulk)->default_value(0),
      "move BYTES from the host and BYTES to it, checksummed, report, exit (after --ping)")(
      "report-every", po::value(&report_every)->default_value(0),
      "with --ping: print progress every N round trips")(
      "connect-timeout-ms", po::value(&cfg.connect_timeout_ms)->default_value(30000),
      "xen: wait this long for ringbox-host to attach")(
      "reconnect-timeout-ms", po::value(&cfg.reconnect_timeout_ms)->default_value(60000),
      "xen: wait this long for a new ringbox-host after the current one is gone")(
      "module-dir", po::value(&module_dir)->default_value(kDefaultModuleDir),
      "xen: where the Xen driver modules (<name>.ko) are")(
      "no-load-modules", po::bool_switch(&no_load_modules),
      "xen: do not load kernel modules (the drivers are already there)")(
      "job", po::bool_switch(&job),
      "get the job from the host, run it in its file view, report its exit (docs/jobs.md)")(
      "work-dir", po::value(&job_opts.work_dir)->default_value(job_opts.work_dir),
      "with --job: where the view, the lazy-file cache and eager inputs live (tmpfs)")(
      "cache-max-mb", po::value(&cache_max_mb)->default_value(0),
      "with --job: lazy-file cache limit in MiB (0 = the free space of --work-dir)")(
      "kill-grace-ms", po::value(&job_opts.kill_grace_ms)->default_value(job_opts.kill_grace_ms),
      "with --job: SIGTERM to SIGKILL delay when the host shuts the job down");
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
  if (cfg.transport == Transport::kXen && !no_load_modules) {
    size_t region = g->total_pages();
    size_t granted = region + transport::xen::dir_pages_for(region);
    auto loaded = load_modules(module_dir, xen_frontend_modules(granted));
    if (!loaded) {
      log::error("prepare the xen transport: " + loaded.error().message());
      return 1;
    }
  }
  if (bulk > 0) cfg.features |= proto::kFeatureBulk;  // a host started with --bench grants it
  cfg.on_quiesce = stop_job_for_vacate;
  cfg.on_resume = continue_job_after_vacate;
  auto client = connect_to_host(cfg);
  if (!client) {
    log::error("connect to host over " + transport_name(cfg.transport) + ": " +
               client.error().message());
    return 1;
  }
  if (job) {
    if (cache_max_mb > 0) job_opts.cache_max_bytes = cache_max_mb << 20;
    return job::run_job(**client, job_opts);
  }
  if (ping > 0) {
    if (int rc = run_ping(**client, ping, report_every); rc != 0) return rc;
  }
  if (bulk > 0) {
    if (((*client)->features() & proto::kFeatureBulk) == 0) {
      log::error(
          "--bulk: the host did not grant the bulk opcodes; start it with "
          "`ringbox-host serve --bench`");
      return 1;
    }
    return run_bulk(**client, bulk);
  }
  if (ping > 0) return 0;
  log::info("connected; nothing to do (no --ping, --bulk or --job)");
  return 0;
}

}  // namespace ringbox::guest
