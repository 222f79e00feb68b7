// Lookups confined beneath a directory with openat2(2) (Linux >= 5.6): the one place that
// calls it, for the export back end (host/files/export_root) and ringbox-submitd
// (host/submitd/confined_dir). Each caller picks its RESOLVE_* rule: both use RESOLVE_BENEATH
// (no absolute path, no ".." or symlink leading above the directory, checked by the kernel
// atomically during the walk) and RESOLVE_NO_MAGICLINKS; the export back end adds
// RESOLVE_NO_SYMLINKS. Source of the rule: openat2(2), "The resolve field".
#pragma once

#include <cstdint>
#include <string>

#include "shared/util/unique_fd.h"

namespace ringbox {

// openat2(dirfd, path, {flags | O_CLOEXEC, mode, resolve}): an fd, or -1 with errno set.
// mode is passed only with O_CREAT or O_TMPFILE (the kernel refuses it otherwise). Retries
// EINTR, and EAGAIN a bounded number of times (a concurrent rename or mount during a
// RESOLVE_BENEATH walk).
long openat2_beneath(int dirfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve);

// Opens dir as the root of confined lookups (O_PATH | O_DIRECTORY) and proves that openat2
// with resolve works on this kernel. Errors say what failed, on which directory, and what to
// do (an older kernel: Linux 5.6 or newer is needed).
Result<UniqueFd> open_beneath_root(const std::string& dir, uint64_t resolve);

}  // namespace ringbox
