// dom0's half of the Xen transport: xen_accept() and the channel it returns.
//
// Trust: the guest wrote every frontend key and every byte of the pages it grants. The keys are
// read once, in one transaction, and parsed with bounds (handshake_keys.h); the directory pages
// are copied to private memory and unmapped before any ref in them is used; the region's
// contents are left to shared/ring, which copies before it checks.
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "shared/ring/shared_memory.h"
#include "shared/transport/xen/backend_lock.h"
#include "shared/transport/xen/evtchn_doorbell.h"
#include "shared/transport/xen/gnttab.h"
#include "shared/transport/xen/handshake_keys.h"
#include "shared/transport/xen/xen_channel.h"
#include "shared/transport/xen/xenstore.h"
#include "shared/util/deadline.h"
#include "shared/util/log.h"

namespace ringbox::transport {
namespace {

using namespace xen;
using proto::XenbusState;

std::string state_str(XenbusState s) {
  return std::to_string(static_cast<uint32_t>(s));
}

// The frontend's state key, parsed. nullopt: the node (or the whole directory) is gone.
Result<std::optional<XenbusState>> read_frontend_state(XsHandle& xs, const std::string& fe_dir) {
  auto raw = xs.read(fe_dir + "/" + proto::kKeyState);
  if (!raw) return std::move(raw.error());
  if (!*raw) return std::optional<XenbusState>();
  auto st = parse_state(**raw, "frontend key state");
  if (!st) return std::move(st.error());
  return std::optional<XenbusState>(*st);
}

bool closing(XenbusState s) {
  return s == XenbusState::kClosing || s == XenbusState::kClosed;
}

// From dom0's side the frontend is there while its live byte is set (the kernel clears it when
// the agent dies), and its state key exists and is not Closing/Closed. A frontend that went
// back to Initialising/Initialised has replaced its region: this connection is over too.
//
// Detached (XenAcceptOptions::peer_notice_fd): the xenstore half is another process's, which
// makes `notice_fd` readable when it sees the frontend leave; only the live byte is ours.
class BackendPeerCheck final : public PeerCheck {
 public:
  BackendPeerCheck(XsHandle* xs, int notice_fd, std::string fe_dir, uint32_t domid,
                   const proto::ControlPage* control)
      : xs_(xs),
        notice_fd_(notice_fd),
        fe_dir_(std::move(fe_dir)),
        domid_(domid),
        control_(control) {}
  int watch_fd() const override { return xs_ ? xs_->watch_fd() : notice_fd_; }
  Result<void> check(bool watch_fired) override {
    if (watch_fired && !xs_)
      return make_error(Errc::kPeerGone, "ringbox-host saw the frontend in domain " +
                                             std::to_string(domid_) + " leave or its domain end");
    if (watch_fired) {
      RINGBOX_TRY(xs_->drain_watch_events());
      auto st = read_frontend_state(*xs_, fe_dir_);
      if (!st) return std::move(st.error());
      if (!*st)
        return make_error(Errc::kPeerGone, "domain " + std::to_string(domid_) +
                                               "'s ringbox directory vanished (domain destroyed?)");
      if (**st != XenbusState::kConnected)
        return make_error(Errc::kPeerGone, "the frontend in domain " + std::to_string(domid_) +
                                               " left Connected (state " + state_str(**st) + ")");
    }
    if (ring::load_byte(control_->frontend_live) == 0)
      return make_error(Errc::kPeerGone,
                        "the agent in domain " + std::to_string(domid_) + " died or closed");
    return ok();
  }

 private:
  XsHandle* xs_;  // null when detached
  int notice_fd_;
  std::string fe_dir_;
  uint32_t domid_;
  const proto::ControlPage* control_;
};

// The cleanup of our directory when the channel ends (see ~XenBackendChannel).
void close_backend_dir_with(XsHandle& xs, const std::string& fe_dir, const std::string& be_dir,
                            bool agent_gone) {
  auto st = read_frontend_state(xs, fe_dir);
  Result<void> r = ok();
  if (agent_gone || (st && (!*st || closing(**st))))
    r = xs.remove(be_dir);
  else
    r = xs.write(be_dir + "/" + proto::kKeyState, state_str(XenbusState::kClosed));
  if (!r) log::warn("xen: cannot close " + be_dir + ": " + r.error().message());
}

class XenBackendChannel final : public RingChannel {
 public:
  XenBackendChannel(UniqueFd lock, uint32_t domid, std::string fe_dir, std::string be_dir,
                    std::optional<XsHandle> xs, std::optional<XsWatch> watch, int notice_fd,
                    GnttabHandle gnttab, EvtchnHandle evtchn, BoundPort port, GrantMapping region,
                    GrantMapping notify, ring::Geometry g, uint32_t generation)
      : lock_(std::move(lock)),
        domid_(domid),
        fe_dir_(std::move(fe_dir)),
        be_dir_(std::move(be_dir)),
        xs_(std::move(xs)),
        watch_(std::move(watch)),
        gnttab_(std::move(gnttab)),
        evtchn_(std::move(evtchn)),
        port_(std::move(port)),
        region_(std::move(region)),
        notify_(std::move(notify)),
        geometry_(g),
        generation_(generation),
        check_(xs_ ? &*xs_ : nullptr, notice_fd, fe_dir_, domid_,
               reinterpret_cast<const proto::ControlPage*>(region_.bytes().data())),
        doorbell_(evtchn_, port_.port(), check_) {}

  ~XenBackendChannel() override {
    // Best effort. A frontend that is finished (its live byte cleared by its exit or death,
    // its state Closing/Closed, or its directory removed with its domain) needs nothing more
    // from us: remove our directory, which nobody else would (libxl only cleans up the devices
    // it knows). The live byte counts because an agent clears it before it writes Closed, and we
    // may be looking in between. A frontend still running that we are leaving is told Closed,
    // so it stops counting on us at once (the unmap notification on backend_live follows when
    // notify_ goes).
    // Detached, the process that keeps the xenstore half does it (xen_close_backend_dir).
    if (!xs_) return;
    bool agent_gone =
        ring::load_byte(
            reinterpret_cast<const proto::ControlPage*>(region_.bytes().data())->frontend_live) ==
        0;
    close_backend_dir_with(*xs_, fe_dir_, be_dir_, agent_gone);
  }

  std::span<std::byte> region() override { return region_.bytes(); }
  const ring::Geometry& geometry() const override { return geometry_; }
  Doorbell& doorbell() override { return doorbell_; }
  std::string describe() const override {
    return "xen domain " + std::to_string(domid_) + " (backend generation " +
           std::to_string(generation_) + ")";
  }

 private:
  UniqueFd lock_;  // one backend per domain (backend_lock.h); released last
  uint32_t domid_;
  std::string fe_dir_;
  std::string be_dir_;
  std::optional<XsHandle> xs_;  // none when detached
  std::optional<XsWatch> watch_;
  GnttabHandle gnttab_;
  EvtchnHandle evtchn_;
  BoundPort port_;
  GrantMapping region_;
  GrantMapping notify_;  // unmapped first: clears backend_live and kicks the guest
  ring::Geometry geometry_;
  uint32_t generation_;
  BackendPeerCheck check_;
  EvtchnDoorbell doorbell_;
};

// One consistent snapshot of the frontend's keys.
Result<RawFrontendKeys> read_frontend_keys(XsHandle& xs, const std::string& fe_dir) {
  RawFrontendKeys raw;
  auto read =
      xs.transact("read the ringbox frontend keys", [&](xs_transaction_t t) -> Result<void> {
        struct Key {
          std::optional<std::string>& out;
          const char* name;
        };
        for (const Key& k :
             {Key{raw.protocol_version, proto::kKeyProtocolVersion},
              Key{raw.ring_order, proto::kKeyRingOrder}, Key{raw.data_pages, proto::kKeyDataPages},
              Key{raw.dir_refs, proto::kKeyDirRefs},
              Key{raw.event_channel, proto::kKeyEventChannel}, Key{raw.state, proto::kKeyState}}) {
          auto v = xs.read(fe_dir + "/" + k.name, t);
          if (!v) return std::move(v.error());
          k.out = std::move(*v);
        }
        return ok();
      });
  if (!read) return std::move(read.error());
  return raw;
}

// Waits until the frontend is ready to be attached (Initialised, or Connected to a backend
// that may have died) and returns its checked parameters.
Result<FrontendParams> wait_for_frontend(XsHandle& xs, uint32_t domid, const std::string& fe_dir,
                                         const Deadline& deadline, int timeout_ms) {
  std::string last = "absent";
  for (;;) {
    auto st = read_frontend_state(xs, fe_dir);
    if (!st) return std::move(st.error());
    if (*st && (**st == XenbusState::kInitialised || **st == XenbusState::kConnected)) {
      auto raw = read_frontend_keys(xs, fe_dir);
      if (!raw) return std::move(raw.error());
      auto params = validate_frontend_keys(*raw);
      if (!params) return std::move(params.error());
      if (params->state == XenbusState::kInitialised || params->state == XenbusState::kConnected)
        return params;
    }
    if (*st) last = state_str(**st);
    auto dom = xs.read("/local/domain/" + std::to_string(domid));
    if (!dom) return std::move(dom.error());
    if (!*dom)
      return make_error(Errc::kNotFound,
                        "domain " + std::to_string(domid) +
                            " has no xenstore directory: is it running? (xl list)");
    if (deadline.passed())
      return make_error(Errc::kTimeout,
                        "no ringbox frontend became ready in domain " + std::to_string(domid) +
                            " within " + std::to_string(timeout_ms) + " ms (" + fe_dir +
                            "/state is " + last +
                            "): is `ringbox-agent --transport xen` running in the guest?");
    auto w = xs.wait_watch(deadline.remaining_ms());
    if (!w) return std::move(w.error());
  }
}

// Waits until the frontend has reset its ring for `generation` (connected-generation).
Result<void> wait_for_ack(XsHandle& xs, uint32_t domid, const std::string& fe_dir,
                          uint32_t generation, const Deadline& deadline) {
  for (;;) {
    auto st = read_frontend_state(xs, fe_dir);
    if (!st) return std::move(st.error());
    if (!*st || closing(**st))
      return make_error(Errc::kPeerGone, "the frontend in domain " + std::to_string(domid) +
                                             " closed during the handshake");
    auto acked = xs.read(fe_dir + "/" + proto::kKeyConnectedGeneration);
    if (!acked) return std::move(acked.error());
    if (**st == XenbusState::kConnected && *acked) {
      auto g = parse_decimal(**acked, 0, std::numeric_limits<uint32_t>::max(),
                             "frontend key connected-generation");
      if (!g) return std::move(g.error());
      if (*g == generation) return ok();
    }
    if (deadline.passed())
      return make_error(Errc::kTimeout, "the frontend in domain " + std::to_string(domid) +
                                            " never acknowledged backend generation " +
                                            std::to_string(generation) +
                                            " (its agent may be hung)");
    auto w = xs.wait_watch(deadline.remaining_ms());
    if (!w) return std::move(w.error());
  }
}

}  // namespace

Result<std::unique_ptr<RingChannel>> xen_accept(uint32_t domid, int timeout_ms,
                                                const XenAcceptOptions& opts) {
  if (domid == 0 || domid > 0x7fef)
    return make_error(Errc::kInvalidArgument,
                      "domain id " + std::to_string(domid) + " is not a guest domain (1..32751)");
  Result<UniqueFd> lock = UniqueFd();
  if (opts.take_backend_lock) lock = lock_backend(domid);
  if (!lock) return std::move(lock.error());
  Deadline deadline(timeout_ms);
  const std::string fe_dir = frontend_dir(domid);
  const std::string be_dir = backend_dir(domid);
  auto xs = XsHandle::open();
  if (!xs) return std::move(xs.error());

  // Our own directory: only dom0 writes it, so its previous generation is trustworthy; parsed
  // with bounds all the same.
  uint32_t previous = 0;
  auto prev_raw = xs->read(be_dir + "/" + proto::kKeyGeneration);
  if (!prev_raw) return std::move(prev_raw.error());
  if (*prev_raw) {
    auto p = parse_decimal(**prev_raw, 0, std::numeric_limits<uint32_t>::max(), "old generation");
    if (p) previous = static_cast<uint32_t>(*p);
  }
  const uint32_t generation = previous == std::numeric_limits<uint32_t>::max() ? 1 : previous + 1;
  auto announced =
      xs->transact("announce the ringbox backend", [&](xs_transaction_t t) -> Result<void> {
        RINGBOX_TRY(xs->mkdir(be_dir, t));
        // Owner dom0 (nobody else may write), and the guest may read: it watches our state.
        RINGBOX_TRY(xs->set_permissions(be_dir, {{0, XS_PERM_NONE}, {domid, XS_PERM_READ}}, t));
        return xs->write(be_dir + "/" + proto::kKeyState, state_str(XenbusState::kInitWait), t);
      });
  if (!announced) return std::move(announced.error());
  auto watch = XsWatch::add(*xs, fe_dir, "ringbox-frontend");
  if (!watch) return std::move(watch.error());

  auto params = wait_for_frontend(*xs, domid, fe_dir, deadline, timeout_ms);
  if (!params) return std::move(params.error());
  const ring::Geometry g = params->geometry;
  const size_t region_pages = g.total_pages();

  auto gnttab = GnttabHandle::open();
  if (!gnttab) return std::move(gnttab.error());
  std::vector<uint32_t> refs;
  {
    auto dir = GrantMapping::map(*gnttab, domid, params->dir_refs, GrantMapping::Access::kReadOnly);
    if (!dir)
      return Error{dir.error().code, dir.error().sys_errno, "directory pages: " + dir.error().what};
    // Copied before use, then unmapped: the guest could rewrite the list under our feet.
    std::vector<std::byte> copy(dir->bytes().size());
    ring::copy_from_shared(copy.data(), dir->bytes().data(), copy.size());
    auto unpacked = unpack_region_refs(copy, region_pages);
    if (!unpacked) return std::move(unpacked.error());
    refs = std::move(*unpacked);
  }
  auto evtchn = EvtchnHandle::open();
  if (!evtchn) return std::move(evtchn.error());
  auto port = BoundPort::bind_interdomain(*evtchn, domid, params->event_channel);
  if (!port) return std::move(port.error());
  auto region = GrantMapping::map(*gnttab, domid, refs, GrantMapping::Access::kReadWrite);
  if (!region)
    return Error{
        region.error().code, region.error().sys_errno,
        "ring region (" + std::to_string(region_pages) + " pages): " + region.error().what};
  // A second mapping of the control page, only for its unmap notification: libxengnttab offers
  // the notification on single-page mappings, and the region must stay one contiguous mapping.
  auto notify = GrantMapping::map_with_notify(
      *gnttab, domid, refs[0], static_cast<uint32_t>(offsetof(proto::ControlPage, backend_live)),
      port->port());
  if (!notify) return std::move(notify.error());

  auto published =
      xs->transact("publish the ringbox backend", [&](xs_transaction_t t) -> Result<void> {
        RINGBOX_TRY(xs->write(be_dir + "/" + proto::kKeyGeneration, std::to_string(generation), t));
        return xs->write(be_dir + "/" + proto::kKeyState, state_str(XenbusState::kConnected), t);
      });
  if (!published) return std::move(published.error());
  RINGBOX_TRY(wait_for_ack(*xs, domid, fe_dir, generation, deadline));
  log::info("xen: attached to domain " + std::to_string(domid) + " as backend generation " +
            std::to_string(generation) + ": " + std::to_string(region_pages) +
            " region pages (ring order " + std::to_string(g.ring_order) + ", " +
            std::to_string(g.data_pages) + " data pages), event channel " +
            std::to_string(params->event_channel) + " -> local port " +
            std::to_string(port->port()));
  std::optional<XsHandle> keep_xs;
  std::optional<XsWatch> keep_watch;
  if (opts.peer_notice_fd < 0) {
    keep_xs.emplace(std::move(*xs));
    keep_watch.emplace(std::move(*watch));
  }  // else both end here: the watch first, then the connection to xenstored
  return std::unique_ptr<RingChannel>(std::make_unique<XenBackendChannel>(
      std::move(*lock), domid, fe_dir, be_dir, std::move(keep_xs), std::move(keep_watch),
      opts.peer_notice_fd, std::move(*gnttab), std::move(*evtchn), std::move(*port),
      std::move(*region), std::move(*notify), g, generation));
}

Result<void> xen_watch_frontend(uint32_t domid, int notice_fd, const std::atomic<bool>& stop) {
  auto xs = XsHandle::open();
  if (!xs) return std::move(xs.error());
  const std::string fe_dir = frontend_dir(domid);
  auto watch = XsWatch::add(*xs, fe_dir, "ringbox-frontend-for-service");
  if (!watch) return std::move(watch.error());
  // Before the agent has written its directory there is nothing to lose: the service's own
  // handshake waits for it (and notices a domain that dies first).
  bool seen = false, seen_connected = false;
  while (!stop) {
    auto st = read_frontend_state(*xs, fe_dir);
    if (!st) return std::move(st.error());
    seen = seen || st->has_value();
    if (*st && **st == XenbusState::kConnected) seen_connected = true;
    if ((seen && !*st) || (*st && closing(**st)) ||
        (seen_connected && **st != XenbusState::kConnected)) {
      const char byte = 1;
      if (::write(notice_fd, &byte, 1) != 1) return sys_error("tell the confined service");
      return ok();
    }
    auto w = xs->wait_watch(200);
    if (!w) return std::move(w.error());
    if (*w) RINGBOX_TRY(xs->drain_watch_events());
  }
  return ok();
}

void xen_close_backend_dir(uint32_t domid) {
  auto xs = XsHandle::open();
  if (!xs) {
    log::warn("xen: cannot close " + backend_dir(domid) + ": " + xs.error().message());
    return;
  }
  close_backend_dir_with(*xs, frontend_dir(domid), backend_dir(domid), false);
}

}  // namespace ringbox::transport
