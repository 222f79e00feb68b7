// Finding and destroying domains by UUID through libxl. XenDomain and the reaper destroy by
// UUID, never by a bare domain id: the UUID is ours from before creation, while a domain id is
// reused once its domain is gone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "host/domain/libxl_context.h"  // libxl.h, which declares libxl_uuid too
#include "shared/util/result.h"

namespace ringbox::host::domain {

std::string uuid_to_string(const libxl_uuid& uuid);
Result<libxl_uuid> uuid_from_string(const std::string& text);

// Domain ids of every domain with this UUID (normally none or one).
Result<std::vector<uint32_t>> domids_with_uuid(const LibxlContext& ctx, const libxl_uuid& uuid);

// Whether domain `domid` exists and has this UUID.
Result<bool> domain_has_uuid(const LibxlContext& ctx, uint32_t domid, const libxl_uuid& uuid);

// Destroys domain `domid` if it still has this UUID. True when it destroyed something.
Result<bool> destroy_if_ours(const LibxlContext& ctx, uint32_t domid, const libxl_uuid& uuid);

// Destroys every domain with this UUID; returns their ids.
Result<std::vector<uint32_t>> destroy_domains_with_uuid(const LibxlContext& ctx,
                                                        const libxl_uuid& uuid);

// Removes /local/domain/0/backend/ringbox/<domid>, the ring's backend directory, once the
// domain is gone: a later domain with the same id must not find a stale generation or vacate
// request there. Best effort: a failure is logged.
void remove_backend_dir(uint32_t domid);

}  // namespace ringbox::host::domain
