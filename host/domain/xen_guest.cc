#include "host/domain/xen_guest.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>

#include "shared/transport/xen/xen_channel.h"
#include "shared/util/log.h"

namespace ringbox::host::domain {

std::string describe_exit(ExitReason reason, bool killed) {
  switch (reason) {
    case ExitReason::kPoweroff:
      return "powered off";
    case ExitReason::kReboot:
      return "asked to reboot (destroyed instead)";
    case ExitReason::kCrash:
      return "crashed";
    case ExitReason::kWatchdog:
      return "was stopped by the Xen watchdog";
    case ExitReason::kSuspend:
      return "was suspended (xl save?) and destroyed";
    case ExitReason::kSoftReset:
      return "asked for a soft reset (destroyed instead)";
    case ExitReason::kUnknown:
      return "shut down for an unknown reason";
    case ExitReason::kDestroyed:
      return killed ? "killed by ringbox-host" : "was destroyed by somebody else (xl destroy?)";
  }
  return "ended";
}

XenGuest::XenGuest(Key, XenDomain domain, LibxlContext monitor_ctx, UniqueFd cancel)
    : domain_(std::move(domain)), monitor_ctx_(std::move(monitor_ctx)), cancel_(std::move(cancel)) {
  monitor_ = std::thread([this] { monitor(); });
}

Result<std::unique_ptr<XenGuest>> XenGuest::launch(const DomainConfig& cfg,
                                                   const CreateOptions& opts, int restore_fd) {
  auto domain =
      restore_fd < 0 ? XenDomain::create(cfg, opts) : XenDomain::restore(cfg, restore_fd, opts);
  if (!domain) return std::move(domain.error());
  auto ctx = LibxlContext::open(xtl_level_for(log::level()));
  if (!ctx) return std::move(ctx.error());  // the domain is destroyed on the way out
  UniqueFd cancel(::eventfd(0, EFD_CLOEXEC));
  if (!cancel) return sys_error("create the eventfd that stops the domain monitor");
  return std::make_unique<XenGuest>(Key{}, std::move(*domain), std::move(*ctx), std::move(cancel));
}

XenGuest::~XenGuest() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(cancel_.get(), &one, sizeof one);
  if (monitor_.joinable()) monitor_.join();
  // domain_ (declared first, destroyed last) destroys the domain if it is still ours.
}

void XenGuest::monitor() {
  auto r = wait_for_domain_exit(monitor_ctx_, domain_.domid(), -1, cancel_.get());
  for (;;) {
    if (!r || *r != ExitReason::kSuspend) break;
    std::unique_lock<std::mutex> lock(mu_);
    if (!saving_) break;
    // Our own save suspended it: the saver destroys it once the stream is written, or resumes
    // it when the save failed, and then it is watched again.
    ended_cv_.wait(lock, [this] { return !saving_; });
    if (!domain_) {
      exit_ = ExitReason::kSuspend;
      monitor_done_ = true;
      ended_cv_.notify_all();
      return;
    }
    lock.unlock();
    r = wait_for_domain_exit(monitor_ctx_, domain_.domid(), -1, cancel_.get());
  }
  if (r) {
    bool killed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      killed = killed_;
    }
    log::info("domain " + std::to_string(domain_.domid()) + " (" + domain_.name() + ") " +
              describe_exit(*r, killed));
    // What on_poweroff/on_crash = destroy ask for. It also ends a pending xen_accept() and a
    // serving RingServer: both watch the domain's xenstore directory.
    auto d = domain_.destroy();
    if (!d) log::error(d.error().message());
  } else if (r.error().code != Errc::kCancelled) {
    log::error("watching domain " + std::to_string(domain_.domid()) + ": " + r.error().message());
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (r) exit_ = *r;
  monitor_done_ = true;
  ended_cv_.notify_all();
}

Result<std::unique_ptr<transport::RingChannel>> XenGuest::connect(int timeout_ms) {
  auto ch = transport::xen_accept(domain_.domid(), timeout_ms);
  if (ch) return ch;
  auto reason = exit_reason();
  std::string why = reason ? "; the domain " + describe_exit(*reason, killed()) + " first" : "";
  return make_error(ch.error().code, "no agent attached from domain " +
                                         std::to_string(domain_.domid()) + " (" + domain_.name() +
                                         "): " + ch.error().message() + why +
                                         "; its console log is " + domain_.console_log_hint());
}

Result<void> XenGuest::save(int fd) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (exit_ || monitor_done_) return make_error(Errc::kPeerGone, "the domain has already ended");
    saving_ = true;
  }
  auto r = domain_.save(fd);
  std::lock_guard<std::mutex> lock(mu_);
  saving_ = false;
  ended_cv_.notify_all();
  return r;
}

void XenGuest::kill() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (exit_) return;
    killed_ = true;
  }
  auto r = domain_.destroy();
  if (!r) log::error(r.error().message());
}

std::string XenGuest::wait(int timeout_ms) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    auto done = [this] { return monitor_done_; };
    if (timeout_ms < 0) {
      ended_cv_.wait(lock, done);
    } else if (!ended_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), done)) {
      lock.unlock();
      log::warn("domain " + std::to_string(domain_.domid()) + " (" + domain_.name() +
                ") did not shut down within " + std::to_string(timeout_ms) + " ms: destroying it");
      kill();
      lock.lock();
      // The monitor sees the death within moments; do not hang if it cannot.
      ended_cv_.wait_for(lock, std::chrono::seconds(5), done);
    }
    if (exit_) return describe_exit(*exit_, killed_);
  }
  return "ended, how is unknown (the domain monitor failed; see above)";
}

std::optional<ExitReason> XenGuest::exit_reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return exit_;
}

bool XenGuest::killed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return killed_;
}

}  // namespace ringbox::host::domain
