#include "shared/transport/xen/backend_monitor.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <limits>

#include "shared/transport/xen/handshake_keys.h"
#include "shared/util/log.h"

namespace ringbox::transport::xen {
namespace {
// After a failed look (a xenstore hiccup, a transaction that kept conflicting), look again after
// this long: soon enough for a waiting backend, slow enough not to flood the log.
constexpr int kRetryDelayMs = 1000;
constexpr uint32_t kConnected = static_cast<uint32_t>(proto::XenbusState::kConnected);
}  // namespace

Result<std::unique_ptr<BackendMonitor>> BackendMonitor::start(std::string fe_dir,
                                                              std::string be_dir) {
  auto xs = XsHandle::open();
  if (!xs) return std::move(xs.error());
  auto watch = XsWatch::add(*xs, be_dir, "ringbox-backend");
  if (!watch) return std::move(watch.error());
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop) return sys_error("create eventfd to stop the backend monitor");
  return std::unique_ptr<BackendMonitor>(new BackendMonitor(
      std::move(fe_dir), std::move(be_dir), std::move(*xs), std::move(*watch), std::move(stop)));
}

BackendMonitor::BackendMonitor(std::string fe_dir, std::string be_dir, XsHandle xs, XsWatch watch,
                               UniqueFd stop)
    : fe_dir_(std::move(fe_dir)),
      be_dir_(std::move(be_dir)),
      xs_(std::move(xs)),
      watch_(std::move(watch)),
      stop_(std::move(stop)),
      thread_([this] { run(); }) {}

BackendMonitor::~BackendMonitor() {
  uint64_t one = 1;
  if (::write(stop_.get(), &one, sizeof(one)) != sizeof(one))
    log::error("cannot stop the xen backend monitor thread; waiting for it anyway");
  thread_.join();
}

void BackendMonitor::set_handler(RingChannel::RestartHandler handler) {
  std::lock_guard lk(handler_mu_);
  handler_ = std::move(handler);
}

Result<uint32_t> BackendMonitor::wait_first_backend(int timeout_ms) {
  std::unique_lock lk(first_mu_);
  bool got = first_cv_.wait_for(lk, std::chrono::milliseconds(timeout_ms),
                                [&] { return acked_.load() != 0; });
  if (!got)
    return make_error(Errc::kTimeout,
                      "no ringbox-host attached to this guest within " +
                          std::to_string(timeout_ms) + " ms (" + be_dir_ +
                          " never said Connected): start `ringbox-host serve --transport xen "
                          "--domid <this domain>` in dom0");
  return acked_.load();
}

void BackendMonitor::run() {
  pollfd p[2] = {{xs_.watch_fd(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
  int timeout_ms = -1;  // a failed look is retried after a delay, not on the next watch event
  for (;;) {
    int r = ::poll(p, 2, timeout_ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      log::error("xen backend monitor: poll failed; backend restarts will go unnoticed");
      return;
    }
    if (p[1].revents != 0) return;
    if (r > 0) {
      if (auto d = xs_.drain_watch_events(); !d)
        log::warn("xen backend monitor: " + d.error().message());
    }
    if (auto l = look(); !l) {
      log::warn("xen backend monitor: " + l.error().message() + " (retrying)");
      timeout_ms = kRetryDelayMs;
    } else {
      timeout_ms = -1;
    }
  }
}

Result<void> BackendMonitor::look() {
  auto state = xs_.read(be_dir_ + "/" + kKeyState);
  if (!state) return std::move(state.error());
  auto gen_raw = xs_.read(be_dir_ + "/" + kKeyGeneration);
  if (!gen_raw) return std::move(gen_raw.error());
  if (!*state || !*gen_raw) {
    connected_.store(false, std::memory_order_release);
    return ok();
  }
  auto st = parse_decimal(**state, 0, std::numeric_limits<uint32_t>::max(), "backend state");
  if (!st) return std::move(st.error());
  if (*st != kConnected) {
    if (connected_.exchange(false))
      log::info("xen: the backend left Connected (state " + **state + ")");
    return ok();
  }
  auto gen =
      parse_decimal(**gen_raw, 1, std::numeric_limits<uint32_t>::max(), "backend generation");
  if (!gen) return std::move(gen.error());
  uint32_t g = static_cast<uint32_t>(*gen);
  if (g == acked_.load()) {
    connected_.store(true, std::memory_order_release);
    return ok();
  }
  bool replayed = false;
  {
    std::lock_guard lk(handler_mu_);
    if (handler_) {
      auto r = handler_();
      if (!r)
        return Error{
            r.error().code, r.error().sys_errno,
            "reset the ring for backend generation " + std::to_string(g) + ": " + r.error().what};
      replayed = true;
    }
  }
  auto acked = xs_.transact(
      "acknowledge backend generation " + std::to_string(g),
      [&](xs_transaction_t t) -> Result<void> {
        RINGBOX_TRY(xs_.write(fe_dir_ + "/" + kKeyConnectedGeneration, std::to_string(g), t));
        return xs_.write(fe_dir_ + "/" + kKeyState, std::to_string(kConnected), t);
      });
  if (!acked) return std::move(acked.error());
  uint32_t previous = acked_.exchange(g);
  connected_.store(true, std::memory_order_release);
  if (previous == 0) {
    log::info("xen: backend generation " + std::to_string(g) + " attached");
  } else {
    log::info("xen: backend restarted: generation " + std::to_string(previous) + " -> " +
              std::to_string(g) + (replayed ? "" : " (no client yet: nothing to replay)"));
  }
  { std::lock_guard lk(first_mu_); }
  first_cv_.notify_all();
  return ok();
}

}  // namespace ringbox::transport::xen
