// Granting our own pages to another domain (guest side: /dev/xen/gntalloc via libxengnttab's
// xengntshr_* calls). Two owners: GntshrHandle (the open device) and SharedPages (one allocation
// of zeroed pages granted to a peer, mapped into our address space).
//
// Trust: nothing is read back from the peer here; the pages are ours, the peer may write them
// at any time if we granted them writable.
#pragma once

// The Xen library headers have no extern "C" guards of their own.
extern "C" {
#include <xengnttab.h>
}

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "shared/util/result.h"
#include "shared/util/unique_handle.h"

namespace ringbox::transport::xen {

class GntshrHandle : public UniqueHandle<xengntshr_handle, xengntshr_close> {
 public:
  using unique_ptr::unique_ptr;  // takes ownership of a raw handle
  // Opens /dev/xen/gntalloc (needs the xen-gntalloc module) close-on-exec.
  static Result<GntshrHandle> open();
};

// One allocation of `count` zeroed pages granted to one domain, contiguous in our address space.
// The handle it came from must outlive it (declare the handle first). Destruction unmaps; the
// kernel ends the grants once the peer has unmapped too (pages the peer still maps stay
// allocated and count against the gntalloc limit until then).
class SharedPages {
 public:
  // When the process holding the pages dies (or the pages are unshared), the kernel sets the
  // byte at `byte_offset` of the allocation to 0 and signals `port`: how the peer learns of a
  // crash without a timeout.
  struct UnmapNotify {
    uint32_t byte_offset;
    evtchn_port_t port;
  };

  SharedPages() = default;
  // `writable`: whether the peer may write the pages.
  static Result<SharedPages> share(GntshrHandle& h, uint32_t domid, uint32_t count, bool writable);
  // As share(), writable, with an unmap notification anywhere inside the allocation.
  // `at` (optional): map the pages there, over an existing private mapping of the same size
  // whose contents are copied in first (replace_with_private_copy() made it): how a vacated
  // guest keeps its ring at one address across a save/restore (docs/vacate.md).
  static Result<SharedPages> share_with_notify(GntshrHandle& h, uint32_t domid, uint32_t count,
                                               UnmapNotify notify, void* at = nullptr);
  SharedPages(const SharedPages&) = delete;
  SharedPages& operator=(const SharedPages&) = delete;
  SharedPages(SharedPages&& o) noexcept
      : h_(std::exchange(o.h_, nullptr)),
        addr_(std::exchange(o.addr_, nullptr)),
        count_(std::exchange(o.count_, 0)),
        refs_(std::move(o.refs_)) {}
  SharedPages& operator=(SharedPages&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, nullptr);
      addr_ = std::exchange(o.addr_, nullptr);
      count_ = std::exchange(o.count_, 0);
      refs_ = std::move(o.refs_);
    }
    return *this;
  }
  ~SharedPages() { reset(); }

  std::span<std::byte> bytes() const;
  // The grant references, one per page in order.
  std::span<const uint32_t> refs() const { return refs_; }
  explicit operator bool() const { return addr_ != nullptr; }
  // Gives up ownership: the pages stay shared and mapped until the process exits.
  void* release();
  // Ends the grant (before a Xen suspend) but keeps the bytes at the same address: an
  // anonymous private mapping of the same size replaces the shared one, holding a copy of its
  // contents. Returns that mapping (the caller munmaps it, or passes it to share_with_notify's
  // `at`). No other thread may touch the pages meanwhile. Afterwards this object is empty.
  Result<void*> replace_with_private_copy();
  void reset();

 private:
  SharedPages(xengntshr_handle* h, void* addr, uint32_t count, std::vector<uint32_t> refs)
      : h_(h), addr_(addr), count_(count), refs_(std::move(refs)) {}
  xengntshr_handle* h_ = nullptr;
  void* addr_ = nullptr;
  uint32_t count_ = 0;
  std::vector<uint32_t> refs_;
};

// How to read a gntalloc failure: which limit the allocation hit and what to do about it.
std::string gntalloc_failure_hint(int err, uint32_t pages);

}  // namespace ringbox::transport::xen
