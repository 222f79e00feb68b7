// FileService: the metadata opcodes of protocol v2 (kSetattr, kLink, kStatfs). kFallocate, which
// works on a handle, is with the other handle opcodes in file_service.cc.
//
// Same pattern as path_ops.cc: copy and check, look up through the back end, check the policy on
// the symlink-free path, have the back end act on exactly that path.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <limits>

#include "host/files/file_service.h"
#include "host/files/request_decode.h"
#include "shared/util/log.h"

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
  AttrChange change;
  change.times[0] = wire_time(valid, proto::kSetAtime, proto::kSetAtimeNow, sa->attr.atime_ns);
  change.times[1] = wire_time(valid, proto::kSetMtime, proto::kSetMtimeNow, sa->attr.mtime_ns);
  change.set_mode = (valid & proto::kSetMode) != 0;

  if (by_handle) {
    // Any open handle, including one whose name is gone; the policy of the path it was opened by.
    auto f = lookup_handle(req.arg[0]);
    if (!f) return std::move(f.error());
    RINGBOX_TRY(check((*f)->path, Access::kWrite, "change attributes of"));
    if (change.set_mode) change.mode = storable_mode(sa->attr.mode, (*f)->path, "chmod");
    auto st = (*f)->file->setattr(change);
    if (!st) return std::move(st.error());
    return stat_reply(*st, req.out);
  }
  // By path: the final component itself, never followed (a symlink's own times can change; its
  // mode cannot, as for fchmodat(AT_SYMLINK_NOFOLLOW)).
  auto r = lookup(sa->path, Follow::kNo);
  if (!r) return std::move(r.error());
  RINGBOX_TRY(check(r->path, Access::kWrite, "change attributes of"));
  if (change.set_mode) {
    if (S_ISLNK(r->st.st_mode))
      return sys_error(EOPNOTSUPP, "chmod '" + printable(r->path) + "': a symlink has no mode");
    change.mode = storable_mode(sa->attr.mode, r->path, "chmod");
  }
  auto st = backend_->setattr(r->path, change);
  if (!st) return std::move(st.error());
  return stat_reply(*st, req.out);
}

Result<Reply> FileService::do_link(const Request& req) {
  auto paths = copy_link(req.in, req.arg[0]);
  if (!paths) return std::move(paths.error());
  // Both need write access: a second name must not open a write path to a file the job may
  // only read (a link into a writable directory would otherwise do exactly that).
  auto found = writable_pair(*paths, "link from", "link to");
  if (!found) return std::move(found.error());
  RINGBOX_TRY(backend_->link(found->from, found->to));
  return Reply{};
}

Result<Reply> FileService::do_statfs(const Request& req) {
  auto path = copy_path(req.in);  // copied before req.out (the same buffer) is written
  if (!path) return std::move(path.error());
  auto r = lookup(*path, Follow::kYes);
  if (!r) return std::move(r.error());
  // As for kStat: a directory on the way to something readable counts (the job's `df .` at the
  // view's root must work under a policy that reads only "in"); counts of blocks and inodes
  // reveal nothing about the files.
  RINGBOX_TRY(check_lookup(r->path, "statfs"));
  auto sv = backend_->statfs(r->path);
  if (!sv) return std::move(sv.error());
  auto n = proto::encode_wire_statfs(proto::wire_statfs_from(*sv), req.out);
  if (!n) return std::move(n.error());
  Reply rep;
  rep.out_len = static_cast<uint32_t>(*n);
  return rep;
}

}  // namespace ringbox::host::files
