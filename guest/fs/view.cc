// View: attributes (lookup, getattr, setattr, readlink) and the helpers every part shares.
// Namespace changes are in view_names.cc, file I/O in view_io.cc, directory listing in
// view_dir.cc.
#include "guest/fs/view.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "guest/fs/view_util.h"
#include "shared/util/log.h"

namespace ringbox::guest::fs {

using detail::errno_error;
using detail::fail;
using detail::kLocalInoBit;
using detail::kNodeInoBit;

namespace {
struct timespec now_ts() {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return t;
}

int64_t ns_of(const struct timespec& t) {
  return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec;
}

bool later(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec != b.tv_sec ? a.tv_sec > b.tv_sec : a.tv_nsec > b.tv_nsec;
}
}  // namespace

View::View(Remote& remote, LazyCache* cache, ViewOptions opts)
    : remote_(remote), cache_(cache), opts_(opts) {
  if (auto_mode()) fetcher_ = std::thread([this] { fetch_loop(); });
}

View::~View() {
  stop_background();
}

void View::stop_background() {
  if (!fetcher_.joinable()) return;
  {
    std::lock_guard lk(fetch_mu_);
    fetch_stop_ = true;
  }
  fetch_cancel_ = true;
  fetch_cv_.notify_all();
  fetcher_.join();
  auto s = stats();
  log::info("auto: files fetched at open " + std::to_string(s.auto_fetched_at_open) +
            ", opens served remotely " + std::to_string(s.auto_remote_opens) +
            ", files fetched after remote reads " + std::to_string(s.auto_switched) +
            " (round trip " + std::to_string(static_cast<int>(auto_policy_.rtt_us())) +
            " us, fetch " + std::to_string(static_cast<int>(auto_policy_.fetch_bytes_per_us())) +
            " MB/s)");
}

ViewStats View::stats() const {
  std::lock_guard lk(handles_mu_);
  return stats_;
}

void View::init(fuse_conn_info* conn) {
  conn->max_write = kMaxWriteBytes;
  conn->max_readahead = kMaxWriteBytes;
  // Every write must reach the view in order (the host, or the local copy the write-back log
  // tracks); a kernel writeback cache would hold them back.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  // The kernel leaves the umask to us (masked()), so the mode the host gets is final and the
  // host applies no umask of its own (protocol v2 "Modes").
  if (conn->capable & FUSE_CAP_DONT_MASK) conn->want |= FUSE_CAP_DONT_MASK;
  // The kernel clears setuid/setgid on write and truncate itself (a setattr of the mode), as
  // Linux does for a local file, instead of leaving it to us.
  conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
  // remote-io: a file's pages are dropped at every open (no keep_cache); revalidating them
  // before every read as well would cost a getattr round trip per read(2). Reads past the
  // known end of file still ask for the size.
  if (!lazy()) conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
}

struct stat View::presented(const proto::WireStat& ws) const {
  struct stat st = proto::stat_from_wire(ws);
  st.st_uid = opts_.uid;
  st.st_gid = opts_.gid;
  return st;
}

Result<struct stat> View::cached_stat(const CachedFile& f) const {
  struct stat local;
  if (::fstat(f.fd.get(), &local) != 0) return sys_error("stat a cached copy");
  struct stat st = presented(f.remote);
  st.st_mode = S_IFREG | f.perm.load();
  st.st_size = local.st_size;
  st.st_blocks = local.st_blocks;
  st.st_nlink = f.nlink.load();
  if (st.st_ino == 0) st.st_ino = kLocalInoBit | local.st_ino;
  if (f.dirty) {
    st.st_atim = local.st_atim;
    st.st_mtim = local.st_mtim;
    st.st_ctim = local.st_ctim;
  }
  return st;
}

struct stat View::node_stat(const LocalNode& n) const {
  struct stat st {};
  st.st_ino = n.ino;
  st.st_mode = n.mode;
  st.st_nlink = n.nlink;
  st.st_uid = opts_.uid;
  st.st_gid = opts_.gid;
  st.st_blksize = 4096;
  st.st_atim = n.atime;
  st.st_mtim = n.mtime;
  st.st_ctim = n.ctime;
  return st;
}

Result<struct stat> View::stat_path(const std::string& path, std::shared_ptr<CachedFile>* copy) {
  if (auto n = nodes_.find(path)) return node_stat(nodes_.read(*n));
  if (lazy()) {
    if (auto f = cache_->find(path)) {
      if (copy) *copy = f;
      return cached_stat(*f);
    }
  }
  auto ws = remote_.lstat(path);
  if (!ws) return std::move(ws.error());
  struct stat st = presented(*ws);
  if (S_ISDIR(st.st_mode)) apply_dir_times(path, st);
  return st;
}

void View::reply_entry(fuse_req_t req, const std::string& path, const Result<struct stat>& st) {
  if (!st) {
    // A name that is not there is cached by nobody (negative timeout 0), so a file the host
    // gains later is seen.
    fail(req, st.error());
    return;
  }
  reply_remembered(req, inodes_.remember(path, S_ISDIR(st->st_mode)), path, *st,
                   lazy() ? cache_->find(path) : nullptr);
}

void View::reply_remembered(fuse_req_t req, uint64_t ino, const std::string& path,
                            const struct stat& st, std::shared_ptr<CachedFile> copy) {
  fuse_entry_param e{};
  e.ino = ino;
  if (lazy() && S_ISREG(st.st_mode)) note_copy(e.ino, std::move(copy));
  // auto: the size from the lookup lets an open decide without a round trip of its own.
  if (auto_mode() && S_ISREG(st.st_mode)) (void)auto_file(e.ino, st.st_size);
  if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
    if (auto n = nodes_.find(path)) {
      std::lock_guard lk(meta_mu_);
      node_inos_[e.ino] = n;
    }
  }
  e.generation = 0;
  e.attr = st;
  e.attr_timeout = timeout();
  e.entry_timeout = timeout();
  if (fuse_reply_entry(req, &e) != 0) forget(e.ino, 1);  // the kernel never saw it
}

std::optional<std::string> View::path_or_reply(fuse_req_t req, fuse_ino_t ino) {
  auto p = inodes_.path(ino);
  if (!p) fuse_reply_err(req, inodes_.gone_errno(ino));
  return p;
}

std::optional<std::string> View::child_or_reply(fuse_req_t req, fuse_ino_t parent,
                                                const char* name) {
  std::string_view n(name);
  if (n.size() > proto::kMaxNameBytes) {
    fuse_reply_err(req, ENAMETOOLONG);
    return std::nullopt;
  }
  if (!proto::is_valid_name(n)) {
    fuse_reply_err(req, EINVAL);
    return std::nullopt;
  }
  auto p = inodes_.child_path(parent, n);
  if (!p) {
    fuse_reply_err(req, ENOENT);
    return std::nullopt;
  }
  if (p->size() > proto::kMaxPathBytes) {
    fuse_reply_err(req, ENAMETOOLONG);
    return std::nullopt;
  }
  return p;
}

mode_t View::masked(fuse_req_t req, mode_t mode) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  return ctx ? mode & ~ctx->umask : mode;
}

bool View::guest_only(const std::string& path) const {
  if (nodes_.find(path)) return true;
  if (!lazy()) return false;
  CacheEntry e = cache_->entry(path);
  return e.file && !e.exists_remote;
}

bool View::guest_only_beneath(const std::string& dir) const {
  return nodes_.any_beneath(dir) || (lazy() && cache_->has_entries_beneath(dir));
}

size_t View::longest_guest_only_beneath(const std::string& dir) const {
  size_t n = nodes_.longest_beneath(dir);
  if (lazy()) n = std::max(n, cache_->longest_beneath(dir));
  return n;
}

Result<bool> View::exists(const std::string& path) {
  if (guest_only(path)) return true;
  if (lazy() && cache_->find(path)) return true;
  auto ws = remote_.lstat(path);
  if (ws) return true;
  if (errno_of(ws.error()) == ENOENT) return false;
  return std::move(ws.error());
}

void View::touch_dir(const std::string& dir, bool guest_only_change) {
  if (guest_only_change) {
    std::lock_guard lk(meta_mu_);
    dir_changed_[dir] = now_ts();
  }
  if (lazy()) cache_->dir_changed(dir);
}

void View::apply_dir_times(const std::string& dir, struct stat& st) const {
  std::lock_guard lk(meta_mu_);
  auto it = dir_changed_.find(dir);
  if (it == dir_changed_.end()) return;
  if (later(it->second, st.st_mtim)) st.st_mtim = it->second;
  if (later(it->second, st.st_ctim)) st.st_ctim = it->second;
}

void View::lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (!child_or_reply(req, parent, name)) return;
  // The inode is remembered only if no name change overlapped the host's answer: a rename
  // over the name in between would give the old file's inode the new file's attributes.
  // lazy-file: the copy the attributes are of is the one the inode stands for, found in the
  // same window (after it, a rename may have put another copy under the name).
  for (int tries = 1;; ++tries) {
    auto named = inodes_.child_path_and_epoch(parent, name);
    if (!named || named->first.size() > proto::kMaxPathBytes) {
      fuse_reply_err(req, named ? ENAMETOOLONG : ENOENT);  // its directory moved meanwhile
      return;
    }
    const auto& [path, epoch] = *named;
    std::shared_ptr<CachedFile> copy;
    auto st = stat_path(path, &copy);
    const bool last = tries == kNameRaceTries;
    if (!st && !last && errno_of(st.error()) == ENOENT && !inodes_.unchanged_since(epoch, path)) {
      inodes_.wait_quiet(path, kNameRaceWaitMs);  // a name a change was moving: ask again
      continue;
    }
    if (!st || last) {
      reply_entry(req, path, st);
      return;
    }
    if (auto ino = inodes_.remember_if_unchanged(path, S_ISDIR(st->st_mode), epoch)) {
      reply_remembered(req, *ino, path, *st, std::move(copy));
      return;
    }
    inodes_.wait_quiet(path, kNameRaceWaitMs);
  }
}

void View::forget(fuse_ino_t ino, uint64_t nlookup) {
  if (inodes_.forget(ino, nlookup)) {
    std::lock_guard lk(meta_mu_);
    node_inos_.erase(ino);
    ino_files_.erase(ino);
    if (auto_mode()) {
      std::lock_guard fl(fetch_mu_);
      auto_files_.erase(ino);
    }
  }
}

void View::note_copy(uint64_t ino, std::shared_ptr<CachedFile> f) {
  if (!f) return;
  std::lock_guard lk(meta_mu_);
  ino_files_[ino] = std::move(f);
}

std::shared_ptr<CachedFile> View::copy_of(uint64_t ino) {
  std::lock_guard lk(meta_mu_);
  auto it = ino_files_.find(ino);
  return it == ino_files_.end() ? nullptr : it->second;
}

Result<struct stat> View::stat_file(OpenFile& f) {
  if (f.local) return cached_stat(*f.cached);
  auto ws = remote_.fstat(f.handle);
  if (!ws) return std::move(ws.error());
  return presented(*ws);
}

std::shared_ptr<View::OpenFile> View::open_file_of(uint64_t ino) {
  std::lock_guard lk(handles_mu_);
  for (auto& [fh, f] : files_)
    if (f->ino == ino) return f;  // shared: another process may close it meanwhile
  return nullptr;
}

Result<struct stat> View::stat_open_inode(uint64_t ino) {
  {
    std::lock_guard lk(meta_mu_);
    auto it = node_inos_.find(ino);
    if (it != node_inos_.end()) return node_stat(nodes_.read(*it->second));
    auto f = ino_files_.find(ino);
    if (f != ino_files_.end()) return cached_stat(*f->second);
  }
  auto open_file = open_file_of(ino);
  if (!open_file)
    return errno_error(inodes_.gone_errno(ino), "inode " + std::to_string(ino) + " has no name");
  return stat_file(*open_file);
}

void View::getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Result<struct stat> st = Error{};
  if (OpenFile* f = fi ? file(fi->fh) : nullptr) {
    st = stat_file(*f);
  } else {
    // By name, asked again if a name change overlapped the answer (it may be another file's).
    for (int tries = 1;; ++tries) {
      auto named = inodes_.path_and_epoch(ino);
      if (!named) {
        // Unlinked (or replaced) while open: fstat(2) on it reaches us without a handle.
        st = stat_open_inode(ino);
        break;
      }
      st = stat_path(named->first);
      if (tries == kNameRaceTries || inodes_.unchanged_since(named->second, named->first)) break;
      inodes_.wait_quiet(named->first, kNameRaceWaitMs);
    }
  }
  if (!st) {
    fail(req, st.error());
    return;
  }
  fuse_reply_attr(req, &*st, timeout());
}

Result<void> View::truncate_path(const std::string& path, uint64_t size) {
  if (!lazy()) return remote_.truncate(path, size);
  auto f = cache_->find(path);
  if (!f) {
    if (size == 0) {
      // Nothing of the old contents survives: no need to fetch them.
      auto ws = remote_.lstat(path);
      if (!ws) return std::move(ws.error());
      if (!S_ISREG(ws->mode)) return errno_error(EINVAL, "truncate a non-file");
      auto created = cache_->create_local(path, ws->mode, true);
      if (!created) return std::move(created.error());
      (*created)->remote = *ws;
      (*created)->nlink = ws->nlink > 0 ? ws->nlink : 1;
      return ok();
    }
    auto fetched = cache_->fetch(path);
    if (!fetched) return std::move(fetched.error());
    f = *fetched;
  }
  f->dirty = true;
  if (::ftruncate(f->fd.get(), static_cast<off_t>(size)) != 0)
    return sys_error("truncate the cached copy of '" + path + "'");
  return ok();
}

namespace {
// The times part of a FUSE setattr as kSetattr bits (utimensat(2): UTIME_NOW takes the
// clock, a time not named is left alone).
proto::WireSetattr wire_times(const struct stat& attr, int to_set) {
  proto::WireSetattr sa{};
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
    sa.valid |= proto::kSetAtimeNow;
  } else if (to_set & FUSE_SET_ATTR_ATIME) {
    sa.valid |= proto::kSetAtime;
    sa.atime_ns = ns_of(attr.st_atim);
  }
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
    sa.valid |= proto::kSetMtimeNow;
  } else if (to_set & FUSE_SET_ATTR_MTIME) {
    sa.valid |= proto::kSetMtime;
    sa.mtime_ns = ns_of(attr.st_mtim);
  }
  return sa;
}

// The same for futimens(2) on a local copy.
void local_times(const struct stat& attr, int to_set, struct timespec ts[2]) {
  ts[0] = ts[1] = timespec{};
  ts[0].tv_nsec = UTIME_OMIT;
  ts[1].tv_nsec = UTIME_OMIT;
  if (to_set & FUSE_SET_ATTR_ATIME_NOW)
    ts[0].tv_nsec = UTIME_NOW;
  else if (to_set & FUSE_SET_ATTR_ATIME)
    ts[0] = attr.st_atim;
  if (to_set & FUSE_SET_ATTR_MTIME_NOW)
    ts[1].tv_nsec = UTIME_NOW;
  else if (to_set & FUSE_SET_ATTR_MTIME)
    ts[1] = attr.st_mtim;
}

struct timespec apply_time(const struct timespec& set, const struct timespec& old,
                           const struct timespec& now) {
  if (set.tv_nsec == UTIME_OMIT) return old;
  if (set.tv_nsec == UTIME_NOW) return now;
  return set;
}
}  // namespace

Result<void> View::setattr_path(uint64_t ino, const std::optional<std::string>& path,
                                const struct stat& attr, int to_set, fuse_file_info* fi) {
  const bool set_mode = to_set & FUSE_SET_ATTR_MODE;
  const int time_bits =
      FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW;
  const bool set_times = to_set & time_bits;
  const mode_t perm = attr.st_mode & 07777;
  OpenFile* f = fi ? file(fi->fh) : nullptr;

  // A local node: everything stays in the guest.
  std::shared_ptr<LocalNode> node = path ? nodes_.find(*path) : nullptr;
  if (!node && !f) {
    std::lock_guard lk(meta_mu_);
    auto it = node_inos_.find(ino);
    if (it != node_inos_.end()) node = it->second;
  }
  if (node) {
    if (to_set & FUSE_SET_ATTR_SIZE) return errno_error(EINVAL, "truncate a FIFO or socket");
    struct timespec ts[2];
    local_times(attr, to_set, ts);
    struct timespec now = now_ts();
    nodes_.update(*node, [&](LocalNode& n) {
      if (set_mode) n.mode = (n.mode & S_IFMT) | perm;
      n.atime = apply_time(ts[0], n.atime, now);
      n.mtime = apply_time(ts[1], n.mtime, now);
      n.ctime = now;
    });
    return ok();
  }

  if (to_set & FUSE_SET_ATTR_SIZE) {
    uint64_t size = static_cast<uint64_t>(attr.st_size);
    if (f && f->local) {
      f->cached->dirty = true;
      if (::ftruncate(f->cached->fd.get(), attr.st_size) != 0) return sys_error("truncate");
    } else if (f) {
      RINGBOX_TRY(remote_.ftruncate(f->handle, size));
    } else if (path) {
      RINGBOX_TRY(truncate_path(*path, size));
    } else {
      return errno_error(inodes_.gone_errno(ino), "truncate a file that has no name");
    }
  }
  if (!set_mode && !set_times) return ok();

  // A cached copy (lazy-file): a changed copy keeps its metadata until the write-back sends it
  // with the bytes; a copy still equal to the host's file has its metadata changed on the host
  // at once, like any other host file.
  std::shared_ptr<CachedFile> cached;
  if (f && f->local) cached = f->cached;
  if (!cached && lazy() && path) cached = cache_->find(*path);
  if (cached && (cached->dirty || !path)) {
    if (set_mode) {
      cached->perm = perm;
      // Leaves the copy's own bits alone (root reads and writes it anyway); the call only moves
      // its ctime, which the job sees.
      (void)::fchmod(cached->fd.get(), 0600);
    }
    if (set_times) {
      struct timespec ts[2];
      local_times(attr, to_set, ts);
      if (!cached->dirty) {
        // An unlinked copy equal to the host's: its times live in the remote stat.
        struct timespec now = now_ts();
        auto to_ts = [](int64_t ns) {
          return timespec{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
        };
        cached->remote.atime_ns = ns_of(apply_time(ts[0], to_ts(cached->remote.atime_ns), now));
        cached->remote.mtime_ns = ns_of(apply_time(ts[1], to_ts(cached->remote.mtime_ns), now));
      } else if (::futimens(cached->fd.get(), ts) != 0) {
        return sys_error("set the times of a cached copy");
      }
    }
    return ok();
  }

  proto::WireSetattr sa = wire_times(attr, to_set);
  if (set_mode) {
    sa.valid |= proto::kSetMode;
    sa.mode = perm;
  }
  Result<OpenReply> r = Error{};
  if (f && !f->local)
    r = remote_.fsetattr(f->handle, sa);
  else if (path)
    r = remote_.setattr(*path, sa);
  else
    return errno_error(inodes_.gone_errno(ino), "change a file that has no name");
  if (!r) return std::move(r.error());
  if (cached && r->has_stat) {
    cached->perm = r->stat.mode & 07777;
    cached->remote = r->stat;
    if (auto local = cached_stat(*cached); local) cached->remote.size = local->st_size;
  }
  if (path && r->has_stat && S_ISDIR(r->stat.mode) && set_times) {
    // Times the job set on a directory win over the guest's own record of changes in it, and,
    // in lazy-file, are applied again after the write-back (which changes the directory).
    {
      std::lock_guard lk(meta_mu_);
      dir_changed_.erase(*path);
    }
    if (lazy()) {
      proto::WireSetattr t{};
      if (sa.valid & (proto::kSetAtime | proto::kSetAtimeNow)) {
        t.valid |= proto::kSetAtime;
        t.atime_ns = r->stat.atime_ns;
      }
      if (sa.valid & (proto::kSetMtime | proto::kSetMtimeNow)) {
        t.valid |= proto::kSetMtime;
        t.mtime_ns = r->stat.mtime_ns;
      }
      cache_->note_dir_times(*path, t);
    }
  }
  return ok();
}

void View::setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
                   fuse_file_info* fi) {
  // Owners: every file is the job's. Giving it to the job again changes nothing; giving it to
  // anyone else is what chown(2) refuses an unprivileged owner (EPERM).
  if (((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != opts_.uid) ||
      ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != opts_.gid)) {
    fuse_reply_err(req, EPERM);
    return;
  }
  auto path = inodes_.path(ino);
  if (auto r = setattr_path(ino, path, *attr, to_set, fi); !r) {
    fail(req, r.error());
    return;
  }
  getattr(req, ino, fi);
}

void View::readlink(fuse_req_t req, fuse_ino_t ino) {
  auto path = path_or_reply(req, ino);
  if (!path) return;
  auto target = remote_.readlink(*path);
  if (!target) {
    fail(req, target.error());
    return;
  }
  fuse_reply_readlink(req, target->c_str());
}

}  // namespace ringbox::guest::fs
