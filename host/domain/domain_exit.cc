#include "host/domain/domain_exit.h"

#include <poll.h>
#include <sys/time.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <vector>

extern "C" {
#include <libxl_event.h>
}

namespace ringbox::host::domain {
namespace {

using Clock = std::chrono::steady_clock;

// Tags our death watch, so the predicate takes only its events off libxl's queue and leaves
// any other waiter's events in place.
constexpr uint64_t kDeathWatchTag = 0x72696e67626f7801ULL;  // "ringbox" 01

struct EventMatch {
  uint32_t domid;
};

int is_our_event(const libxl_event* ev, void* user) {
  const auto* m = static_cast<const EventMatch*>(user);
  return ev->domid == m->domid && ev->for_user == kDeathWatchTag;
}

class DeathWatch {
 public:
  DeathWatch(libxl_ctx* ctx, libxl_evgen_domain_death* gen) : ctx_(ctx), gen_(gen) {}
  DeathWatch(const DeathWatch&) = delete;
  DeathWatch& operator=(const DeathWatch&) = delete;
  ~DeathWatch() {
    if (gen_ != nullptr) libxl_evdisable_domain_death(ctx_, gen_);
  }

 private:
  libxl_ctx* ctx_;
  libxl_evgen_domain_death* gen_;
};

struct EventFree {
  libxl_ctx* ctx;
  void operator()(libxl_event* ev) const { libxl_event_free(ctx, ev); }
};

timeval now_tv() {
  timeval tv{};
  ::gettimeofday(&tv, nullptr);  // libxl's timeouts are in wall-clock time
  return tv;
}

}  // namespace

const char* exit_reason_name(ExitReason r) {
  switch (r) {
    case ExitReason::kPoweroff:
      return "poweroff";
    case ExitReason::kReboot:
      return "reboot";
    case ExitReason::kCrash:
      return "crash";
    case ExitReason::kWatchdog:
      return "watchdog";
    case ExitReason::kSuspend:
      return "suspend";
    case ExitReason::kSoftReset:
      return "soft-reset";
    case ExitReason::kUnknown:
      return "unknown-shutdown";
    case ExitReason::kDestroyed:
      return "destroyed";
  }
  return "unknown";
}

ExitReason exit_reason_from_shutdown_code(int code) {
  switch (code) {
    case LIBXL_SHUTDOWN_REASON_POWEROFF:
      return ExitReason::kPoweroff;
    case LIBXL_SHUTDOWN_REASON_REBOOT:
      return ExitReason::kReboot;
    case LIBXL_SHUTDOWN_REASON_SUSPEND:
      return ExitReason::kSuspend;
    case LIBXL_SHUTDOWN_REASON_CRASH:
      return ExitReason::kCrash;
    case LIBXL_SHUTDOWN_REASON_WATCHDOG:
      return ExitReason::kWatchdog;
    case LIBXL_SHUTDOWN_REASON_SOFT_RESET:
      return ExitReason::kSoftReset;
    default:
      return ExitReason::kUnknown;
  }
}

Result<ExitReason> wait_for_domain_exit(const LibxlContext& lctx, uint32_t domid, int timeout_ms,
                                        int cancel_fd) {
  libxl_ctx* ctx = lctx.get();
  const std::string what = "domain " + std::to_string(domid);
  libxl_evgen_domain_death* gen = nullptr;
  int rc = libxl_evenable_domain_death(ctx, domid, kDeathWatchTag, &gen);
  if (rc != 0)
    return make_error(Errc::kSystem, "watch " + what +
                                         " for shutdown: libxl_evenable_domain_death failed: " +
                                         libxl_rc_name(rc));
  DeathWatch watch(ctx, gen);
  EventMatch match{domid};
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
  // Slot 0 is ours (the cancel descriptor); libxl fills the rest.
  std::vector<pollfd> fds(16);
  for (;;) {
    libxl_event* raw = nullptr;
    rc = libxl_event_check(ctx, &raw, LIBXL_EVENTMASK_ALL, is_our_event, &match);
    if (rc == 0) {
      std::unique_ptr<libxl_event, EventFree> ev(raw, EventFree{ctx});
      if (ev->type == LIBXL_EVENT_TYPE_DOMAIN_SHUTDOWN)
        return exit_reason_from_shutdown_code(ev->u.domain_shutdown.shutdown_reason);
      if (ev->type == LIBXL_EVENT_TYPE_DOMAIN_DEATH) return ExitReason::kDestroyed;
      continue;  // another kind of event for this domain: not what we wait for
    }
    if (rc != ERROR_NOT_READY)
      return make_error(Errc::kSystem, "wait for " + what + " to exit: libxl_event_check failed: " +
                                           libxl_rc_name(rc));

    int poll_ms = -1;
    if (timeout_ms >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0)
        return make_error(Errc::kTimeout,
                          what + " did not shut down within " + std::to_string(timeout_ms) + " ms");
      poll_ms = static_cast<int>(left.count());
    }
    int nfds = static_cast<int>(fds.size()) - 1;
    rc = libxl_osevent_beforepoll(ctx, &nfds, fds.data() + 1, &poll_ms, now_tv());
    if (rc == ERROR_BUFFERFULL) {
      fds.resize(static_cast<size_t>(nfds) + 1);  // libxl said how many it needs
      continue;
    }
    if (rc != 0)
      return make_error(Errc::kSystem, "wait for " + what + ": libxl_osevent_beforepoll failed: " +
                                           libxl_rc_name(rc));
    fds[0] = pollfd{cancel_fd, POLLIN, 0};  // poll() ignores a negative fd
    for (int i = 1; i <= nfds; ++i) fds[i].revents = 0;
    int n = ::poll(fds.data(), static_cast<nfds_t>(nfds) + 1, poll_ms);
    if (n < 0) {
      if (errno != EINTR) return sys_error("poll while waiting for " + what);
      for (auto& p : fds) p.revents = 0;  // undefined after EINTR; libxl may still time out
    }
    libxl_osevent_afterpoll(ctx, nfds, fds.data() + 1, now_tv());
    if (cancel_fd >= 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0)
      return make_error(Errc::kCancelled, "waiting for " + what + " to exit was cancelled");
  }
}

}  // namespace ringbox::host::domain
