#include "host/domain/boot_command.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/program_options.hpp>
#include <cstring>
#include <iostream>
#include <thread>

#include "host/command_options.h"
#include "host/domain/xen_guest.h"
#include "host/host_handler.h"
#include "host/signal_waiter.h"
#include "host/stop_signals.h"
#include "shared/rpc/ring_server.h"
#include "shared/util/file_io.h"
#include "shared/util/log.h"
#include "shared/util/unique_fd.h"

namespace po = boost::program_options;

namespace ringbox::host::domain {
namespace {

constexpr int kUsageStatus = 2;
constexpr int kFailureStatus = 1;

struct BootOptions {
  DomainConfig domain;
  int pin_cpu = -1;
  std::string domid_file;
  bool serve = false;
  bool verbose = false;
  int accept_timeout_s = 60;
  int poweroff_timeout_s = 30;
  int timeout_s = 0;
  rpc::ServerOptions server;
};

// Writes "<domid>\n" to `path` atomically (a reader never sees a half-written id).
Result<void> write_domid_file(const std::string& path, uint32_t domid) {
  return replace_file(path, std::to_string(domid) + "\n", 0644);
}

// Serves the agent; true when it was served to its end without error.
bool serve_agent(XenGuest& guest, const BootOptions& o) {
  auto channel = guest.connect(o.accept_timeout_s * 1000);
  if (!channel) {
    log::error(channel.error().message());
    return false;
  }
  HostHandler handler;
  auto server = rpc::RingServer::create(std::move(*channel), handler, o.server);
  if (!server) {
    log::error("serve the agent of domain " + std::to_string(guest.domid()) + ": " +
               server.error().message());
    return false;
  }
  auto served = (*server)->serve();
  if (!served) {
    log::error("serving the agent of domain " + std::to_string(guest.domid()) + ": " +
               served.error().message());
    return false;
  }
  log::info("the agent of domain " + std::to_string(guest.domid()) + " finished (" +
            std::to_string((*server)->stats().requests) + " requests)");
  return true;
}

// Turns SIGTERM/SIGINT/SIGHUP into an orderly end: the domain is destroyed at once, which also
// ends a pending accept or a running serve (both watch the domain's xenstore directory).
class SignalWatch {
 public:
  explicit SignalWatch(XenGuest& guest) : guest_(guest) {
    thread_ = std::thread([this] { run(); });
  }
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;
  ~SignalWatch() {
    stop_ = true;
    if (waiter_) waiter_->wake();
    thread_.join();
  }
  int signal() const { return signal_; }

 private:
  void run() {
    sigset_t set = stop_signals();
    while (!stop_) {
      int sig = 0;
      if (waiter_) {
        sig = waiter_->wait(-1).signal;
      } else {
        timespec slice{0, 100 * 1000 * 1000};  // no signalfd: poll the pending set instead
        sig = ::sigtimedwait(&set, nullptr, &slice);
      }
      if (sig <= 0 || signal_ != 0) continue;
      signal_ = sig;
      log::warn(std::string("got ") + strsignal(sig) + ": destroying domain " +
                std::to_string(guest_.domid()) + " (" + guest_.domain().name() + ")");
      guest_.kill();
    }
  }

  XenGuest& guest_;
  Result<SignalWaiter> waiter_ = SignalWaiter::open(stop_signals());
  std::atomic<bool> stop_{false};
  std::atomic<int> signal_{0};
  std::thread thread_;
};

int boot(const BootOptions& o) {
  sigset_t sigs = stop_signals();
  ::pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  auto guest = XenGuest::launch(o.domain);
  if (!guest) {
    log::error("boot: " + guest.error().message());
    return kFailureStatus;
  }
  XenGuest& g = **guest;
  const std::string what = "domain " + std::to_string(g.domid()) + " (" + g.domain().name() + ")";
  if (!o.domid_file.empty()) {
    auto w = write_domid_file(o.domid_file, g.domid());
    if (!w) {
      log::error("boot: " + w.error().message());
      return kFailureStatus;  // ~XenGuest destroys the domain
    }
  }
  bool served_ok = true;
  int stopped_by = 0;
  {
    SignalWatch watch(g);
    int wait_ms = o.timeout_s > 0 ? o.timeout_s * 1000 : -1;
    if (o.serve) {
      served_ok = serve_agent(g, o);
      wait_ms = o.poweroff_timeout_s * 1000;
    }
    g.wait(wait_ms);
    stopped_by = watch.signal();
  }
  if (stopped_by != 0) {
    log::error(what + " destroyed on " + strsignal(stopped_by));
    return 128 + stopped_by;
  }
  auto reason = g.exit_reason();
  if (!reason || *reason != ExitReason::kPoweroff) {
    log::error(what + (reason ? " " + describe_exit(*reason, g.killed()) : " ended badly") +
               "; its console log is " + g.domain().console_log_hint());
    return kFailureStatus;
  }
  if (!served_ok) {
    log::error(what + " powered off, but its agent was not served to the end (see above)");
    return kFailureStatus;
  }
  log::info("boot of " + what + " complete: " +
            (o.serve ? "its agent was served, then it powered off" : "it powered off"));
  return 0;
}

}  // namespace

int cmd_boot(const std::vector<std::string>& all_args) {
  // Everything after --agent-args (or a bare --) belongs to the agent, dashes and all.
  auto split = std::find_if(all_args.begin(), all_args.end(),
                            [](const std::string& a) { return a == "--agent-args" || a == "--"; });
  std::vector<std::string> args(all_args.begin(), split);
  BootOptions o;
  if (split != all_args.end()) o.domain.agent_args.assign(split + 1, all_args.end());

  po::options_description desc(
      "ringbox-host boot: create a ringbox guest domain (PV, no NIC, no disk) through libxl,\n"
      "own it until it ends, then destroy it. Agent arguments go last:\n"
      "  ringbox-host boot --kernel K --ramdisk R [options] --agent-args ARG...\n"
      "options");
  desc.add_options()("help,h", "show this help")(
      "kernel", po::value(&o.domain.kernel)->required(),
      "guest kernel: the uncompressed ELF vmlinux (a bzImage works, slowly)")(
      "ramdisk", po::value(&o.domain.ramdisk)->required(), "guest initramfs")(
      "memory-mib", po::value(&o.domain.memory_mib)->default_value(256), "guest memory")(
      "vcpus", po::value(&o.domain.vcpus)->default_value(1), "guest vCPUs")(
      "pin-cpu", po::value(&o.pin_cpu), "pin every vCPU to this physical CPU")(
      "name", po::value(&o.domain.name), "domain name (default ringbox-<pid>-<n>)")(
      "kernel-args", po::value(&o.domain.kernel_args)->default_value(o.domain.kernel_args),
      "guest kernel arguments, before ringbox.args=")("domid-file", po::value(&o.domid_file),
                                                      "write the domain id here once it runs")(
      "serve", po::bool_switch(&o.serve),
      "accept the agent over the Xen transport and serve it until it finishes")(
      "accept-timeout-s", po::value(&o.accept_timeout_s)->default_value(60),
      "--serve: how long the agent may take to attach")(
      "poweroff-timeout-s", po::value(&o.poweroff_timeout_s)->default_value(30),
      "--serve: how long the guest may take to power off after its agent finished")(
      "timeout-s", po::value(&o.timeout_s)->default_value(0),
      "without --serve: destroy the domain if it runs longer (0: no limit)")(
      "spin-us", po::value(&o.server.spin_us)->default_value(50),
      "--serve: busy-poll this long before sleeping on the doorbell")(
      "workers", po::value(&o.server.workers)->default_value(0),
      "--serve: handler threads (0 = serve inline, in order)")(
      "verbose,v", po::bool_switch(&o.verbose), "debug log, libxl's included")(
      "agent-args", "every word after this goes to ringbox-agent (also after a bare --)");
  po::variables_map vm;
  if (auto done = parse_command_options(args, desc, vm)) return *done;
  if (o.verbose) log::set_level(log::Level::kDebug);
  if (vm.count("pin-cpu")) {
    if (o.pin_cpu < 0) {
      std::cerr << "ringbox-host boot: --pin-cpu needs a CPU number >= 0\n";
      return kUsageStatus;
    }
    o.domain.pin_cpu = static_cast<uint32_t>(o.pin_cpu);
  }
  for (int v : {o.accept_timeout_s, o.poweroff_timeout_s, o.timeout_s}) {
    if (v < 0 || v > 24 * 3600) {
      std::cerr << "ringbox-host boot: timeouts are seconds in 0..86400, got " << v << "\n";
      return kUsageStatus;
    }
  }
  auto valid = validate_domain_config(o.domain);
  if (!valid) {
    std::cerr << "ringbox-host boot: " << valid.error().message() << "\n";
    return kUsageStatus;
  }
  return boot(o);
}

}  // namespace ringbox::host::domain
