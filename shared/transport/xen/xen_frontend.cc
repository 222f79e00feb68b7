// The guest's half of the Xen transport: xen_connect() and the channel it returns.
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>

#include "shared/ring/frontend_ring.h"
#include "shared/ring/shared_memory.h"
#include "shared/transport/xen/backend_monitor.h"
#include "shared/transport/xen/evtchn_doorbell.h"
#include "shared/transport/xen/gntshr.h"
#include "shared/transport/xen/handshake_keys.h"
#include "shared/transport/xen/xen_channel.h"
#include "shared/transport/xen/xenstore.h"
#include "shared/util/log.h"

namespace ringbox::transport {
namespace {

using namespace xen;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kDom0 = 0;
// Domain ids from DOMID_FIRST_RESERVED (0x7ff0) up are special (DOMID_SELF, ...), never a guest.
constexpr uint64_t kMaxGuestDomid = 0x7fef;
constexpr auto kStateInitialising = static_cast<uint32_t>(proto::XenbusState::kInitialising);
constexpr auto kStateInitialised = static_cast<uint32_t>(proto::XenbusState::kInitialised);
constexpr auto kStateClosed = static_cast<uint32_t>(proto::XenbusState::kClosed);

// From the guest's side the backend is there while its live byte is set (the kernel clears it
// when ringbox-host dies) and its state key says Connected. A backend that is gone gets
// reconnect_timeout_ms to be replaced before the channel gives up; during a vacate (the guest
// is being saved and restored) the clock does not run.
class FrontendPeerCheck final : public PeerCheck {
 public:
  FrontendPeerCheck(const proto::ControlPage* control, const BackendMonitor& monitor,
                    int reconnect_timeout_ms)
      : control_(control), monitor_(monitor), grace_(reconnect_timeout_ms) {}
  int watch_fd() const override { return -1; }  // the monitor thread watches xenstore
  Result<void> check(bool) override {
    bool alive = monitor_.vacating() ||
                 (ring::load_byte(control_->backend_live) != 0 && monitor_.backend_connected());
    if (alive) {
      gone_since_.reset();
      return ok();
    }
    auto now = Clock::now();
    if (!gone_since_) gone_since_ = now;
    if (now - *gone_since_ > grace_)
      return make_error(Errc::kPeerGone,
                        "no ringbox-host has served this guest for " +
                            std::to_string(grace_.count()) +
                            " ms: the backend in dom0 died or closed and none re-attached");
    return ok();
  }

 private:
  const proto::ControlPage* control_;  // same address for the channel's life (vacate keeps it)
  const BackendMonitor& monitor_;
  std::chrono::milliseconds grace_;
  std::optional<Clock::time_point> gone_since_;  // only the single waiting thread touches it
};

// The event channel's doorbell, replaceable while threads use it: a vacate closes the port
// before the suspend and a fresh handle and port replace it after the restore (the Debian
// kernel BUGs on touching a pre-suspend binding afterwards). wait() blocks at most kSliceMs at
// a time so that a swap never waits long for it.
class SwappableDoorbell final : public Doorbell {
 public:
  static constexpr int kSliceMs = 100;
  SwappableDoorbell(EvtchnHandle& h, evtchn_port_t port, PeerCheck& check)
      : check_(check), inner_(std::make_unique<EvtchnDoorbell>(h, port, check)) {}
  Result<void> ring() override {
    std::shared_lock lk(mu_);
    return inner_ ? inner_->ring() : ok();  // no port: the replay after the restore kicks
  }
  Result<bool> wait(int timeout_ms) override {
    int slice = timeout_ms < 0 ? kSliceMs : std::min(timeout_ms, kSliceMs);
    {
      std::shared_lock lk(mu_);
      if (inner_) return inner_->wait(slice);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(slice));
    RINGBOX_TRY(check_.check(false));
    return false;
  }
  // Takes the doorbell down (nullptr) or puts a new port behind it; waits for running calls.
  void replace(std::unique_ptr<EvtchnDoorbell> inner) {
    std::unique_lock lk(mu_);
    inner_ = std::move(inner);
  }

 private:
  PeerCheck& check_;
  std::shared_mutex mu_;
  std::unique_ptr<EvtchnDoorbell> inner_;
};

Result<void> publish_keys(XsHandle& xs, const std::string& fe_dir, const ring::Geometry& g,
                          const SharedPages& dir, evtchn_port_t port);

class XenFrontendChannel final : public RingChannel {
 public:
  XenFrontendChannel(uint32_t self, std::string fe_dir, XsHandle xs, GntshrHandle gntshr,
                     EvtchnHandle evtchn, BoundPort port, SharedPages region, SharedPages dir,
                     ring::Geometry g, std::unique_ptr<BackendMonitor> monitor,
                     const XenConnectOptions& opts)
      : self_(self),
        fe_dir_(std::move(fe_dir)),
        xs_(std::move(xs)),
        gntshr_(std::move(gntshr)),
        evtchn_(std::move(evtchn)),
        port_(std::move(port)),
        region_(std::move(region)),
        region_bytes_(region_.bytes()),
        dir_(std::move(dir)),
        geometry_(g),
        opts_(opts),
        monitor_(std::move(monitor)),
        check_(reinterpret_cast<const proto::ControlPage*>(region_bytes_.data()), *monitor_,
               opts.reconnect_timeout_ms),
        doorbell_(evtchn_, port_.port(), check_) {
    monitor_->set_vacate_hooks({[this](const Deadline& by) { return quiesce(by); },
                                [this](uint32_t domid) { return rebuild(domid); },
                                [this] {
                                  if (opts_.on_resume) opts_.on_resume();
                                }});
  }

  ~XenFrontendChannel() override {
    monitor_.reset();  // no acknowledgement may race the Closed below
    // Best effort: a backend watching us learns at once that this frontend is finished (the
    // unmap notification on frontend_live tells it too, when the pages go).
    if (auto r = xs_.write(fe_dir_ + "/" + proto::kKeyState, std::to_string(kStateClosed)); !r)
      log::warn("xen: cannot mark the frontend Closed: " + r.error().message());
    if (placeholder_ != nullptr) ::munmap(placeholder_, region_bytes_.size());
  }

  std::span<std::byte> region() override { return region_bytes_; }
  const ring::Geometry& geometry() const override { return geometry_; }
  Doorbell& doorbell() override { return doorbell_; }
  std::string describe() const override {
    return "xen frontend of domain " + std::to_string(self_) + " (backend generation " +
           std::to_string(monitor_->generation()) + ")";
  }
  void set_restart_handler(RestartHandler handler) override {
    monitor_->set_handler(std::move(handler));
  }
  void set_region_guard(RegionGuard guard) override {
    std::lock_guard lk(guard_mu_);
    guard_ = std::move(guard);
  }
  BackendMonitor& monitor() { return *monitor_; }
  evtchn_port_t event_port() const { return port_.port(); }

 private:
  Result<void> with_region_still(int drain_ms, const RegionChange& change) {
    std::lock_guard lk(guard_mu_);
    if (guard_) return guard_(drain_ms, change);
    return change();  // no client: nobody else touches the region
  }

  // Before the suspend: the job stops, its requests drain until `by` (a task blocked in FUSE
  // makes the kernel's freeze, and with it the save, fail: research notes, section 3), the
  // region's grants end (its bytes stay at the same address, private), the port closes, the
  // directory goes.
  Result<void> quiesce(const Deadline& by) {
    if (opts_.on_quiesce) RINGBOX_TRY(opts_.on_quiesce(by));
    RINGBOX_TRY(with_region_still(by.remaining_ms(), [this]() -> Result<void> {
      auto p = region_.replace_with_private_copy();
      if (!p) return std::move(p.error());
      placeholder_ = *p;
      return ok();
    }));
    doorbell_.replace(nullptr);
    port_.reset();
    evtchn_.reset();
    dir_.reset();
    // The keys named the grants and the port just ended: a backend that attaches in place
    // after a cancelled save must wait for rebuild()'s, not map stale refs that a new grant
    // may have reused (seen: "grant ref 0 for more than one region page"). Initialising says
    // "being set up again" (xenbus.h), which also ends the old connection on the host's side.
    auto withdrawn =
        xs_.transact("withdraw the ringbox frontend keys", [&](xs_transaction_t t) -> Result<void> {
          RINGBOX_TRY(xs_.remove(fe_dir_ + "/" + proto::kKeyDirRefs, t));
          RINGBOX_TRY(xs_.remove(fe_dir_ + "/" + proto::kKeyEventChannel, t));
          return xs_.write(fe_dir_ + "/" + proto::kKeyState, std::to_string(kStateInitialising), t);
        });
    // Not fatal: the grants have ended already, and a host that re-attaches to the stale keys
    // fails its handshake (the job re-runs) where failing here would lose the save too.
    if (!withdrawn) log::warn("xen: " + withdrawn.error().message());
    log::info("xen: ring grants ended and event channel closed for the save");
    return ok();
  }

  // After the restore (or a cancelled save): a fresh port on a fresh handle, fresh grants for
  // the region at the same address, fresh keys. The next backend generation replays.
  Result<void> rebuild(uint32_t domid) {
    // Idempotent: after a failed step the monitor calls it again, and what was done stays.
    if (!evtchn_) {
      auto evtchn = EvtchnHandle::open();
      if (!evtchn) return std::move(evtchn.error());
      evtchn_ = std::move(*evtchn);
    }
    if (!port_) {
      auto port = BoundPort::bind_unbound(evtchn_, kDom0);
      if (!port) return std::move(port.error());
      port_ = std::move(*port);
    }
    const auto region_pages = static_cast<uint32_t>(geometry_.total_pages());
    if (placeholder_ != nullptr) {
      RINGBOX_TRY(with_region_still(0, [&]() -> Result<void> {
        auto region = SharedPages::share_with_notify(
            gntshr_, kDom0, region_pages,
            {static_cast<uint32_t>(offsetof(proto::ControlPage, frontend_live)), port_.port()},
            placeholder_);
        if (!region) return std::move(region.error());
        region_ = std::move(*region);
        placeholder_ = nullptr;
        return ok();
      }));
    }
    if (!dir_) {
      auto dir =
          SharedPages::share(gntshr_, kDom0, static_cast<uint32_t>(dir_pages_for(region_pages)),
                             /*writable=*/false);
      if (!dir) return std::move(dir.error());
      pack_region_refs(dir->bytes(), region_.refs());
      dir_ = std::move(*dir);
    }
    doorbell_.replace(std::make_unique<EvtchnDoorbell>(evtchn_, port_.port(), check_));
    self_ = domid;
    fe_dir_ = frontend_dir(domid);
    RINGBOX_TRY(publish_keys(xs_, fe_dir_, geometry_, dir_, port_.port()));
    log::info("xen: republished the ring as domain " + std::to_string(domid) +
              " on event channel " + std::to_string(port_.port()) + "; waiting for ringbox-host");
    return ok();
  }

  uint32_t self_;
  std::string fe_dir_;
  XsHandle xs_;
  GntshrHandle gntshr_;
  EvtchnHandle evtchn_;
  BoundPort port_;
  SharedPages region_;                 // unshared after dir_: the unmap notification fires last
  std::span<std::byte> region_bytes_;  // fixed for the channel's life
  void* placeholder_ = nullptr;        // the region's private stand-in while vacated
  SharedPages dir_;
  ring::Geometry geometry_;
  XenConnectOptions opts_;
  std::mutex guard_mu_;
  RegionGuard guard_;
  std::unique_ptr<BackendMonitor> monitor_;
  FrontendPeerCheck check_;
  SwappableDoorbell doorbell_;
};

Result<uint32_t> own_domid(XsHandle& xs) {
  // A relative path is relative to our own /local/domain/<id>; the toolstack wrote "domid".
  auto raw = xs.read("domid");
  if (!raw) return std::move(raw.error());
  if (!*raw)
    return make_error(Errc::kNotFound,
                      "xenstore has no 'domid' for this domain: is this a Xen guest created by "
                      "the toolstack (xl / libxl)?");
  auto id = parse_decimal(**raw, 0, kMaxGuestDomid, "this domain's id");
  if (!id) return std::move(id.error());
  if (*id == 0)
    return make_error(Errc::kInvalidArgument,
                      "this is dom0: the xen transport's frontend runs in a guest domain");
  return static_cast<uint32_t>(*id);
}

Result<void> publish_keys(XsHandle& xs, const std::string& fe_dir, const ring::Geometry& g,
                          const SharedPages& dir, evtchn_port_t port) {
  const std::string refs = format_dir_refs(dir.refs());
  return xs.transact("publish the ringbox frontend keys", [&](xs_transaction_t t) -> Result<void> {
    // Whatever an earlier agent left (a stale connected-generation) goes first.
    RINGBOX_TRY(xs.remove(fe_dir, t));
    RINGBOX_TRY(
        xs.write(fe_dir + "/" + proto::kKeyProtocolVersion, std::to_string(proto::kVersionMax), t));
    RINGBOX_TRY(xs.write(fe_dir + "/" + proto::kKeyRingOrder, std::to_string(g.ring_order), t));
    RINGBOX_TRY(xs.write(fe_dir + "/" + proto::kKeyDataPages, std::to_string(g.data_pages), t));
    RINGBOX_TRY(xs.write(fe_dir + "/" + proto::kKeyDirRefs, refs, t));
    RINGBOX_TRY(xs.write(fe_dir + "/" + proto::kKeyEventChannel, std::to_string(port), t));
    return xs.write(fe_dir + "/" + proto::kKeyState, std::to_string(kStateInitialised), t);
  });
}

}  // namespace

Result<std::unique_ptr<RingChannel>> xen_connect(const ring::Geometry& g,
                                                 const XenConnectOptions& opts) {
  auto xs = XsHandle::open();
  if (!xs) return std::move(xs.error());
  auto self = own_domid(*xs);
  if (!self) return std::move(self.error());
  const std::string fe_dir = frontend_dir(*self);

  auto gntshr = GntshrHandle::open();
  if (!gntshr) return std::move(gntshr.error());
  auto evtchn = EvtchnHandle::open();
  if (!evtchn) return std::move(evtchn.error());
  auto port = BoundPort::bind_unbound(*evtchn, kDom0);
  if (!port) return std::move(port.error());

  const auto region_pages = static_cast<uint32_t>(g.total_pages());
  const auto dir_pages = static_cast<uint32_t>(dir_pages_for(region_pages));
  // One contiguous allocation for the whole region; the unmap notification on frontend_live
  // (control page, page 0) tells dom0 when this process dies.
  auto region = SharedPages::share_with_notify(
      *gntshr, kDom0, region_pages,
      {static_cast<uint32_t>(offsetof(proto::ControlPage, frontend_live)), port->port()});
  if (!region)
    return Error{region.error().code, region.error().sys_errno,
                 "ring region of " + std::to_string(region_pages) + " pages (plus " +
                     std::to_string(dir_pages) + " directory pages): " + region.error().what};
  // The control page must be valid before any backend can see a key: a backend attaches as
  // soon as it reads Initialised.
  auto ring = ring::FrontendRing::create(region->bytes(), g);
  if (!ring) return std::move(ring.error());
  // The directory is read-only for dom0: only we decide which pages make up the region.
  auto dir = SharedPages::share(*gntshr, kDom0, dir_pages, /*writable=*/false);
  if (!dir) return std::move(dir.error());
  pack_region_refs(dir->bytes(), region->refs());

  RINGBOX_TRY(publish_keys(*xs, fe_dir, g, *dir, port->port()));
  auto monitor = BackendMonitor::start(fe_dir, backend_dir(*self), *self);
  if (!monitor) return std::move(monitor.error());

  auto channel = std::make_unique<XenFrontendChannel>(
      *self, fe_dir, std::move(*xs), std::move(*gntshr), std::move(*evtchn), std::move(*port),
      std::move(*region), std::move(*dir), g, std::move(*monitor), opts);
  log::info("xen: published " + std::to_string(region_pages) + " region pages, " +
            std::to_string(dir_pages) + " directory page(s), event channel " +
            std::to_string(channel->event_port()) + " under " + fe_dir +
            "; waiting for ringbox-host");
  auto gen = channel->monitor().wait_first_backend(opts.connect_timeout_ms);
  if (!gen) return std::move(gen.error());  // the channel's destructor marks us Closed
  return std::unique_ptr<RingChannel>(std::move(channel));
}

}  // namespace ringbox::transport
