#include "shared/transport/xen/backend_monitor.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <limits>
#include <optional>

#include "shared/transport/xen/handshake_keys.h"
#include "shared/util/file_io.h"
#include "shared/util/log.h"

namespace ringbox::transport::xen {
namespace {
// After a failed look (a xenstore hiccup, a transaction that kept conflicting), look again after
// this long: soon enough for a waiting backend, slow enough not to flood the log.
constexpr int kRetryDelayMs = 1000;
constexpr uint32_t kConnected = static_cast<uint32_t>(proto::XenbusState::kConnected);
}  // namespace

// What this guest needs in memory, from /proc/meminfo: what is in use (MemTotal - MemAvailable:
// tmpfs, anonymous memory, the kernel) plus a margin for the resume. nullopt if unreadable.
std::optional<uint64_t> memory_need_kib() {
  constexpr uint64_t kMarginKib = 32 * 1024;
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t value = 0, total = 0, available = 0;
  std::string unit;
  while (in >> key >> value) {
    std::getline(in, unit);
    if (key == "MemTotal:") total = value;
    if (key == "MemAvailable:") available = value;
  }
  if (total == 0 || available > total) return std::nullopt;
  return total - available + kMarginKib;
}

// Relative to /local/domain/<our id>: still ours after a restore into a new domain id.
constexpr const char* kRelativeSelfDir = proto::kXenFrontendDirLeaf + 1;  // "data/ringbox"

Result<std::unique_ptr<BackendMonitor>> BackendMonitor::start(std::string fe_dir,
                                                              std::string be_dir, uint32_t self) {
  auto xs = XsHandle::open();
  if (!xs) return std::move(xs.error());
  auto watch = XsWatch::add(*xs, be_dir, "ringbox-backend");
  if (!watch) return std::move(watch.error());
  auto self_watch = XsWatch::add(*xs, kRelativeSelfDir, "ringbox-self");
  if (!self_watch) return std::move(self_watch.error());
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop) return sys_error("create eventfd to stop the backend monitor");
  return std::unique_ptr<BackendMonitor>(
      new BackendMonitor(std::move(fe_dir), std::move(be_dir), std::move(*xs), std::move(*watch),
                         std::move(*self_watch), std::move(stop), self));
}

BackendMonitor::BackendMonitor(std::string fe_dir, std::string be_dir, XsHandle xs, XsWatch watch,
                               XsWatch self_watch, UniqueFd stop, uint32_t self)
    : fe_dir_(std::move(fe_dir)),
      be_dir_(std::move(be_dir)),
      xs_(std::move(xs)),
      watch_(std::move(watch)),
      self_watch_(std::move(self_watch)),
      stop_(std::move(stop)),
      self_(self),
      thread_([this] { run(); }) {}

void BackendMonitor::set_vacate_hooks(VacateHooks hooks) {
  std::lock_guard lk(handler_mu_);
  vacate_ = std::move(hooks);
}

// A vacate request from the backend: quiesce once per nonce, then acknowledge it.
Result<void> BackendMonitor::look_vacate() {
  if (!pending_refusal_.empty()) {  // written once the refusal's first write failed
    RINGBOX_TRY(xs_.write(fe_dir_ + "/" + proto::kKeyVacateRefused, pending_refusal_));
    pending_refusal_.clear();
  }
  auto raw = xs_.read(be_dir_ + "/" + proto::kKeyVacate);
  if (!raw) return std::move(raw.error());
  if (!*raw) return ok();
  auto nonce = parse_vacate_nonce(**raw);
  if (!nonce) return std::move(nonce.error());
  if (*nonce == handled_nonce_) return ok();
  handled_nonce_ = *nonce;
  auto wait_raw = xs_.read(be_dir_ + "/" + proto::kKeyVacateWaitMs);
  const uint64_t wait_ms = vacate_wait_ms(wait_raw ? *wait_raw : std::nullopt);
  const Deadline by(static_cast<int>(
      wait_ms > proto::kVacateAckMarginMs ? wait_ms - proto::kVacateAckMarginMs : 0));
  log::info("xen: the host asks this guest to get ready for a save (vacate " + *nonce +
            ", within " + std::to_string(wait_ms) + " ms)");
  vacating_.store(true, std::memory_order_release);
  connected_.store(false, std::memory_order_release);
  {
    std::lock_guard lk(handler_mu_);
    if (!vacate_.quiesce)
      return make_error(Errc::kInvalidArgument, "this channel cannot be vacated (no hooks)");
    auto q = vacate_.quiesce(by);
    if (!q && q.error().code == Errc::kCancelled) {
      log::warn("xen: refusing vacate " + *nonce + ": " + q.error().message());
      vacating_.store(false, std::memory_order_release);
      connected_.store(true, std::memory_order_release);
      auto w = xs_.write(fe_dir_ + "/" + proto::kKeyVacateRefused, *nonce);
      if (!w) pending_refusal_ = *nonce;  // the nonce counts as handled: answer on the next look
      return w;
    }
    RINGBOX_TRY(q);
  }
  quiesced_ = true;
  if (auto need = memory_need_kib())
    RINGBOX_TRY(xs_.write(fe_dir_ + "/" + proto::kKeyVacateNeedKib, std::to_string(*need)));
  RINGBOX_TRY(xs_.write(fe_dir_ + "/" + proto::kKeyVacateAck, *nonce));
  log::info("xen: quiesced and acknowledged vacate " + *nonce + "; waiting for the save");
  return ok();
}

// After the ack: a restore (our own keys gone, maybe a new domain id) or a cancelled save (the
// backend withdrew its request) both end in a rebuild; anything else is the wait for the save.
Result<void> BackendMonitor::look_quiesced() {
  auto id_raw = xs_.read("domid");
  if (!id_raw) return std::move(id_raw.error());
  if (!*id_raw) return ok();  // mid-restore: look again on the next event
  auto id = parse_decimal(**id_raw, 1, 0x7fef, "this domain's id");
  if (!id) return std::move(id.error());
  auto ack = xs_.read(std::string(kRelativeSelfDir) + "/" + proto::kKeyVacateAck);
  if (!ack) return std::move(ack.error());
  const uint32_t now = static_cast<uint32_t>(*id);
  bool restored = !*ack || now != self_;
  if (!restored) {
    auto req = xs_.read(be_dir_ + "/" + proto::kKeyVacate);
    // The backend directory is gone while the host saves (its server unmapped and left):
    // xenstored then answers EACCES (the parent is dom0's). Wait for the next event.
    if (!req && req.error().sys_errno == EACCES) return ok();
    if (!req) return std::move(req.error());
    if (*req && **req == handled_nonce_) return ok();  // the save is under way
    log::info("xen: the host withdrew vacate " + handled_nonce_ + ": reconnecting in place");
  } else {
    log::info("xen: restored (domain " + std::to_string(self_) + " -> " + std::to_string(now) +
              "): sharing a fresh ring");
  }
  {
    std::lock_guard lk(handler_mu_);
    RINGBOX_TRY(vacate_.rebuild(now));
  }
  if (now != self_) {
    self_ = now;
    fe_dir_ = frontend_dir(now);
    be_dir_ = backend_dir(now);
    watch_.release();  // the old domain's path is no longer ours to unwatch
    auto w = XsWatch::add(xs_, be_dir_, "ringbox-backend");
    if (!w) return std::move(w.error());
    watch_ = std::move(*w);
  }
  quiesced_ = false;
  acked_.store(0, std::memory_order_release);  // the next generation replays, whatever its number
  return ok();
}

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
    int r = poll_retry(p, 2, timeout_ms);
    if (r < 0) {
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
  if (quiesced_) {
    RINGBOX_TRY(look_quiesced());
    if (quiesced_) return ok();
  } else {
    RINGBOX_TRY(look_vacate());
    if (quiesced_) return ok();
  }
  auto state = xs_.read(be_dir_ + "/" + proto::kKeyState);
  if (!state) return std::move(state.error());
  auto gen_raw = xs_.read(be_dir_ + "/" + proto::kKeyGeneration);
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
        RINGBOX_TRY(
            xs_.write(fe_dir_ + "/" + proto::kKeyConnectedGeneration, std::to_string(g), t));
        return xs_.write(fe_dir_ + "/" + proto::kKeyState, std::to_string(kConnected), t);
      });
  if (!acked) return std::move(acked.error());
  uint32_t previous = acked_.exchange(g);
  connected_.store(true, std::memory_order_release);
  if (vacating_.load() && replayed) {
    log::info("xen: backend generation " + std::to_string(g) + " attached after the vacate");
    std::lock_guard lk(handler_mu_);
    if (vacate_.resume) vacate_.resume();
    vacating_.store(false, std::memory_order_release);
  } else if (previous == 0) {
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
