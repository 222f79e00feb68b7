// One backend per domain. Two ringbox-host processes attached to the same guest would take
// each other's requests off one ring and answer them from two different file services. Each
// backend holds an exclusive flock on <dir>/backend-<domid>.lock for its connection's lifetime;
// the kernel drops it when the process dies, so a restarted host re-attaches freely while a
// second live one is refused with the first one's pid.
#pragma once

#include <cstdint>
#include <string>

#include "shared/util/unique_fd.h"

namespace ringbox::transport {

inline constexpr char kBackendLockDir[] = "/run/ringbox";

// The held lock (close the descriptor to release it), or kInvalidArgument naming the holder.
Result<UniqueFd> lock_backend(uint32_t domid, const std::string& dir = kBackendLockDir);

}  // namespace ringbox::transport
