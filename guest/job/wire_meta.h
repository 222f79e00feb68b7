// The v2 metadata opcodes eager's write-back needs beyond fs::Remote: kSetattr (mode and times
// of a path, after its kPutfile committed) and kLink (a second name for a returned file).
// Encoded with shared/protocol/codec.h; kept here so eager does not depend on the FUSE view's
// Remote.
//
// Errors: a refusal by the host is Errc::kRemote with the errno it maps to; a transport failure
// keeps its own code.
#pragma once

#include <sys/stat.h>

#include <string_view>

#include "shared/rpc/call.h"
#include "shared/util/result.h"

namespace ringbox::guest::job {

// Sets what `valid` (proto::SetattrValid bits) names: mode (permission bits <= 07777), atime,
// mtime (nanoseconds since the epoch). Acts on the final component (a symlink's own times).
Result<void> remote_setattr(rpc::Client& client, std::string_view path, uint32_t valid, mode_t mode,
                            const struct timespec& atime, const struct timespec& mtime);
// A hard link: `link_path` becomes a second name of `existing` (kExist when it is taken).
Result<void> remote_link(rpc::Client& client, std::string_view existing,
                         std::string_view link_path);

}  // namespace ringbox::guest::job
