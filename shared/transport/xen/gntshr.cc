#include "shared/transport/xen/gntshr.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <xen/sys/gntalloc.h>

#include <cstring>
#include <string>
#include <vector>

#include "shared/protocol/ringbox_proto.h"

namespace ringbox::transport::xen {

Result<GntshrHandle> GntshrHandle::open() {
  xengntshr_handle* h = xengntshr_open(nullptr, 0);
  if (h == nullptr)
    return sys_error(
        "open /dev/xen/gntalloc (is the xen-gntalloc module loaded? ringbox-agent loads it "
        "from /lib/modules/ringbox)");
  GntshrHandle owned(h);
  // libxengnttab opens gntalloc without O_CLOEXEC; a child exec'd by the agent (the job) must
  // not inherit the device that holds our ring pages.
  int fd = xengntshr_fd(h);
  if (fd < 0 || ::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
    return sys_error("set close-on-exec on /dev/xen/gntalloc");
  return owned;
}

std::span<std::byte> SharedPages::bytes() const {
  return {static_cast<std::byte*>(addr_), size_t{count_} * proto::kPageSize};
}

void* SharedPages::release() {
  refs_.clear();
  count_ = 0;
  h_ = nullptr;
  return std::exchange(addr_, nullptr);
}

Result<void*> SharedPages::replace_with_private_copy() {
  if (addr_ == nullptr) return make_error(Errc::kInvalidArgument, "no shared pages to replace");
  const size_t len = size_t{count_} * proto::kPageSize;
  std::vector<std::byte> copy(len);
  std::memcpy(copy.data(), addr_, len);
  // MAP_FIXED replaces the gntalloc mapping in one step: the address never becomes a hole.
  void* p =
      ::mmap(addr_, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (p == MAP_FAILED) return sys_error("replace " + std::to_string(count_) + " granted pages");
  std::memcpy(p, copy.data(), len);
  addr_ = nullptr;
  count_ = 0;
  refs_.clear();
  return p;
}

void SharedPages::reset() {
  if (addr_ != nullptr) xengntshr_unshare(h_, addr_, count_);
  addr_ = nullptr;
  count_ = 0;
  refs_.clear();
}

std::string gntalloc_failure_hint(int err, uint32_t pages) {
  if (err == ENOSPC)
    return "the xen-gntalloc limit (default 1024 pages for the whole guest) is too small for " +
           std::to_string(pages) +
           " more pages: load the module with limit=N, or raise it with `echo N > "
           "/sys/module/xen_gntalloc/parameters/limit`, or use a smaller geometry";
  if (err == ENOMEM)
    return "the guest is out of memory or out of grant-table entries for " + std::to_string(pages) +
           " pages: raise the domain's max_grant_frames (xl config) or use a smaller geometry";
  return "sharing " + std::to_string(pages) + " pages with dom0 failed";
}

Result<SharedPages> SharedPages::share(GntshrHandle& h, uint32_t domid, uint32_t count,
                                       bool writable) {
  std::vector<uint32_t> refs(count);
  void* addr = xengntshr_share_pages(h.get(), domid, count, refs.data(), writable ? 1 : 0);
  if (addr == nullptr) {
    int err = errno;
    return sys_error(err, "grant " + std::to_string(count) + " pages to domain " +
                              std::to_string(domid) + " (" + gntalloc_failure_hint(err, count) +
                              ")");
  }
  return SharedPages(h.get(), addr, count, std::move(refs));
}

// libxengnttab offers an unmap notification only for a single page
// (xengntshr_share_page_notify); the ring region must be one contiguous multi-page allocation
// with the notification on its control page. So this one call speaks to gntalloc directly, on
// the library's own descriptor (xengntshr_fd() exists for such uses) and with the library's
// sequence: allocate, mmap, set the notification, then drop the descriptor's reference so that
// the mapping alone keeps the pages. Unmapping (xengntshr_unshare, or process death) is then
// what frees them and fires the notification.
Result<SharedPages> SharedPages::share_with_notify(GntshrHandle& h, uint32_t domid, uint32_t count,
                                                   UnmapNotify notify, void* at) {
  const std::string what = std::to_string(count) + " pages for domain " + std::to_string(domid);
  if (count == 0 || notify.byte_offset >= size_t{count} * proto::kPageSize)
    return make_error(Errc::kInvalidArgument, "unmap notification offset " +
                                                  std::to_string(notify.byte_offset) +
                                                  " lies outside the " + what);
  int fd = xengntshr_fd(h.get());
  // ioctl_gntalloc_alloc_gref ends in a variable array of grant refs (declared [1]).
  size_t op_bytes = sizeof(ioctl_gntalloc_alloc_gref) + (size_t{count} - 1) * sizeof(uint32_t);
  std::vector<uint64_t> op_storage((op_bytes + 7) / 8);
  auto* op = reinterpret_cast<ioctl_gntalloc_alloc_gref*>(op_storage.data());
  op->domid = static_cast<uint16_t>(domid);
  op->flags = GNTALLOC_FLAG_WRITABLE;
  op->count = count;
  if (::ioctl(fd, IOCTL_GNTALLOC_ALLOC_GREF, op) != 0) {
    int err = errno;
    return sys_error(
        err, "allocate " + what + " with gntalloc (" + gntalloc_failure_hint(err, count) + ")");
  }
  const uint64_t index = op->index;
  std::vector<uint32_t> refs(op->gref_ids, op->gref_ids + count);
  auto drop_file_reference = [&] {
    ioctl_gntalloc_dealloc_gref drop{};
    drop.index = index;
    drop.count = count;
    return ::ioctl(fd, IOCTL_GNTALLOC_DEALLOC_GREF, &drop);
  };

  size_t len = size_t{count} * proto::kPageSize;
  std::vector<std::byte> keep;
  if (at != nullptr) keep.assign(static_cast<std::byte*>(at), static_cast<std::byte*>(at) + len);
  void* addr = ::mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | (at != nullptr ? MAP_FIXED : 0),
                      fd, static_cast<off_t>(index));
  // On a failure after this point the address must still hold the caller's bytes.
  auto unmap = [&] {
    if (at == nullptr) {
      ::munmap(addr, len);
      return;
    }
    void* p =
        ::mmap(at, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p != MAP_FAILED) std::memcpy(p, keep.data(), len);
  };
  if (addr == MAP_FAILED) {
    int err = errno;
    if (at != nullptr) {
      addr = at;
      unmap();
    }
    drop_file_reference();
    return sys_error(err, "map the " + what + " from gntalloc");
  }
  ioctl_gntalloc_unmap_notify n{};
  n.index = index + notify.byte_offset;
  n.action = UNMAP_NOTIFY_CLEAR_BYTE | UNMAP_NOTIFY_SEND_EVENT;
  n.event_channel_port = notify.port;
  if (::ioctl(fd, IOCTL_GNTALLOC_SET_UNMAP_NOTIFY, &n) != 0) {
    int err = errno;
    unmap();
    drop_file_reference();
    return sys_error(err, "set the unmap notification (byte " + std::to_string(notify.byte_offset) +
                              ", event channel " + std::to_string(notify.port) + ") on the " +
                              what);
  }
  if (drop_file_reference() != 0) {
    int err = errno;
    unmap();
    return sys_error(err, "hand the " + what + " over to their mapping");
  }
  if (at != nullptr) std::memcpy(addr, keep.data(), len);
  return SharedPages(h.get(), addr, count, std::move(refs));
}

}  // namespace ringbox::transport::xen
