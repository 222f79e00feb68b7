// Helpers shared by the View's source files (view.cc, view_names.cc). Internal to guest/fs.
#pragma once

#include <cstdint>
#include <string>

#include "guest/fs/view.h"
#include "shared/util/log.h"

namespace ringbox::guest::fs::detail {

// Inode numbers shown in st_ino for files the host has not seen yet (lazy-file creations) and
// for local nodes: the top bits keep them apart from the host's numbers.
inline constexpr uint64_t kLocalInoBit = uint64_t{1} << 63;
inline constexpr uint64_t kNodeInoBit = uint64_t{1} << 62;

// Replies with the errno of e (EIO for transport failures, which are logged).
inline int fail(fuse_req_t req, const Error& e) {
  int err = errno_of(e);
  if (err == EIO) log::warn("view: " + e.message());
  fuse_reply_err(req, err);
  return err;
}

// An error the view itself answers with (errno_of() gives err back).
inline Error errno_error(int err, const std::string& what) {
  return Error{Errc::kRemote, err, what};
}

}  // namespace ringbox::guest::fs::detail
