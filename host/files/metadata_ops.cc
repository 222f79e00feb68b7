// FileService: the metadata opcodes of protocol v2 (kSetattr, kLink, kStatfs). kFallocate, which
// works on a handle, is with the other handle opcodes in file_service.cc.
//
// Same pattern as path_ops.cc: copy and check, resolve beneath the root, check the policy on
// the symlink-free path, act through the resolved fd or on one name inside the resolved parent.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <limits>

#include "host/files/file_service.h"
#include "host/files/lexical_path.h"
#include "host/files/request_decode.h"

namespace ringbox::host::files {

using rpc::Reply;
using rpc::Request;

namespace {

// One utimensat(2) time from a WireSetattr: UTIME_NOW, the given time, or UTIME_OMIT.
struct timespec wire_time(uint32_t valid, uint32_t set_bit, uint32_t now_bit, int64_t ns) {
  constexpr int64_t kNsPerSec = 1000000000;
  struct timespec ts {};
  if (valid & now_bit) {
    ts.tv_nsec = UTIME_NOW;
  } else if (valid & set_bit) {
    // floor division: a time before the epoch keeps 0 <= tv_nsec < 1e9
    int64_t sec = ns / kNsPerSec, rem = ns % kNsPerSec;
    if (rem < 0) {
      rem += kNsPerSec;
      --sec;
    }
    ts.tv_sec = static_cast<time_t>(sec);
    ts.tv_nsec = static_cast<long>(rem);
  } else {
    ts.tv_nsec = UTIME_OMIT;
  }
  return ts;
}

bool changes_times(uint32_t valid) {
  return (valid &
          (proto::kSetAtime | proto::kSetAtimeNow | proto::kSetMtime | proto::kSetMtimeNow)) != 0;
}

Reply stat_reply(const struct stat& st, std::span<std::byte> out) {
  Reply rep;
  if (out.size() >= sizeof(proto::WireStat)) {
    auto n = proto::encode_wire_stat(proto::wire_stat_from(st), out);
    if (n) rep.out_len = static_cast<uint32_t>(*n);
  }
  return rep;
}

}  // namespace

Result<Reply> FileService::do_setattr(const Request& req) {
  const bool by_handle = req.arg[0] != 0;
  auto sa = copy_setattr(req.in, by_handle);  // copied before req.out (the same buffer) is written
  if (!sa) return std::move(sa.error());
  const uint32_t valid = sa->attr.valid;
  struct timespec times[2] = {
      wire_time(valid, proto::kSetAtime, proto::kSetAtimeNow, sa->attr.atime_ns),
      wire_time(valid, proto::kSetMtime, proto::kSetMtimeNow, sa->attr.mtime_ns)};

  struct stat st {};
  if (by_handle) {
    // Any open handle, including one whose name is gone; the policy of the path it was opened by.
    auto f = lookup_handle(req.arg[0]);
    if (!f) return std::move(f.error());
    const int fd = (*f)->fd.get();
    RINGBOX_TRY(check((*f)->path, Access::kWrite, "change attributes of"));
    if (valid & proto::kSetMode) {
      const mode_t mode = storable_mode(sa->attr.mode, (*f)->path, "chmod");
      if (::fchmod(fd, mode) != 0) return sys_error("chmod '" + printable((*f)->path) + "'");
    }
    if (changes_times(valid) && ::futimens(fd, times) != 0)
      return sys_error("set times of '" + printable((*f)->path) + "'");
    if (::fstat(fd, &st) != 0) return sys_error("stat '" + printable((*f)->path) + "'");
    return stat_reply(st, req.out);
  }

  // By path: the final component itself, never followed (a symlink's own times can change; its
  // mode cannot, as for fchmodat(AT_SYMLINK_NOFOLLOW)).
  auto r = root_.resolve(sa->path, Follow::kNo);
  if (!r) return std::move(r.error());
  RINGBOX_TRY(check(r->path, Access::kWrite, "change attributes of"));
  if (valid & proto::kSetMode) {
    if (S_ISLNK(r->st.st_mode))
      return sys_error(EOPNOTSUPP, "chmod '" + printable(r->path) + "': a symlink has no mode");
    const mode_t mode = storable_mode(sa->attr.mode, r->path, "chmod");
    auto ch = root_.chmod_fd(r->fd.get(), mode);  // r->fd is O_PATH: chmod through /proc
    if (!ch) return sys_error(ch.error().sys_errno, "chmod '" + printable(r->path) + "'");
  }
  // AT_EMPTY_PATH on the O_PATH fd: the very object resolved, no lookup, nothing followed.
  if (changes_times(valid) &&
      ::utimensat(r->fd.get(), "", times, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
    return sys_error("set times of '" + printable(r->path) + "'");
  if (::fstat(r->fd.get(), &st) != 0) return sys_error("stat '" + printable(r->path) + "'");
  return stat_reply(st, req.out);
}

Result<Reply> FileService::do_link(const Request& req) {
  auto paths = copy_link(req.in, req.arg[0]);
  if (!paths) return std::move(paths.error());
  auto from = root_.resolve_parent(paths->from);
  if (!from) return std::move(from.error());
  auto to = root_.resolve_parent(paths->to);
  if (!to) return std::move(to.error());
  // Both need write access: a second name must not open a write path to a file the job may
  // only read (a link into a writable directory would otherwise do exactly that).
  RINGBOX_TRY(check(from->path(), Access::kWrite, "link from"));
  RINGBOX_TRY(check(to->path(), Access::kWrite, "link to"));
  struct stat st {};
  if (::fstatat(from->dir.get(), from->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return sys_error("link '" + printable(from->path()) + "' in the export");
  if (S_ISDIR(st.st_mode))
    return sys_error(EPERM, "link '" + printable(from->path()) + "': a directory");
  // linkat(2) without AT_SYMLINK_FOLLOW: a symlink is linked itself, never followed. (A
  // directory swapped in meanwhile fails with EPERM in the kernel too.)
  if (::linkat(from->dir.get(), from->name.c_str(), to->dir.get(), to->name.c_str(), 0) != 0)
    return sys_error("link '" + printable(from->path()) + "' as '" + printable(to->path()) +
                     "' in the export");
  return Reply{};
}

Result<Reply> FileService::do_statfs(const Request& req) {
  auto path = copy_path(req.in);  // copied before req.out (the same buffer) is written
  if (!path) return std::move(path.error());
  auto r = root_.resolve(*path, Follow::kYes);
  if (!r) return std::move(r.error());
  // As for kStat: a directory on the way to something readable counts (the job's `df .` at the
  // view's root must work under a policy that reads only "in"); counts of blocks and inodes
  // reveal nothing about the files.
  RINGBOX_TRY(check_lookup(r->path, "statfs"));
  struct statvfs sv {};
  if (::fstatvfs(r->fd.get(), &sv) != 0) return sys_error("statfs '" + printable(r->path) + "'");
  auto n = proto::encode_wire_statfs(proto::wire_statfs_from(sv), req.out);
  if (!n) return std::move(n.error());
  Reply rep;
  rep.out_len = static_cast<uint32_t>(*n);
  return rep;
}

}  // namespace ringbox::host::files
