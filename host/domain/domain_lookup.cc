#include "host/domain/domain_lookup.h"

#include <cstdio>
#include <memory>

#include "shared/transport/xen/handshake_keys.h"
#include "shared/transport/xen/xenstore.h"
#include "shared/util/log.h"

namespace ringbox::host::domain {
namespace {

struct DominfoListFree {
  int count;
  void operator()(libxl_dominfo* list) const { libxl_dominfo_list_free(list, count); }
};

class Dominfo {
 public:
  Dominfo() { libxl_dominfo_init(&info_); }
  Dominfo(const Dominfo&) = delete;
  Dominfo& operator=(const Dominfo&) = delete;
  ~Dominfo() { libxl_dominfo_dispose(&info_); }
  libxl_dominfo* get() { return &info_; }

 private:
  libxl_dominfo info_;
};

}  // namespace

std::string uuid_to_string(const libxl_uuid& uuid) {
  char text[LIBXL_UUID_FMTLEN + 1];
  std::snprintf(text, sizeof text, LIBXL_UUID_FMT, LIBXL_UUID_BYTES(uuid));
  return text;
}

Result<libxl_uuid> uuid_from_string(const std::string& text) {
  libxl_uuid uuid;
  if (libxl_uuid_from_string(&uuid, text.c_str()) != 0)
    return make_error(Errc::kInvalidArgument, "'" + text + "' is not a UUID");
  return uuid;
}

Result<std::vector<uint32_t>> domids_with_uuid(const LibxlContext& ctx, const libxl_uuid& uuid) {
  int n = 0;
  libxl_dominfo* raw = libxl_list_domain(ctx.get(), &n);
  if (raw == nullptr) return make_error(Errc::kSystem, "libxl_list_domain failed");
  std::unique_ptr<libxl_dominfo, DominfoListFree> list(raw, DominfoListFree{n});
  std::vector<uint32_t> ids;
  for (int i = 0; i < n; ++i)
    if (libxl_uuid_compare(&raw[i].uuid, &uuid) == 0) ids.push_back(raw[i].domid);
  return ids;
}

Result<bool> domain_has_uuid(const LibxlContext& ctx, uint32_t domid, const libxl_uuid& uuid) {
  Dominfo info;
  int rc = libxl_domain_info(ctx.get(), info.get(), domid);
  if (rc == ERROR_DOMAIN_NOTFOUND) return false;
  if (rc != 0)
    return make_error(Errc::kSystem, "libxl_domain_info on domain " + std::to_string(domid) +
                                         " failed: " + libxl_rc_name(rc));
  libxl_uuid copy = info.get()->uuid;
  return libxl_uuid_compare(&copy, &uuid) == 0;
}

Result<bool> destroy_if_ours(const LibxlContext& ctx, uint32_t domid, const libxl_uuid& uuid) {
  auto ours = domain_has_uuid(ctx, domid, uuid);
  if (!ours) return std::move(ours.error());
  if (!*ours) return false;
  int rc = libxl_domain_destroy(ctx.get(), domid, nullptr);
  if (rc != 0) {
    // Someone else may have destroyed it between our look and our destroy.
    auto still = domain_has_uuid(ctx, domid, uuid);
    if (still && !*still) return false;
    return make_error(Errc::kSystem, "libxl_domain_destroy on domain " + std::to_string(domid) +
                                         " failed: " + libxl_rc_name(rc));
  }
  return true;
}

Result<std::vector<uint32_t>> destroy_domains_with_uuid(const LibxlContext& ctx,
                                                        const libxl_uuid& uuid) {
  auto ids = domids_with_uuid(ctx, uuid);
  if (!ids) return std::move(ids.error());
  std::vector<uint32_t> destroyed;
  for (uint32_t id : *ids) {
    auto r = destroy_if_ours(ctx, id, uuid);
    if (!r) return std::move(r.error());
    if (*r) destroyed.push_back(id);
  }
  return destroyed;
}

void remove_backend_dir(uint32_t domid) {
  auto xs = transport::xen::XsHandle::open();
  auto r = xs ? xs->remove(transport::xen::backend_dir(domid)) : Result<void>(xs.error());
  if (!r)
    log::warn("cannot remove the ring backend directory of domain " + std::to_string(domid) + ": " +
              r.error().message());
}

}  // namespace ringbox::host::domain
