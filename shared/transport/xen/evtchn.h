// Event channels (/dev/xen/evtchn via libxenevtchn): EvtchnHandle owns the open device,
// BoundPort owns one local port bound through it (unbound again on destruction).
//
// One handle serves one waiting thread: libxenevtchn's pending() read is only reliable when a
// single thread polls the descriptor (see xenevtchn.h). notify() may be called from any thread.
#pragma once

// The Xen library headers have no extern "C" guards of their own.
extern "C" {
#include <xenevtchn.h>
}

#include <cstdint>
#include <utility>

#include "shared/util/result.h"
#include "shared/util/unique_handle.h"

namespace ringbox::transport::xen {

class EvtchnHandle : public UniqueHandle<xenevtchn_handle, xenevtchn_close> {
 public:
  using unique_ptr::unique_ptr;  // takes ownership of a raw handle
  // Opens /dev/xen/evtchn (needs the xen-evtchn module) close-on-exec.
  static Result<EvtchnHandle> open();
  int fd() const { return xenevtchn_fd(get()); }
};

// A local port of an event channel. The handle must outlive it.
class BoundPort {
 public:
  BoundPort() = default;
  // A fresh port that `remote_domid` may bind to (the frontend's half).
  static Result<BoundPort> bind_unbound(EvtchnHandle& h, uint32_t remote_domid);
  // Binds to `remote_port`, an unbound port of `domid` offered to us (the backend's half).
  static Result<BoundPort> bind_interdomain(EvtchnHandle& h, uint32_t domid, uint32_t remote_port);
  BoundPort(const BoundPort&) = delete;
  BoundPort& operator=(const BoundPort&) = delete;
  BoundPort(BoundPort&& o) noexcept
      : h_(std::exchange(o.h_, nullptr)), port_(std::exchange(o.port_, 0)) {}
  BoundPort& operator=(BoundPort&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, nullptr);
      port_ = std::exchange(o.port_, 0);
    }
    return *this;
  }
  ~BoundPort() { reset(); }

  evtchn_port_t port() const { return port_; }
  explicit operator bool() const { return h_ != nullptr; }
  evtchn_port_t release() {
    h_ = nullptr;
    return std::exchange(port_, 0);
  }
  void reset() {
    if (h_ != nullptr) xenevtchn_unbind(h_, port_);
    h_ = nullptr;
    port_ = 0;
  }

 private:
  BoundPort(xenevtchn_handle* h, evtchn_port_t port) : h_(h), port_(port) {}
  xenevtchn_handle* h_ = nullptr;
  evtchn_port_t port_ = 0;
};

}  // namespace ringbox::transport::xen
