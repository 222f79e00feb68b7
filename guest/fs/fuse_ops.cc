// The libfuse low-level callback table: each entry forwards to the View the session was
// created with (fuse_req_userdata). Nothing else lives here.
#include <atomic>

#include "guest/fs/fuse_busy.h"
#include "guest/fs/view.h"

namespace ringbox::guest::fs {
namespace {

std::atomic<int> g_busy{0};
// Counts one callback from entry to return (fuse_busy.h).
struct Busy {
  Busy() { g_busy.fetch_add(1); }
  ~Busy() { g_busy.fetch_sub(1); }
  Busy(const Busy&) = delete;
  Busy& operator=(const Busy&) = delete;
};

View& view_of(fuse_req_t req) {
  return *static_cast<View*>(fuse_req_userdata(req));
}

fuse_lowlevel_ops make_ops() {
  fuse_lowlevel_ops ops{};
  ops.init = [](void* userdata, fuse_conn_info* conn) { static_cast<View*>(userdata)->init(conn); };
  ops.lookup = [](fuse_req_t req, fuse_ino_t parent, const char* name) {
    const Busy busy;
    view_of(req).lookup(req, parent, name);
  };
  ops.forget = [](fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
    const Busy busy;
    view_of(req).forget(ino, nlookup);
    fuse_reply_none(req);
  };
  ops.forget_multi = [](fuse_req_t req, size_t count, fuse_forget_data* forgets) {
    const Busy busy;
    for (size_t i = 0; i < count; ++i) view_of(req).forget(forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
  };
  ops.getattr = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    const Busy busy;
    view_of(req).getattr(req, ino, fi);
  };
  ops.setattr = [](fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
                   fuse_file_info* fi) {
    const Busy busy;
    view_of(req).setattr(req, ino, attr, to_set, fi);
  };
  ops.readlink = [](fuse_req_t req, fuse_ino_t ino) {
    const Busy busy;
    view_of(req).readlink(req, ino);
  };
  ops.mkdir = [](fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
    const Busy busy;
    view_of(req).mkdir(req, parent, name, mode);
  };
  ops.unlink = [](fuse_req_t req, fuse_ino_t parent, const char* name) {
    const Busy busy;
    view_of(req).unlink(req, parent, name);
  };
  ops.rmdir = [](fuse_req_t req, fuse_ino_t parent, const char* name) {
    const Busy busy;
    view_of(req).rmdir(req, parent, name);
  };
  ops.mknod = [](fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
    const Busy busy;
    view_of(req).mknod(req, parent, name, mode, rdev);
  };
  ops.link = [](fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
    const Busy busy;
    view_of(req).link(req, ino, newparent, newname);
  };
  ops.statfs = [](fuse_req_t req, fuse_ino_t ino) {
    const Busy busy;
    view_of(req).statfs(req, ino);
  };
  ops.fallocate = [](fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                     fuse_file_info* fi) {
    const Busy busy;
    view_of(req).fallocate(req, ino, mode, offset, length, fi);
  };
  ops.symlink = [](fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
    const Busy busy;
    view_of(req).symlink(req, target, parent, name);
  };
  ops.rename = [](fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
                  const char* newname, unsigned flags) {
    const Busy busy;
    view_of(req).rename(req, parent, name, newparent, newname, flags);
  };
  ops.open = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    const Busy busy;
    view_of(req).open(req, ino, fi);
  };
  ops.create = [](fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
                  fuse_file_info* fi) {
    const Busy busy;
    view_of(req).create(req, parent, name, mode, fi);
  };
  ops.read = [](fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
    const Busy busy;
    view_of(req).read(req, ino, size, off, fi);
  };
  ops.write = [](fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
                 fuse_file_info* fi) {
    const Busy busy;
    view_of(req).write(req, ino, buf, size, off, fi);
  };
  ops.fsync = [](fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
    const Busy busy;
    view_of(req).fsync(req, ino, datasync, fi);
  };
  ops.release = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    const Busy busy;
    view_of(req).release(req, ino, fi);
  };
  ops.opendir = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    const Busy busy;
    view_of(req).opendir(req, ino, fi);
  };
  ops.readdir = [](fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
    const Busy busy;
    view_of(req).readdir(req, ino, size, off, fi);
  };
  ops.releasedir = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    const Busy busy;
    view_of(req).releasedir(req, ino, fi);
  };
  return ops;
}

}  // namespace

int fuse_requests_in_progress() {
  return g_busy.load();
}

namespace {
std::atomic<bool> g_released_for_vacate{false};
std::atomic<bool> g_released_for_stop{false};
}  // namespace

void release_holds_for_vacate(bool released) {
  g_released_for_vacate.store(released);
}

void release_holds_for_stop() {
  g_released_for_stop.store(true);
}

bool holds_released() {
  return g_released_for_vacate.load() || g_released_for_stop.load();
}

const fuse_lowlevel_ops& View::operations() {
  static const fuse_lowlevel_ops ops = make_ops();
  return ops;
}

}  // namespace ringbox::guest::fs
