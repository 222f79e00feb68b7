// View: namespace changes (mkdir, mknod, unlink, rmdir, symlink, link, rename) and statfs.
// Names only the guest has (FIFOs and sockets in every mode, lazy-file files not written back
// yet) are checked and moved here along with the host's, so rename and unlink follow POSIX
// whatever the host sees (issue 8).
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>

#include "guest/fs/view.h"
#include "guest/fs/view_util.h"

namespace ringbox::guest::fs {

using detail::errno_error;
using detail::fail;
using detail::kLocalInoBit;
using detail::kNodeInoBit;

void View::mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  auto path = child_or_reply(req, parent, name);
  if (!path) return;
  if (guest_only(*path) || (lazy() && cache_->find(*path))) {
    fuse_reply_err(req, EEXIST);
    return;
  }
  auto r = remote_.mkdir(*path, masked(req, mode) & 07777);
  if (!r) {
    fail(req, r.error());
    return;
  }
  touch_dir(wire_parent(*path), false);
  reply_entry(req, *path, stat_path(*path));
}

void View::mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t) {
  auto path = child_or_reply(req, parent, name);
  if (!path) return;
  mode = masked(req, mode);
  const mode_t type = mode & S_IFMT;
  if (type == S_IFCHR || type == S_IFBLK) {
    fuse_reply_err(req, EPERM);  // no devices in the view, as on a nodev mount for a job
    return;
  }
  if (type != S_IFIFO && type != S_IFSOCK && type != S_IFREG && type != 0) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  auto there = exists(*path);
  if (!there) {
    fail(req, there.error());
    return;
  }
  if (*there) {
    fuse_reply_err(req, EEXIST);
    return;
  }
  if (type == S_IFIFO || type == S_IFSOCK) {
    uint64_t st_ino;
    {
      std::lock_guard lk(meta_mu_);
      st_ino = kNodeInoBit | next_local_ino_++;
    }
    if (!nodes_.add(*path, type | (mode & 07777), st_ino)) {
      fuse_reply_err(req, EEXIST);
      return;
    }
    touch_dir(wire_parent(*path), true);
    reply_entry(req, *path, stat_path(*path));
    return;
  }
  // mknod(2) of a regular file: an empty file, as create would make it.
  if (lazy()) {
    auto created = cache_->create_local(*path, mode & 07777, false);
    if (!created) {
      fail(req, created.error());
      return;
    }
    touch_dir(wire_parent(*path), true);
  } else {
    auto o = remote_.open(*path, O_WRONLY | O_CREAT | O_EXCL, mode & 07777);
    if (!o) {
      fail(req, o.error());
      return;
    }
    (void)remote_.close(o->handle);
    touch_dir(wire_parent(*path), false);
  }
  reply_entry(req, *path, stat_path(*path));
}

void View::unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  auto path = child_or_reply(req, parent, name);
  if (!path) return;
  InodeTable::NameChange change(inodes_, *path);
  if (nodes_.erase(*path)) {
    inodes_.removed(*path);
    touch_dir(wire_parent(*path), true);
    fuse_reply_err(req, 0);
    return;
  }
  bool remote_too = true;
  if (lazy()) {
    CacheEntry e = cache_->entry(*path);
    if (e.file) remote_too = e.exists_remote;
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
  touch_dir(wire_parent(*path), !remote_too);
  fuse_reply_err(req, 0);
}

void View::rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  auto path = child_or_reply(req, parent, name);
  if (!path) return;
  InodeTable::NameChange change(inodes_, *path);
  if (guest_only(*path)) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  if (guest_only_beneath(*path)) {
    fuse_reply_err(req, ENOTEMPTY);  // it holds names that exist only in the guest so far
    return;
  }
  auto r = remote_.rmdir(*path);
  if (!r) {
    fail(req, r.error());
    return;
  }
  inodes_.removed(*path);
  touch_dir(wire_parent(*path), false);
  fuse_reply_err(req, 0);
}

void View::symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
  auto path = child_or_reply(req, parent, name);
  if (!path) return;
  if (guest_only(*path) || (lazy() && cache_->find(*path))) {
    fuse_reply_err(req, EEXIST);
    return;
  }
  auto r = remote_.symlink(target, *path);
  if (!r) {
    fail(req, r.error());
    return;
  }
  touch_dir(wire_parent(*path), false);
  reply_entry(req, *path, stat_path(*path));
}

void View::link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  auto from = path_or_reply(req, ino);
  if (!from) return;
  auto to = child_or_reply(req, newparent, newname);
  if (!to) return;
  InodeTable::NameChange change(inodes_, *to);
  auto there = exists(*to);
  if (!there || *there) {
    if (there)
      fuse_reply_err(req, EEXIST);
    else
      fail(req, there.error());
    return;
  }
  bool guest_change = false;
  if (nodes_.find(*from)) {
    if (!nodes_.link(*from, *to)) {
      fuse_reply_err(req, EEXIST);
      return;
    }
    guest_change = true;
  } else if (lazy()) {
    // Both names must share one copy, or a write through one would not show through the
    // other. A file the host has and the job has not changed is linked on the host too.
    CacheEntry e = cache_->entry(*from);
    if (!e.file) {
      auto st = stat_path(*from);
      if (!st) {
        fail(req, st.error());
        return;
      }
      if (S_ISREG(st->st_mode)) {  // symlinks and directories: the host decides
        auto fetched = cache_->fetch(*from);
        if (fetched) {
          e = cache_->entry(*from);
        } else if (fetched.error().code != Errc::kTooLarge) {
          fail(req, fetched.error());
          return;
        }
      }
    }
    if (e.file && (e.file->dirty || !e.exists_remote)) {
      guest_change = true;
    } else if (auto r = remote_.link(*from, *to); !r) {
      fail(req, r.error());
      return;
    }
    if (e.file) cache_->link(*from, *to, !guest_change);
  } else if (auto r = remote_.link(*from, *to); !r) {
    fail(req, r.error());
    return;
  }
  touch_dir(wire_parent(*to), guest_change);
  auto st = stat_path(*to);
  if (!st) {
    fail(req, st.error());
    return;
  }
  fuse_entry_param e{};
  e.ino = inodes_.remember_link(*from, *to);
  if (lazy()) note_copy(e.ino, cache_->find(*to));
  e.attr = *st;
  e.attr_timeout = timeout();
  e.entry_timeout = timeout();
  if (fuse_reply_entry(req, &e) != 0) forget(e.ino, 1);
}

Result<void> View::rename_paths(const std::string& from, const std::string& to, unsigned flags) {
  if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) != 0 ||
      flags == (RENAME_NOREPLACE | RENAME_EXCHANGE))
    return errno_error(EINVAL, "rename flags");
  const bool exchange = flags & RENAME_EXCHANGE;
  const bool noreplace = flags & RENAME_NOREPLACE;
  InodeTable::NameChange change(inodes_, from, to);
  // Guest-only names beneath a moved directory must still fit the wire at their new place.
  auto fits = [](const std::string& a, const std::string& b, size_t longest) {
    return longest == 0 || b.size() + (longest - a.size()) <= proto::kMaxPathBytes;
  };
  if (!fits(from, to, longest_guest_only_beneath(from)) ||
      (exchange && !fits(to, from, longest_guest_only_beneath(to))))
    return errno_error(ENAMETOOLONG, "a name beneath '" + from + "' would be too long");

  const bool from_guest = guest_only(from);
  const bool to_guest = guest_only(to);
  auto move_guest = [&](bool to_exists_remote) {
    nodes_.rename(from, to);
    if (lazy()) cache_->rename(from, to, to_exists_remote);
    inodes_.renamed(from, to);
  };
  auto swap_guest = [&] {
    nodes_.exchange(from, to);
    if (lazy()) cache_->exchange(from, to);
    inodes_.exchanged(from, to);
  };
  auto host_type = [&](const std::string& p) -> Result<mode_t> {
    auto ws = remote_.lstat(p);
    if (ws) return static_cast<mode_t>(ws->mode & S_IFMT);
    if (errno_of(ws.error()) == ENOENT) return mode_t{0};
    return std::move(ws.error());
  };

  if (!from_guest && !to_guest) {
    // Both names are the host's (or absent): the host decides, except that a directory holding
    // names only the guest has is not empty, whatever the host sees.
    if (!exchange && guest_only_beneath(to)) {
      if (noreplace) return errno_error(EEXIST, "'" + to + "' exists");
      auto t = host_type(from);
      if (!t) return std::move(t.error());
      return errno_error(*t == S_IFDIR ? ENOTEMPTY : EISDIR, "'" + to + "' is not empty");
    }
    RINGBOX_TRY(remote_.rename(from, to, flags));
    if (exchange)
      swap_guest();
    else
      move_guest(true);
    touch_dir(wire_parent(from), false);
    touch_dir(wire_parent(to), false);
    return ok();
  }

  // At least one of the names exists only in the guest (and is no directory).
  if (exchange) {
    if (!from_guest || !to_guest) {
      // Move the host's side over to where the guest's side was; the host has nothing there.
      const std::string& host_side = from_guest ? to : from;
      const std::string& guest_side = from_guest ? from : to;
      auto t = host_type(host_side);
      if (!t) return std::move(t.error());
      if (*t == 0) return errno_error(ENOENT, "'" + host_side + "' does not exist");
      RINGBOX_TRY(remote_.rename(host_side, guest_side, RENAME_NOREPLACE));
    }
    swap_guest();
  } else if (from_guest) {
    bool to_exists_remote = false;
    if (!to_guest) {
      auto t = host_type(to);
      if (!t) return std::move(t.error());
      if (*t == S_IFDIR) return errno_error(EISDIR, "'" + to + "' is a directory");
      if (*t != 0) {
        if (noreplace) return errno_error(EEXIST, "'" + to + "' exists");
        if (nodes_.find(from)) {
          // A FIFO or socket never goes to the host: what it replaces goes now.
          RINGBOX_TRY(remote_.unlink(to));
        } else {
          to_exists_remote = true;  // replaced by the write-back, all or nothing
        }
      }
    } else if (noreplace) {
      return errno_error(EEXIST, "'" + to + "' exists");
    }
    move_guest(to_exists_remote);
  } else {
    // A host name over a guest-only one: the host has nothing at `to`.
    if (noreplace) return errno_error(EEXIST, "'" + to + "' exists");
    auto t = host_type(from);
    if (!t) return std::move(t.error());
    if (*t == 0) return errno_error(ENOENT, "'" + from + "' does not exist");
    if (*t == S_IFDIR) return errno_error(ENOTDIR, "'" + to + "' is not a directory");
    RINGBOX_TRY(remote_.rename(from, to, RENAME_NOREPLACE));
    move_guest(true);  // drops the guest-only name at `to`
  }
  touch_dir(wire_parent(from), true);
  touch_dir(wire_parent(to), true);
  return ok();
}

void View::rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
                  const char* newname, unsigned flags) {
  auto from = child_or_reply(req, parent, name);
  if (!from) return;
  auto to = child_or_reply(req, newparent, newname);
  if (!to) return;
  if (auto r = rename_paths(*from, *to, flags); !r) {
    fail(req, r.error());
    return;
  }
  fuse_reply_err(req, 0);
}

void View::statfs(fuse_req_t req, fuse_ino_t ino) {
  // The file system holding the name, on the submit side; "." for guest-only names.
  auto path = inodes_.path(ino);
  std::string p = path && !guest_only(*path) ? *path : std::string(".");
  auto s = remote_.statfs(p);
  if (!s && p != ".") s = remote_.statfs(".");
  if (!s) {
    fail(req, s.error());
    return;
  }
  fuse_reply_statfs(req, &*s);
}

}  // namespace ringbox::guest::fs
