// Mapping another domain's granted pages (host side: /dev/xen/gntdev via libxengnttab's
// xengnttab_* calls). Two owners: GnttabHandle (the open device) and GrantMapping (one mapping of
// one or more grant refs, contiguous in our address space).
//
// Trust: the pages belong to the peer, which may rewrite them at any moment. Hand the bytes only
// to code that reads shared memory through shared/ring/shared_memory.h (copy, then check).
#pragma once

// The Xen library headers have no extern "C" guards of their own.
extern "C" {
#include <xengnttab.h>
}

#include <cstdint>
#include <span>
#include <utility>

#include "shared/util/result.h"
#include "shared/util/unique_handle.h"

namespace ringbox::transport::xen {

class GnttabHandle : public UniqueHandle<xengnttab_handle, xengnttab_close> {
 public:
  using unique_ptr::unique_ptr;  // takes ownership of a raw handle
  // Opens /dev/xen/gntdev (needs the xen-gntdev module) close-on-exec.
  static Result<GnttabHandle> open();
};

// Grant refs of one domain mapped into our address space. The handle must outlive it.
class GrantMapping {
 public:
  enum class Access { kReadOnly, kReadWrite };

  GrantMapping() = default;
  // All refs in one call, contiguous, in order: one hypercall batch, mapped for the whole
  // connection ("persistent grants").
  static Result<GrantMapping> map(GnttabHandle& h, uint32_t domid, std::span<const uint32_t> refs,
                                  Access access);
  // One page, read-write, with an unmap notification: when we unmap it (or die) the kernel
  // clears the byte at `notify_offset` and signals `port`, so the peer sees us go.
  static Result<GrantMapping> map_with_notify(GnttabHandle& h, uint32_t domid, uint32_t ref,
                                              uint32_t notify_offset, evtchn_port_t port);
  GrantMapping(const GrantMapping&) = delete;
  GrantMapping& operator=(const GrantMapping&) = delete;
  GrantMapping(GrantMapping&& o) noexcept
      : h_(std::exchange(o.h_, nullptr)),
        addr_(std::exchange(o.addr_, nullptr)),
        count_(std::exchange(o.count_, 0)) {}
  GrantMapping& operator=(GrantMapping&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, nullptr);
      addr_ = std::exchange(o.addr_, nullptr);
      count_ = std::exchange(o.count_, 0);
    }
    return *this;
  }
  ~GrantMapping() { reset(); }

  // Peer-writable memory: read it only through shared/ring/shared_memory.h.
  std::span<std::byte> bytes() const;
  explicit operator bool() const { return addr_ != nullptr; }
  void* release();
  void reset();

 private:
  GrantMapping(xengnttab_handle* h, void* addr, uint32_t count)
      : h_(h), addr_(addr), count_(count) {}
  xengnttab_handle* h_ = nullptr;
  void* addr_ = nullptr;
  uint32_t count_ = 0;
};

}  // namespace ringbox::transport::xen
