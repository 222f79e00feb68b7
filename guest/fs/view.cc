// View: attributes and the namespace (lookup, getattr, setattr, mkdir, unlink, rmdir, rename,
// symlink, readlink). File I/O is in view_io.cc, directory listing in view_dir.cc.
#include "guest/fs/view.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "shared/util/log.h"

namespace ringbox::guest::fs {

namespace {
// Inode numbers shown in st_ino for files the host has not seen yet (lazy-file creations):
// the top bit keeps them apart from the host's numbers.
constexpr uint64_t kLocalInoBit = uint64_t{1} << 63;

int fail(fuse_req_t req, const Error& e) {
  int err = errno_of(e);
  if (err == EIO) log::warn("view: " + e.message());
  fuse_reply_err(req, err);
  return err;
}
}  // namespace

View::View(Remote& remote, LazyCache* cache, ViewOptions opts)
    : remote_(remote), cache_(cache), opts_(opts) {}

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
  st.st_mode = S_IFREG | f.perm;
  st.st_size = local.st_size;
  st.st_blocks = local.st_blocks;
  if (st.st_ino == 0 || !f.exists_remote) st.st_ino = kLocalInoBit | local.st_ino;
  if (f.dirty) {
    st.st_mtim = local.st_mtim;
    st.st_ctim = local.st_ctim;
  }
  return st;
}

Result<struct stat> View::stat_path(const std::string& path) {
  if (lazy()) {
    if (auto f = cache_->find(path)) return cached_stat(*f);
  }
  auto ws = remote_.lstat(path);
  if (!ws) return std::move(ws.error());
  return presented(*ws);
}

void View::reply_entry(fuse_req_t req, const std::string& path, const Result<struct stat>& st) {
  if (!st) {
    // A name that is not there is cached by nobody (negative timeout 0), so a file the host
    // gains later is seen.
    fail(req, st.error());
    return;
  }
  fuse_entry_param e{};
  e.ino = inodes_.remember(path);
  e.generation = 0;
  e.attr = *st;
  e.attr_timeout = timeout();
  e.entry_timeout = timeout();
  if (fuse_reply_entry(req, &e) != 0) inodes_.forget(e.ino, 1);  // the kernel never saw it
}

std::optional<std::string> View::path_or_reply(fuse_req_t req, fuse_ino_t ino) {
  auto p = inodes_.path(ino);
  if (!p) fuse_reply_err(req, ENOENT);
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

void View::lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  auto path = child_or_reply(req, parent, name);
  if (!path) return;
  reply_entry(req, *path, stat_path(*path));
}

void View::forget(fuse_ino_t ino, uint64_t nlookup) {
  inodes_.forget(ino, nlookup);
}

Result<struct stat> View::stat_file(OpenFile& f) {
  if (f.local) return cached_stat(*f.cached);
  auto ws = remote_.fstat(f.handle);
  if (!ws) return std::move(ws.error());
  return presented(*ws);
}

Result<struct stat> View::stat_open_inode(uint64_t ino) {
  std::shared_ptr<OpenFile> open_file;  // shared: another process may close it meanwhile
  {
    std::lock_guard lk(handles_mu_);
    for (auto& [fh, f] : files_) {
      if (f->ino == ino) {
        open_file = f;
        break;
      }
    }
  }
  if (!open_file)
    return Error{Errc::kRemote, ENOENT, "inode " + std::to_string(ino) + " has no name"};
  return stat_file(*open_file);
}

void View::getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Result<struct stat> st = Error{};
  if (OpenFile* f = fi ? file(fi->fh) : nullptr) {
    st = stat_file(*f);
  } else if (auto path = inodes_.path(ino)) {
    st = stat_path(*path);
  } else {
    // Unlinked (or replaced) while open: fstat(2) on it reaches us without a handle.
    st = stat_open_inode(ino);
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
      if (!S_ISREG(ws->mode)) return Error{Errc::kRemote, EINVAL, "truncate a non-file"};
      auto created = cache_->create_local(path, ws->mode, true);
      if (!created) return std::move(created.error());
      (*created)->remote = *ws;
      return ok();
    }
    auto fetched = cache_->fetch(path);
    if (!fetched) return std::move(fetched.error());
    f = *fetched;
  }
  if (::ftruncate(f->fd.get(), static_cast<off_t>(size)) != 0)
    return sys_error("truncate the cached copy of '" + path + "'");
  f->dirty = true;
  return ok();
}

void View::setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
                   fuse_file_info* fi) {
  // No wire operation changes owners or permission bits: say so rather than pretend.
  if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
    fuse_reply_err(req, EPERM);
    return;
  }
  auto path = inodes_.path(ino);
  if (to_set & FUSE_SET_ATTR_SIZE) {
    uint64_t size = static_cast<uint64_t>(attr->st_size);
    Result<void> r;
    OpenFile* f = fi ? file(fi->fh) : nullptr;
    if (f && f->local) {
      if (::ftruncate(f->cached->fd.get(), attr->st_size) != 0)
        r = sys_error("truncate");
      else
        f->cached->dirty = true;
    } else if (f) {
      r = remote_.ftruncate(f->handle, size);
    } else if (path) {
      r = truncate_path(*path, size);
    } else {
      fuse_reply_err(req, ENOENT);
      return;
    }
    if (!r) {
      fail(req, r.error());
      return;
    }
  }
  // Times (FUSE_SET_ATTR_ATIME/MTIME[_NOW]) are accepted and not applied; see view.h.
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

void View::mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  auto path = child_or_reply(req, parent, name);
  if (!path) return;
  if (lazy() && cache_->find(*path)) {
    fuse_reply_err(req, EEXIST);
    return;
  }
  auto r = remote_.mkdir(*path, mode);
  if (!r) {
    fail(req, r.error());
    return;
  }
  reply_entry(req, *path, stat_path(*path));
}

void View::unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  auto path = child_or_reply(req, parent, name);
  if (!path) return;
  bool remote_too = true;
  if (lazy()) {
    if (auto f = cache_->find(*path)) remote_too = f->exists_remote;
  }
  if (remote_too) {
    auto r = remote_.unlink(*path);
    if (!r) {
      fail(req, r.error());
      return;
    }
  }
  if (lazy()) cache_->erase(*path);
  inodes_.removed(*path);
  fuse_reply_err(req, 0);
}

void View::rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  auto path = child_or_reply(req, parent, name);
  if (!path) return;
  if (lazy() && cache_->has_entries_beneath(*path)) {
    fuse_reply_err(req, ENOTEMPTY);  // it holds files that exist only in the guest so far
    return;
  }
  auto r = remote_.rmdir(*path);
  if (!r) {
    fail(req, r.error());
    return;
  }
  inodes_.removed(*path);
  fuse_reply_err(req, 0);
}

void View::symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
  auto path = child_or_reply(req, parent, name);
  if (!path) return;
  if (lazy() && cache_->find(*path)) {
    fuse_reply_err(req, EEXIST);
    return;
  }
  auto r = remote_.symlink(target, *path);
  if (!r) {
    fail(req, r.error());
    return;
  }
  reply_entry(req, *path, stat_path(*path));
}

void View::rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
                  const char* newname, unsigned flags) {
  if (flags != 0) {
    fuse_reply_err(req, EINVAL);  // RENAME_NOREPLACE / RENAME_EXCHANGE have no wire form
    return;
  }
  auto from = child_or_reply(req, parent, name);
  if (!from) return;
  auto to = child_or_reply(req, newparent, newname);
  if (!to) return;
  std::shared_ptr<CachedFile> local_only;
  if (lazy()) {
    auto f = cache_->find(*from);
    if (f && !f->exists_remote) local_only = f;
  }
  bool to_exists_remote = false;
  if (local_only) {
    // The host has never seen `from`: the rename happens in the guest only, and the file goes
    // to its new name at write-back. Check the target the way rename(2) would.
    auto target = remote_.lstat(*to);
    if (target) {
      if (S_ISDIR(target->mode)) {
        fuse_reply_err(req, EISDIR);
        return;
      }
      to_exists_remote = true;
    } else if (errno_of(target.error()) != ENOENT) {
      fail(req, target.error());
      return;
    }
  } else {
    auto r = remote_.rename(*from, *to);
    if (!r) {
      fail(req, r.error());
      return;
    }
    to_exists_remote = true;
  }
  if (lazy()) cache_->rename(*from, *to, to_exists_remote);
  inodes_.renamed(*from, *to);
  fuse_reply_err(req, 0);
}

}  // namespace ringbox::guest::fs
