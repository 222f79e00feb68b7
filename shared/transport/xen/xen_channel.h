// Xen transport: the ring region in pages the guest grants to dom0, the doorbell an
// interdomain event channel, the handshake through xenstore like a PV split driver. The key
// contract and the state diagram are in shared/protocol/ringbox_proto.h ("Xen handshake");
// docs/xen-transport.md explains the design, the trust decisions and the limits.
//
// xen_connect() runs in the guest (ringbox-agent, the frontend): it grants the region and a few
// directory pages listing the region's grant refs, offers an event channel to dom0, publishes
// the keys and waits for a backend. The returned channel survives backend restarts: a new
// ringbox-host re-attaches to the same pages and the channel's restart handler
// (RingChannel::set_restart_handler) lets the RPC client replay what was in flight.
//
// xen_accept() runs in dom0 (ringbox-host, the backend): it treats every xenstore value and
// every shared byte as hostile, maps the region once for the connection, and works the same
// whether the guest is new or was served by a ringbox-host that died.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "shared/transport/channel.h"
#include "shared/util/deadline.h"

namespace ringbox::transport {

struct XenConnectOptions {
  // How long to wait for the first backend.
  int connect_timeout_ms = 30000;
  // How long the doorbell waits for a new backend once the current one is gone, before the
  // channel reports kPeerGone.
  int reconnect_timeout_ms = 60000;
  // Vacate (docs/vacate.md), on the channel's monitor thread: on_quiesce runs first when the
  // host asks the guest to get ready for a save (stop the job: SIGSTOP its process group; let
  // its file requests end, but not past `by`; an error, such as a request still running then,
  // refuses the vacate before anything is torn down); on_resume once the ring is served again
  // after the restore or a cancelled save.
  std::function<Result<void>(const Deadline& by)> on_quiesce;
  std::function<void()> on_resume;
};

// Frontend (guest). The modules xen-evtchn and xen-gntalloc must be loaded.
Result<std::unique_ptr<RingChannel>> xen_connect(const ring::Geometry& g,
                                                 const XenConnectOptions& opts = {});

struct XenAcceptOptions {
  // Detached backend (the confined file service, host/confine): >= 0 closes the xenstore
  // connection once the handshake is done, so the process keeps no power over xenstore. Then
  // the peer is gone when this descriptor turns readable (another process runs
  // xen_watch_frontend) or the frontend's live byte drops, and the channel leaves its xenstore
  // directory to xen_close_backend_dir. Not owned.
  int peer_notice_fd = -1;
  // Take the one-backend-per-domain lock (backend_lock.h). A detached backend's keeper takes it
  // instead, for as long as the backend and its cleanup last.
  bool take_backend_lock = true;
};

// Backend (dom0): attaches to the ringbox frontend of domain `domid`, waiting up to timeout_ms
// for it to appear and then to acknowledge us. Needs xenstored, xen-evtchn and xen-gntdev.
Result<std::unique_ptr<RingChannel>> xen_accept(uint32_t domid, int timeout_ms,
                                                const XenAcceptOptions& opts = {});

// The xenstore half of a detached backend's peer check: writes one byte to notice_fd once
// domain domid's frontend, after reaching Connected, leaves it, once there says Closing or
// Closed, or its directory, once there, vanishes (the domain is gone). Returns then, or when
// `stop` is set (checked every 200 ms). Errors: xenstore's, a state key that does not parse,
// the write's; the caller must then give the notice itself (nothing else will).
Result<void> xen_watch_frontend(uint32_t domid, int notice_fd, const std::atomic<bool>& stop);
// What a backend channel's destructor does in xenstore, for a detached one that has ended:
// removes our directory when the frontend is closing or gone, else tells it Closed. Logs errors.
void xen_close_backend_dir(uint32_t domid);

}  // namespace ringbox::transport
