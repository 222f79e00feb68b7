#include "shared/transport/xen/evtchn.h"

#include <string>

namespace ringbox::transport::xen {

Result<EvtchnHandle> EvtchnHandle::open() {
  // Flags 0: libxenevtchn opens the device O_CLOEXEC.
  xenevtchn_handle* h = xenevtchn_open(nullptr, 0);
  if (h == nullptr) return sys_error("open /dev/xen/evtchn (is the xen-evtchn module loaded?)");
  return EvtchnHandle(h);
}

Result<BoundPort> BoundPort::bind_unbound(EvtchnHandle& h, uint32_t remote_domid) {
  xenevtchn_port_or_error_t p = xenevtchn_bind_unbound_port(h.get(), remote_domid);
  if (p < 0)
    return sys_error("allocate an unbound event channel for domain " +
                     std::to_string(remote_domid));
  return BoundPort(h.get(), static_cast<evtchn_port_t>(p));
}

Result<BoundPort> BoundPort::bind_interdomain(EvtchnHandle& h, uint32_t domid,
                                              uint32_t remote_port) {
  xenevtchn_port_or_error_t p = xenevtchn_bind_interdomain(h.get(), domid, remote_port);
  if (p < 0)
    return sys_error("bind event channel port " + std::to_string(remote_port) + " of domain " +
                     std::to_string(domid) +
                     " (not an unbound port offered to dom0, or already bound by another "
                     "ringbox-host)");
  return BoundPort(h.get(), static_cast<evtchn_port_t>(p));
}

}  // namespace ringbox::transport::xen
