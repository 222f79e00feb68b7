// Helpers the Session's command files share (host/submitd/session*.cc only).
#pragma once

#include <sys/stat.h>
#include <sys/statfs.h>

#include <optional>
#include <string>

#include "shared/chirp/codec.h"

namespace ringbox::submitd::detail {

inline constexpr int64_t kMaxFdNumber = INT32_MAX;
inline constexpr size_t kListingFlushBytes = 64 * 1024;  // getdir output is sent in pieces
inline constexpr int64_t kMaxReadlinkBytes = 4096;
inline constexpr size_t kSendfileBytes = 64 * 1024;  // reads at least this large use sendfile(2)

// A number argument in [lo, hi], or nothing (the caller answers -8).
std::optional<int64_t> num(const std::string& s, int64_t lo, int64_t hi);
chirp::StatLine to_line(const struct stat& st);
std::string statfs_line(const struct statfs& sf);
// The errno an Error carries (EINVAL when it has none).
int err_of(const Error& e);
// Deletes name in dirfd and everything beneath it without following symlinks, at most
// depth_left levels deep. Returns 0 or an errno.
int remove_tree(int dirfd, const std::string& name, int depth_left);

}  // namespace ringbox::submitd::detail
