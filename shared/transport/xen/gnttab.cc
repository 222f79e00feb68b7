#include "shared/transport/xen/gnttab.h"

#include <sys/mman.h>

#include <string>
#include <vector>

#include "shared/protocol/ringbox_proto.h"

namespace ringbox::transport::xen {

Result<GnttabHandle> GnttabHandle::open() {
  // libxengnttab opens gntdev with O_CLOEXEC (flag 0 keeps that).
  xengnttab_handle* h = xengnttab_open(nullptr, 0);
  if (h == nullptr)
    return sys_error(
        "open /dev/xen/gntdev (is the xen-gntdev module loaded? `modprobe xen-gntdev`)");
  return GnttabHandle(h);
}

std::span<std::byte> GrantMapping::bytes() const {
  return {static_cast<std::byte*>(addr_), size_t{count_} * proto::kPageSize};
}

void* GrantMapping::release() {
  count_ = 0;
  h_ = nullptr;
  return std::exchange(addr_, nullptr);
}

void GrantMapping::reset() {
  if (addr_ != nullptr) xengnttab_unmap(h_, addr_, count_);
  addr_ = nullptr;
  count_ = 0;
}

Result<GrantMapping> GrantMapping::map(GnttabHandle& h, uint32_t domid,
                                       std::span<const uint32_t> refs, Access access) {
  if (refs.empty()) return make_error(Errc::kInvalidArgument, "map an empty list of grant refs");
  // The library's signature takes a non-const array it does not modify; pass a private copy.
  std::vector<uint32_t> copy(refs.begin(), refs.end());
  int prot = access == Access::kReadWrite ? PROT_READ | PROT_WRITE : PROT_READ;
  auto count = static_cast<uint32_t>(copy.size());
  void* addr = xengnttab_map_domain_grant_refs(h.get(), count, domid, copy.data(), prot);
  if (addr == nullptr) {
    std::string what = "map " + std::to_string(count) + " grant refs (first " +
                       std::to_string(copy.front()) + ") from domain " + std::to_string(domid);
    // gntdev refuses more pages per request than its `limit` parameter with EINVAL, and
    // runs out of ballooned frames to map them into with ENOMEM.
    if (errno == EINVAL || errno == ENOMEM)
      what +=
          " (invalid refs, more pages than xen-gntdev maps in one request (see "
          "/sys/module/xen_gntdev/parameters/limit), or no free dom0 frames to map them)";
    return sys_error(what);
  }
  return GrantMapping(h.get(), addr, count);
}

Result<GrantMapping> GrantMapping::map_with_notify(GnttabHandle& h, uint32_t domid, uint32_t ref,
                                                   uint32_t notify_offset, evtchn_port_t port) {
  if (notify_offset >= proto::kPageSize)
    return make_error(
        Errc::kInvalidArgument,
        "unmap notification offset " + std::to_string(notify_offset) + " lies outside the page");
  void* addr = xengnttab_map_grant_ref_notify(h.get(), domid, ref, PROT_READ | PROT_WRITE,
                                              notify_offset, port);
  if (addr == nullptr)
    return sys_error("map grant ref " + std::to_string(ref) + " from domain " +
                     std::to_string(domid) + " with an unmap notification on event channel " +
                     std::to_string(port));
  return GrantMapping(h.get(), addr, 1);
}

}  // namespace ringbox::transport::xen
