// The reaper process (reaper.h explains why it exists). It opens its own libxl context before
// reporting ready, so that when it has to act it needs nothing that could fail late, then
// blocks on the socket until the owner releases it or disappears.
#include "host/domain/reaper_main.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <csignal>
#include <iostream>
#include <optional>
#include <thread>

#include "host/domain/domain_lookup.h"
#include "host/domain/libxl_context.h"
#include "host/domain/reaper_protocol.h"
#include "host/domain/reaper_socket.h"
#include "shared/util/log.h"

namespace po = boost::program_options;

namespace ringbox::host::domain {
namespace {

// libxl_domain_destroy can fail transiently (xenstored busy); a few tries, then give up loudly.
constexpr int kDestroyAttempts = 5;
constexpr auto kDestroyRetryDelay = std::chrono::milliseconds(500);

struct ReaperArgs {
  std::string uuid;
  std::string name;
  int owner_pid = 0;
  bool verbose = false;
};

std::string owner_text(const ReaperArgs& a) {
  return "ringbox-host (pid " + std::to_string(a.owner_pid) + ")";
}

// Blocks until the owner releases us (true) or goes away (false).
bool wait_for_owner(const ReaperArgs& a, std::optional<uint32_t>& domid) {
  std::string buffer;
  for (;;) {
    auto line = read_line(kReaperFd, buffer, -1);
    if (!line) {
      if (line.error().code == Errc::kTooLarge) {
        log::warn("ignoring an over-long line from " + owner_text(a));
        buffer.clear();
        continue;
      }
      log::error("reading from " + owner_text(a) + ": " + line.error().message() +
                 "; treating the owner as gone");
      return false;
    }
    if (!*line) return false;
    auto msg = reaper_protocol::parse_owner_message(**line);
    if (!msg) {
      log::warn(msg.error().message() + " (ignored)");
      continue;
    }
    if (msg->kind == reaper_protocol::OwnerMessage::Kind::kRelease) return true;
    domid = msg->domid;
  }
}

int reap(const LibxlContext& ctx, const libxl_uuid& uuid, const ReaperArgs& a,
         std::optional<uint32_t> domid) {
  std::string what = "domain " + a.name + (domid ? " (id " + std::to_string(*domid) + ")" : "") +
                     " uuid " + a.uuid;
  for (int attempt = 1;; ++attempt) {
    auto destroyed = destroy_domains_with_uuid(ctx, uuid);
    if (destroyed) {
      if (destroyed->empty()) {
        log::info(owner_text(a) + " is gone; " + what + " no longer exists, nothing to do");
      } else {
        for (uint32_t id : *destroyed) {
          log::warn(owner_text(a) + " went away without releasing " + what + ": destroyed domain " +
                    std::to_string(id));
          remove_backend_dir(id);
        }
      }
      return 0;
    }
    if (attempt == kDestroyAttempts) {
      log::error(owner_text(a) + " is gone, but destroying " + what +
                 " failed: " + destroyed.error().message() + "; destroy it by hand (xl destroy " +
                 (domid ? std::to_string(*domid) : a.name) + ")");
      return 1;
    }
    std::this_thread::sleep_for(kDestroyRetryDelay);
  }
}

}  // namespace

int reaper_main(const std::vector<std::string>& args) {
  ReaperArgs a;
  po::options_description desc("ringbox-host domain-reaper (internal: started by ringbox-host)");
  desc.add_options()("uuid", po::value(&a.uuid)->required(), "UUID of the domain to guard")(
      "name", po::value(&a.name)->default_value("(unnamed)"), "its name, for log lines")(
      "owner-pid", po::value(&a.owner_pid)->default_value(0), "the owner's pid, for log lines")(
      "verbose", po::bool_switch(&a.verbose), "log libxl's debug messages");
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "ringbox-host " << kReaperCommand << ": " << e.what() << "\n";
    return 2;
  }
  log::set_program("ringbox-host reaper");
  if (a.verbose) log::set_level(log::Level::kDebug);
  // Only the owner's release or its death ends us: not a Ctrl-C, a hangup or a kill aimed at
  // the owner's process group (we are in our own session anyway).
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) std::signal(sig, SIG_IGN);
  if (::fcntl(kReaperFd, F_GETFD) < 0) {
    log::error("no owner socket on fd " + std::to_string(kReaperFd) +
               "; this command is started by ringbox-host itself, not by hand");
    return 2;
  }
  auto uuid = uuid_from_string(a.uuid);
  if (!uuid) {
    (void)send_line(kReaperFd, reaper_protocol::format_error(uuid.error().message()));
    return 2;
  }
  auto ctx = LibxlContext::open(xtl_level_for(log::level()));
  if (!ctx) {
    (void)send_line(kReaperFd, reaper_protocol::format_error(ctx.error().message()));
    return 1;
  }
  auto ready = send_line(kReaperFd, reaper_protocol::format_ready(::getpid()));
  if (!ready) {
    // The owner vanished while we started: it may have created the domain meanwhile.
    return reap(*ctx, *uuid, a, std::nullopt);
  }
  std::optional<uint32_t> domid;
  if (wait_for_owner(a, domid)) {
    (void)send_line(kReaperFd, reaper_protocol::format_released());
    return 0;
  }
  return reap(*ctx, *uuid, a, domid);
}

}  // namespace ringbox::host::domain
