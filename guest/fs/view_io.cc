// View: opening, reading, writing and closing files.
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <tuple>
#include <vector>

#include "guest/fs/view.h"
#include "shared/util/file_io.h"
#include "shared/util/log.h"

namespace ringbox::guest::fs {

namespace {
void reply_error(fuse_req_t req, const Error& e) {
  int err = errno_of(e);
  if (err == EIO) log::warn("view: " + e.message());
  fuse_reply_err(req, err);
}
bool writable(int flags) {
  return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}
}  // namespace

uint64_t View::add_file(OpenFile f) {
  std::lock_guard lk(handles_mu_);
  uint64_t fh = next_fh_++;
  if (f.local)
    ++stats_.local_opens;
  else
    ++stats_.remote_opens;
  files_[fh] = std::make_shared<OpenFile>(std::move(f));
  return fh;
}

std::shared_ptr<View::OpenFile> View::drop_file(uint64_t fh) {
  std::lock_guard lk(handles_mu_);
  auto it = files_.find(fh);
  if (it == files_.end()) return nullptr;
  std::shared_ptr<OpenFile> f = std::move(it->second);
  files_.erase(it);
  return --f->opens == 0 ? f : nullptr;
}

bool View::share_open(fuse_req_t req, uint64_t ino, fuse_file_info* fi) {
  if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) return false;
  {
    std::lock_guard lk(handles_mu_);
    std::shared_ptr<OpenFile> shared;
    for (auto& [fh, f] : files_) {
      if (f->ino == ino && !f->local && (f->access == O_RDONLY || f->access == O_RDWR)) {
        shared = f;
        break;
      }
    }
    if (!shared) return false;
    ++shared->opens;
    fi->fh = next_fh_++;
    fi->direct_io = shared->direct ? 1 : 0;  // as the open it shares (View::open)
    files_[fi->fh] = std::move(shared);
    ++stats_.remote_opens;
  }
  fi->keep_cache = 0;
  if (fuse_reply_open(req, fi) != 0) {
    if (auto last = drop_file(fi->fh)) (void)remote_.close(last->handle);
  }
  return true;
}

View::OpenFile* View::file(uint64_t fh) {
  // The pointer stays valid until release(fh), and the kernel sends no request on a handle
  // after (or concurrently with) its release.
  std::lock_guard lk(handles_mu_);
  auto it = files_.find(fh);
  return it == files_.end() ? nullptr : it->second.get();
}

Result<View::OpenFile> View::open_lazy(uint64_t ino, const std::string& path, int flags,
                                       std::shared_ptr<CachedFile> f) {
  OpenFile of;
  of.local = true;
  // open(2) truncates with O_TRUNC whatever the access mode (O_RDONLY|O_TRUNC too).
  const bool truncate = flags & O_TRUNC;
  if (!f && truncate) {
    // The old contents are about to go: skip the fetch, start from an empty local copy.
    auto ws = remote_.lstat(path);
    if (!ws) return std::move(ws.error());
    if (!S_ISREG(ws->mode)) return Error{Errc::kRemote, EISDIR, "'" + path + "' is not a file"};
    auto created = cache_->create_local(path, ws->mode, true);
    if (!created) return std::move(created.error());
    (*created)->remote = *ws;
    (*created)->nlink = ws->nlink > 0 ? ws->nlink : 1;
    of.cached = *created;
    return of;
  }
  if (!f && auto_mode() && !writable(flags)) {
    auto decided = open_auto(ino, path, flags);
    if (!decided) return std::move(decided.error());
    if (*decided) return std::move(**decided);
  }
  if (!f) {
    auto fetched = fetch_copy(path);
    if (!fetched) {
      if (fetched.error().code != Errc::kTooLarge) return std::move(fetched.error());
      if (writable(flags)) return std::move(fetched.error());  // ENOSPC: see lazy_cache.h
      // Read-only and too large for the cache: serve this open by remote I/O.
      auto o = remote_.open(path, flags, 0);
      if (!o) return std::move(o.error());
      {
        std::lock_guard lk(handles_mu_);
        ++stats_.fallback_opens;
      }
      log::info("lazy-file: '" + path + "' does not fit the cache; reading it remotely");
      OpenFile remote_file;
      remote_file.handle = o->handle;
      return remote_file;
    }
    f = *fetched;
  }
  if (truncate) {
    f->dirty = true;
    if (::ftruncate(f->fd.get(), 0) != 0)
      return sys_error("truncate the cached copy of '" + path + "'");
  }
  of.cached = f;
  return of;
}

std::optional<View::OpenFile> View::open_host_file(fuse_req_t req, uint64_t ino,
                                                   fuse_file_info* fi) {
  // Asked again when a name change overlapped: opened by name in the gap between the host's
  // rename over it and the table's update, the inode would get the new file.
  for (int tries = 1;; ++tries) {
    auto named = inodes_.path_and_epoch(ino);
    std::optional<std::string> path;
    InodeTable::Epoch epoch;
    if (named) std::tie(path, epoch) = std::move(*named);
    bool by_replaced_name = false;
    if (!path) {
      // The file lost its name (a rename over it, an unlink) after the kernel resolved the
      // name to it. ESTALE would make the kernel look the name up once more (fs/namei.c,
      // LOOKUP_REVAL), and a reader that loses that race again fails its open: a reader
      // polling a file another process replaces atomically. Instead, as a local file system
      // opens the old inode, a read-only open shares the host handle of an open file of the
      // inode (also open("/proc/self/fd/N")); else, the open(2) being still under way, it
      // opens what the name holds now, which a local file system could answer too. A file
      // still open is never reopened by name: it must be that very file.
      if (share_open(req, ino, fi)) return std::nullopt;
      if (!open_file_of(ino)) {
        if (auto replaced = inodes_.replaced_name_and_epoch(ino)) {
          std::tie(path, epoch) = std::move(*replaced);
          by_replaced_name = true;
        }
      }
      if (!path) {
        fuse_reply_err(req, inodes_.gone_errno(ino));
        return std::nullopt;
      }
    }
    auto o = remote_.open(*path, fi->flags & ~O_CREAT, 0);
    // (An O_TRUNC open that succeeded is not asked again: what it truncated stays truncated.)
    const bool moved = tries < kNameRaceTries && !inodes_.unchanged_since(epoch, *path);
    if (!o) {
      if (moved && errno_of(o.error()) == ENOENT) {
        inodes_.wait_quiet(*path, kNameRaceWaitMs);
        continue;
      }
      reply_error(req, o.error());
      return std::nullopt;
    }
    if (moved && !(fi->flags & O_TRUNC)) {
      (void)remote_.close(o->handle);
      inodes_.wait_quiet(*path, kNameRaceWaitMs);
      continue;
    }
    if (by_replaced_name && (!o->has_stat || !S_ISREG(o->stat.mode))) {
      (void)remote_.close(o->handle);  // the name holds no file now: look it up again
      fuse_reply_err(req, ESTALE);
      return std::nullopt;
    }
    OpenFile of;
    of.handle = o->handle;
    of.access = fi->flags & O_ACCMODE;
    of.direct = by_replaced_name;
    return of;
  }
}

std::optional<View::OpenFile> View::open_cached_file(fuse_req_t req, uint64_t ino,
                                                     fuse_file_info* fi) {
  for (int tries = 1;; ++tries) {
    auto named = inodes_.path_and_epoch(ino);
    if (!named) {
      // No name any more (unlinked, or replaced by a rename). lazy-file still has the copy the
      // inode stood for (a reader that looked the name up just before an atomic replace, or
      // open("/proc/self/fd/N")): open it, as a local file system opens the old inode.
      // Otherwise ESTALE makes the kernel look the name up again (fs/namei.c, LOOKUP_REVAL),
      // which finds what the name holds now.
      std::shared_ptr<CachedFile> copy = copy_of(ino);
      if (!copy) {
        auto other = open_file_of(ino);
        if (other && other->local) copy = other->cached;
      }
      if (!copy) {
        fuse_reply_err(req, inodes_.gone_errno(ino));
        return std::nullopt;
      }
      OpenFile of;
      of.local = true;
      of.cached = copy;
      if (fi->flags & O_TRUNC) {
        of.cached->dirty = true;
        if (::ftruncate(of.cached->fd.get(), 0) != 0) {
          fuse_reply_err(req, errno);
          return std::nullopt;
        }
      }
      return of;
    }
    const auto& [path, epoch] = *named;
    // A rename moves the copy first, then the name: in between, the inode's old name holds
    // the new copy, and a fetch by that name gets the new file. Both are read between name
    // changes touching the name, or asked again once the change has ended.
    const bool more = tries < kNameRaceTries;
    auto copy = cache_->find(path);
    if (more && !inodes_.unchanged_since(epoch, path)) {
      inodes_.wait_quiet(path, kNameRaceWaitMs);
      continue;
    }
    auto r = open_lazy(ino, path, fi->flags, std::move(copy));
    // (An O_TRUNC open that succeeded is not asked again: what it truncated stays truncated.)
    const bool moved = more && !inodes_.unchanged_since(epoch, path);
    if (!r) {
      if (moved && errno_of(r.error()) == ENOENT) {
        inodes_.wait_quiet(path, kNameRaceWaitMs);
        continue;
      }
      reply_error(req, r.error());
      return std::nullopt;
    }
    if (moved && !(fi->flags & O_TRUNC)) {
      if (!r->local) (void)remote_.close(r->handle);
      inodes_.wait_quiet(path, kNameRaceWaitMs);
      continue;
    }
    return std::move(*r);
  }
}

void View::open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto opened = lazy() ? open_cached_file(req, ino, fi) : open_host_file(req, ino, fi);
  if (!opened) return;
  OpenFile of = std::move(*opened);
  of.ino = ino;
  if (of.local) note_copy(ino, of.cached);
  bool local = of.local;
  bool keep = of.local || of.autof;
  bool direct = of.direct;
  uint64_t handle = of.handle;
  fi->fh = add_file(std::move(of));
  // Page cache in every mode (so MAP_SHARED works). remote-io: dropped at every open, so an
  // open sees the submit side's bytes (O_DIRECT skips it altogether). lazy-file: the cached
  // copy changes only through this mount, so the kernel may keep its pages; auto keeps the
  // pages of a file it serves remotely too (they are its block cache). The one exception, an
  // open by the name a rename over the inode took, reads directly: the kernel would cut its
  // read(2)s at the replaced file's size, which it may not ask again within the same jiffy
  // (fuse_update_attributes). Only read(2): a MAP_SHARED mapping of such an open fails
  // (ENODEV), and a MAP_PRIVATE one still sees the inode's old size.
  fi->direct_io = direct ? 1 : 0;
  fi->keep_cache = keep ? 1 : 0;
  if (fuse_reply_open(req, fi) != 0) {
    // The opener was interrupted: undo, or the host handle would leak.
    if (auto last = drop_file(fi->fh); last && !local) (void)remote_.close(handle);
  }
}

void View::create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
                  fuse_file_info* fi) {
  auto path = child_or_reply(req, parent, name);
  if (!path) return;
  mode = masked(req, mode) & 07777;
  if (guest_only(*path) && (fi->flags & O_EXCL)) {
    fuse_reply_err(req, EEXIST);
    return;
  }
  OpenFile of;
  Result<struct stat> st = Error{};
  if (lazy()) {
    auto created = cache_->create_local(*path, mode, false);
    if (!created) {
      reply_error(req, created.error());
      return;
    }
    of.local = true;
    of.cached = *created;
    st = cached_stat(*of.cached);
    touch_dir(wire_parent(*path), true);
  } else {
    auto o = remote_.open(*path, fi->flags | O_CREAT, mode);
    if (!o) {
      reply_error(req, o.error());
      return;
    }
    of.handle = o->handle;
    of.access = fi->flags & O_ACCMODE;
    if (o->has_stat) {
      st = presented(o->stat);
    } else {
      auto ws = remote_.fstat(o->handle);
      st = ws ? Result<struct stat>(presented(*ws)) : Result<struct stat>(std::move(ws.error()));
    }
    if (!st) {
      (void)remote_.close(o->handle);
      reply_error(req, st.error());
      return;
    }
    touch_dir(wire_parent(*path), false);
  }
  if (!st) {
    reply_error(req, st.error());
    return;
  }
  fuse_entry_param e{};
  e.ino = inodes_.remember(*path);
  of.ino = e.ino;
  if (of.local) note_copy(e.ino, of.cached);
  bool local = of.local;
  uint64_t handle = of.handle;
  fi->fh = add_file(std::move(of));
  fi->direct_io = 0;
  fi->keep_cache = local ? 1 : 0;
  e.attr = *st;
  e.attr_timeout = timeout();
  e.entry_timeout = timeout();
  if (fuse_reply_create(req, &e, fi) != 0) {
    forget(e.ino, 1);
    if (auto last = drop_file(fi->fh); last && !local) (void)remote_.close(handle);
  }
}

void View::read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  OpenFile* f = file(fi->fh);
  if (!f) {
    fuse_reply_err(req, EBADF);
    return;
  }
  if (f->autof) {
    read_auto(req, *f, size, off);
    return;
  }
  if (f->local) {
    // Straight from the cached copy: libfuse reads (or splices) the range itself.
    fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
    buf.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
    buf.buf[0].fd = f->cached->fd.get();
    buf.buf[0].pos = off;
    fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
    return;
  }
  std::vector<std::byte> data(size);
  auto n = remote_.pread(f->handle, data, static_cast<uint64_t>(off));
  if (!n) {
    reply_error(req, n.error());
    return;
  }
  fuse_reply_buf(req, reinterpret_cast<const char*>(data.data()), *n);
}

void View::write(fuse_req_t req, fuse_ino_t, const char* buf, size_t size, off_t off,
                 fuse_file_info* fi) {
  OpenFile* f = file(fi->fh);
  if (!f) {
    fuse_reply_err(req, EBADF);
    return;
  }
  if (f->local) {
    // Marked dirty before the bytes land, so a write-back never misses a change.
    f->cached->dirty = true;
    auto done = write_fully(f->cached->fd.get(), std::as_bytes(std::span(buf, size)), off);
    if (!done) {
      // ENOSPC from the cache filesystem reaches the job as is.
      fuse_reply_err(req, done.error().sys_errno);
      return;
    }
    fuse_reply_write(req, *done);
    return;
  }
  auto n = remote_.pwrite(f->handle, std::span(reinterpret_cast<const std::byte*>(buf), size),
                          static_cast<uint64_t>(off));
  if (!n) {
    reply_error(req, n.error());
    return;
  }
  fuse_reply_write(req, *n);
}

void View::fsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info* fi) {
  OpenFile* f = file(fi->fh);
  if (!f) {
    fuse_reply_err(req, EBADF);
    return;
  }
  // A cached copy is made durable by the write-back at the end (the host fsyncs then); an
  // fsync in the guest cannot promise more than that.
  if (f->local) {
    fuse_reply_err(req, 0);
    return;
  }
  auto r = remote_.fsync(f->handle);
  if (!r) {
    reply_error(req, r.error());
    return;
  }
  fuse_reply_err(req, 0);
}

void View::fallocate(fuse_req_t req, fuse_ino_t, int mode, off_t offset, off_t length,
                     fuse_file_info* fi) {
  OpenFile* f = file(fi->fh);
  if (!f) {
    fuse_reply_err(req, EBADF);
    return;
  }
  if (f->local) {
    f->cached->dirty = true;
    if (::fallocate(f->cached->fd.get(), mode, offset, length) != 0) {
      fuse_reply_err(req, errno);
      return;
    }
    fuse_reply_err(req, 0);
    return;
  }
  auto r = remote_.fallocate(f->handle, mode, static_cast<uint64_t>(offset),
                             static_cast<uint64_t>(length));
  if (!r && errno_of(r.error()) == EOPNOTSUPP && mode == 0) {
    // The host's file system cannot reserve space: do what posix_fallocate(3) falls back to,
    // and make the file at least offset + length long (the new bytes read as zeros).
    auto ws = remote_.fstat(f->handle);
    if (!ws) {
      reply_error(req, ws.error());
      return;
    }
    uint64_t end = static_cast<uint64_t>(offset) + static_cast<uint64_t>(length);
    r = ws->size >= end ? ok() : remote_.ftruncate(f->handle, end);
  }
  if (!r) {
    reply_error(req, r.error());
    return;
  }
  fuse_reply_err(req, 0);
}

void View::release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  // The host handle closes with the last of the kernel's open files that share it.
  std::shared_ptr<OpenFile> f = drop_file(fi->fh);
  if (f && !f->local) {
    auto r = remote_.close(f->handle);
    if (!r) log::warn("view: close: " + r.error().message());
  }
  fuse_reply_err(req, 0);
}

}  // namespace ringbox::guest::fs
