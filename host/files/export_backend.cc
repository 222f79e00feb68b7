// ExportBackend: the path operations (export_file.cc has open files and uploads).
//
// Pattern of every operation: find the symlink-free path (or its parent) with one openat2
// beneath the root, then act through that O_PATH fd, or with an *at() call on the one checked
// name inside the parent fd. Nothing is resolved twice.
#include "host/files/export_backend.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2, RENAME_*
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include "shared/protocol/codec.h"
#include "shared/util/log.h"

namespace ringbox::host::files {
namespace {

Error at_error(const char* what, std::string_view path) {
  return sys_error(std::string(what) + " '" + printable(path) + "' in the export");
}

int open_flags(const OpenMode& how) {
  int flags = how.read && how.write ? O_RDWR : how.write ? O_WRONLY : O_RDONLY;
  if (how.truncate) flags |= O_TRUNC;
  if (how.append) flags |= O_APPEND;
  if (how.directory) flags |= O_DIRECTORY;
  return flags;
}

}  // namespace

Result<std::unique_ptr<ExportBackend>> ExportBackend::create(const std::string& dir,
                                                             bool named_temp) {
  auto root = ExportRoot::open(dir);
  if (!root) return std::move(root.error());
  return std::unique_ptr<ExportBackend>(new ExportBackend(std::move(*root), named_temp));
}

std::string ExportBackend::describe() const {
  return "export '" + root_.dir() + "'";
}

Result<Lookup> ExportBackend::lookup(std::string_view path, Follow follow) const {
  auto r = root_.resolve(path, follow);
  if (!r) return std::move(r.error());
  return Lookup{std::move(r->path), r->st};
}

Result<std::unique_ptr<BackendFile>> ExportBackend::open(const std::string& path, OpenMode how) {
  auto r = root_.find(path);
  if (!r) return std::move(r.error());
  if (how.directory && !S_ISDIR(r->st.st_mode))
    return sys_error(ENOTDIR, "open '" + printable(path) + "' as a directory");
  auto fd = root_.open_for_io(*r, open_flags(how));  // regular files and directories only
  if (!fd) return std::move(fd.error());
  return std::unique_ptr<BackendFile>(new ExportFile(std::move(*fd), path));
}

Result<std::unique_ptr<BackendFile>> ExportBackend::create(const std::string& path, OpenMode how,
                                                           mode_t mode) {
  auto p = root_.find_parent(path);
  if (!p) return std::move(p.error());
  // O_EXCL|O_NOFOLLOW: only ever a brand-new regular file, never through a link.
  int fd = ::openat(p->dir.get(), p->name.c_str(),
                    open_flags(how) | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
  if (fd < 0) return at_error("create", path);
  UniqueFd file(fd);
  auto exact = set_exact_mode(root_, file.get(), mode, path);
  if (!exact) {
    // Not left behind half-made: remove the name while it is still this file.
    struct stat mine {
    }, there{};
    if (::fstat(file.get(), &mine) == 0 &&
        ::fstatat(p->dir.get(), p->name.c_str(), &there, AT_SYMLINK_NOFOLLOW) == 0 &&
        mine.st_ino == there.st_ino && mine.st_dev == there.st_dev)
      ::unlinkat(p->dir.get(), p->name.c_str(), 0);
    return std::move(exact.error());
  }
  return std::unique_ptr<BackendFile>(new ExportFile(std::move(file), path));
}

Result<DirListing> ExportBackend::readdir(const std::string& path, uint64_t cookie,
                                          std::span<std::byte> out,
                                          const std::function<bool(std::string_view)>& keep) {
  auto r = root_.find(path);
  if (!r) return std::move(r.error());
  if (!S_ISDIR(r->st.st_mode))
    return sys_error(ENOTDIR, "readdir '" + printable(path) + "': not a directory");
  auto dir = root_.open_for_io(*r, O_RDONLY | O_DIRECTORY);
  if (!dir) return std::move(dir.error());
  return list_directory(dir->get(), cookie, out, keep);
}

Result<void> ExportBackend::mkdir(const std::string& path, mode_t mode) {
  auto p = root_.find_parent(path);
  if (!p) return std::move(p.error());
  if (::mkdirat(p->dir.get(), p->name.c_str(), mode) != 0)
    return at_error("create directory", path);
  // The umask, or a setgid parent, may have changed the bits: set them exactly on the new
  // directory, found again without following anything.
  auto made = root_.find(path);
  if (!made) return std::move(made.error());
  if (!S_ISDIR(made->st.st_mode))
    return sys_error(EAGAIN, "create directory '" + printable(path) +
                                 "': replaced while it was being made; try again");
  return set_exact_mode(root_, made->fd.get(), mode, path);
}

Result<void> ExportBackend::remove(const std::string& path, bool directory) {
  auto p = root_.find_parent(path);
  if (!p) return std::move(p.error());
  if (::unlinkat(p->dir.get(), p->name.c_str(), directory ? AT_REMOVEDIR : 0) != 0)
    return at_error(directory ? "remove directory" : "remove", path);
  return ok();
}

Result<void> ExportBackend::rmdir(const std::string& path) {
  return remove(path, true);
}

Result<void> ExportBackend::unlink(const std::string& path) {
  return remove(path, false);
}

Result<void> ExportBackend::rename(const std::string& from, const std::string& to, unsigned flags) {
  auto f = root_.find_parent(from);
  if (!f) return std::move(f.error());
  auto t = root_.find_parent(to);
  if (!t) return std::move(t.error());
  // renameat2(2) on one checked name in each resolved directory: neither name is followed.
  if (::renameat2(f->dir.get(), f->name.c_str(), t->dir.get(), t->name.c_str(), flags) != 0)
    return at_error(flags == RENAME_EXCHANGE ? "exchange" : "rename", from);
  return ok();
}

Result<void> ExportBackend::truncate(const std::string& path, off_t size) {
  auto r = root_.find(path);
  if (!r) return std::move(r.error());
  if (S_ISDIR(r->st.st_mode))
    return sys_error(EISDIR, "truncate '" + printable(path) + "': a directory");
  auto fd = root_.open_for_io(*r, O_WRONLY);
  if (!fd) return std::move(fd.error());
  if (::ftruncate(fd->get(), size) != 0) return at_error("truncate", path);
  return ok();
}

Result<std::string> ExportBackend::readlink(const std::string& path) {
  auto r = root_.find(path);
  if (!r) return std::move(r.error());
  if (!S_ISLNK(r->st.st_mode))
    return sys_error(EINVAL, "readlink '" + printable(path) + "': not a symlink");
  std::array<char, proto::kMaxPathBytes + 1> text{};
  ssize_t n = ::readlinkat(r->fd.get(), "", text.data(), text.size());
  if (n < 0) return at_error("read link", path);
  if (static_cast<size_t>(n) > proto::kMaxPathBytes)
    return sys_error(ENAMETOOLONG, "readlink '" + printable(path) + "': target too long");
  return std::string(text.data(), static_cast<size_t>(n));
}

Result<void> ExportBackend::symlink(const std::string& target, const std::string& path) {
  auto p = root_.find_parent(path);
  if (!p) return std::move(p.error());
  if (::symlinkat(target.c_str(), p->dir.get(), p->name.c_str()) != 0)
    return at_error("create symlink", path);
  return ok();
}

Result<void> ExportBackend::link(const std::string& from, const std::string& to) {
  auto f = root_.find_parent(from);
  if (!f) return std::move(f.error());
  auto t = root_.find_parent(to);
  if (!t) return std::move(t.error());
  struct stat st {};
  if (::fstatat(f->dir.get(), f->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return at_error("link", from);
  if (S_ISDIR(st.st_mode)) return sys_error(EPERM, "link '" + printable(from) + "': a directory");
  // linkat(2) without AT_SYMLINK_FOLLOW: a symlink is linked itself, never followed. (A
  // directory swapped in meanwhile fails with EPERM in the kernel too.)
  if (::linkat(f->dir.get(), f->name.c_str(), t->dir.get(), t->name.c_str(), 0) != 0)
    return sys_error("link '" + printable(from) + "' as '" + printable(to) + "' in the export");
  return ok();
}

Result<struct stat> ExportBackend::setattr(const std::string& path, const AttrChange& change) {
  auto r = root_.find(path);  // the final component itself, never followed
  if (!r) return std::move(r.error());
  if (change.set_mode) {
    if (S_ISLNK(r->st.st_mode))
      return sys_error(EOPNOTSUPP, "chmod '" + printable(path) + "': a symlink has no mode");
    auto ch = root_.chmod_fd(r->fd.get(), change.mode);  // O_PATH: chmod through /proc
    if (!ch) return sys_error(ch.error().sys_errno, "chmod '" + printable(path) + "'");
  }
  // AT_EMPTY_PATH on the O_PATH fd: the very object found, no lookup, nothing followed.
  if (change.changes_times() &&
      ::utimensat(r->fd.get(), "", change.times, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
    return at_error("set times of", path);
  struct stat st {};
  if (::fstat(r->fd.get(), &st) != 0) return at_error("stat", path);
  return st;
}

Result<struct statvfs> ExportBackend::statfs(const std::string& path) {
  auto r = root_.find(path);
  if (!r) return std::move(r.error());
  struct statvfs sv {};
  if (::fstatvfs(r->fd.get(), &sv) != 0) return at_error("statfs", path);
  return sv;
}

Result<FileBackend::Chunk> ExportBackend::getfile(const std::string& path, off_t offset,
                                                  std::span<std::byte> out) {
  auto r = root_.find(path);
  if (!r) return std::move(r.error());
  if (S_ISDIR(r->st.st_mode))
    return sys_error(EISDIR, "getfile '" + printable(path) + "': a directory");
  auto fd = root_.open_for_io(*r, O_RDONLY);
  if (!fd) return std::move(fd.error());
  ExportFile file(std::move(*fd), path);
  auto st = file.fstat();
  if (!st) return std::move(st.error());
  Chunk c;
  c.file_size = static_cast<uint64_t>(std::max<off_t>(st->st_size, 0));
  size_t len = 0;
  if (static_cast<uint64_t>(offset) < c.file_size)
    len = static_cast<size_t>(std::min<uint64_t>(out.size(), c.file_size - uint64_t(offset)));
  auto n = file.pread(out.first(len), offset);  // straight into the data area
  if (!n) return std::move(n.error());
  c.bytes = *n;
  return c;
}

}  // namespace ringbox::host::files
