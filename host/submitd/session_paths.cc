#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include "host/submitd/session.h"
#include "host/submitd/session_util.h"
#include "shared/chirp/chirp_proto.h"
#include "shared/util/log.h"

// Session: the commands that name a path (stat .. putfile), each resolved beneath the
// tenant's root by ConfinedDir.
namespace ringbox::submitd {

using chirp::Status;
using namespace detail;

Result<void> Session::do_stat(const Args& a, bool follow) {
  if (a.size() != 1) return reply(-8);
  auto fd = root_.open_at(a[0], O_PATH, 0, follow);
  if (!fd) return reply_error(fd.error());
  struct stat st {};
  if (::fstatat(fd->get(), "", &st, AT_EMPTY_PATH) != 0) return reply_errno(errno);
  return reply_stat(st);
}

Result<void> Session::do_statfs(const Args& a) {
  if (a.size() != 1) return reply(-8);
  auto fd = root_.open_at(a[0], O_PATH, 0);
  if (!fd) return reply_error(fd.error());
  struct statfs sf {};
  if (::fstatfs(fd->get(), &sf) != 0) return reply_errno(errno);
  return s_.write_all("0\n" + statfs_line(sf));
}

Result<void> Session::do_access(const Args& a) {
  if (a.size() != 2) return reply(-8);
  auto mode = num(a[1], 0, 7);
  if (!mode) return reply(-8);
  auto fd = root_.open_at(a[0], O_PATH, 0);
  if (!fd) return reply_error(fd.error());
  if (::access(proc_fd_path(fd->get()).c_str(), static_cast<int>(*mode)) != 0)
    return reply_errno(errno);
  return reply(0);
}

Result<void> Session::do_chmod(const Args& a) {
  if (a.size() != 2) return reply(-8);
  auto mode = num(a[1], 0, INT32_MAX);
  if (!mode) return reply(-8);
  auto fd = root_.open_at(a[0], O_PATH, 0);
  if (!fd) return reply_error(fd.error());
  if (::chmod(proc_fd_path(fd->get()).c_str(), static_cast<mode_t>(*mode & 07777)) != 0)
    return reply_errno(errno);
  return reply(0);
}

Result<void> Session::do_truncate(const Args& a) {
  if (a.size() != 2) return reply(-8);
  auto len = num(a[1], 0, INT64_MAX);
  if (!len) return reply(-8);
  auto fd = root_.open_at(a[0], O_WRONLY | O_NONBLOCK | O_NOCTTY, 0);
  if (!fd) return reply_error(fd.error());
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return reply_errno(errno);
  if (!S_ISREG(st.st_mode)) return reply_errno(EINVAL);
  if (::ftruncate(fd->get(), *len) != 0) return reply_errno(errno);
  return reply(0);
}

Result<void> Session::do_utime(const Args& a) {
  if (a.size() != 3) return reply(-8);
  auto at = num(a[1], INT32_MIN, INT64_MAX / 2);
  auto mt = num(a[2], INT32_MIN, INT64_MAX / 2);
  if (!at || !mt) return reply(-8);
  auto fd = root_.open_at(a[0], O_PATH, 0);
  if (!fd) return reply_error(fd.error());
  timespec ts[2] = {{static_cast<time_t>(*at), 0}, {static_cast<time_t>(*mt), 0}};
  if (::utimensat(AT_FDCWD, proc_fd_path(fd->get()).c_str(), ts, 0) != 0) return reply_errno(errno);
  return reply(0);
}

Result<void> Session::do_unlink(const Args& a) {
  if (a.size() != 1) return reply(-8);
  auto p = root_.parent(a[0]);
  if (!p) return reply_error(p.error());
  if (::unlinkat(p->dir.get(), p->name.c_str(), 0) != 0) return reply_errno(errno);
  return reply(0);
}

Result<void> Session::do_rmdir(const Args& a) {
  if (a.size() != 1) return reply(-8);
  auto p = root_.parent(a[0]);
  if (!p) return reply_error(p.error());
  if (::unlinkat(p->dir.get(), p->name.c_str(), AT_REMOVEDIR) != 0) return reply_errno(errno);
  return reply(0);
}

Result<void> Session::do_rmall(const Args& a) {
  if (a.size() != 1) return reply(-8);
  auto p = root_.parent(a[0]);
  if (!p) return reply_error(p.error());
  int e = remove_tree(p->dir.get(), p->name, limits_.rmall_max_depth);
  return e == 0 ? reply(0) : reply_errno(e);
}

Result<void> Session::do_mkdir(const Args& a) {
  if (a.size() != 2) return reply(-8);
  auto mode = num(a[1], 0, INT32_MAX);
  if (!mode) return reply(-8);
  auto p = root_.parent(a[0]);
  if (!p) return reply_error(p.error());
  if (::mkdirat(p->dir.get(), p->name.c_str(), static_cast<mode_t>(*mode & 07777)) != 0)
    return reply_errno(errno);
  return reply(0);
}

Result<void> Session::do_rename(const Args& a) {
  if (a.size() != 2) return reply(-8);
  auto from = root_.parent(a[0]);
  if (!from) return reply_error(from.error());
  auto to = root_.parent(a[1]);
  if (!to) return reply_error(to.error());
  if (::renameat(from->dir.get(), from->name.c_str(), to->dir.get(), to->name.c_str()) != 0)
    return reply_errno(errno);
  return reply(0);
}

Result<void> Session::do_link(const Args& a) {
  if (a.size() != 2) return reply(-8);
  auto from = root_.parent(a[0]);
  if (!from) return reply_error(from.error());
  auto to = root_.parent(a[1]);
  if (!to) return reply_error(to.error());
  if (::linkat(from->dir.get(), from->name.c_str(), to->dir.get(), to->name.c_str(), 0) != 0)
    return reply_errno(errno);
  return reply(0);
}

Result<void> Session::do_symlink(const Args& a) {
  if (a.size() != 2) return reply(-8);
  // The target is stored as text; following it later is confined like any other lookup.
  auto to = root_.parent(a[1]);
  if (!to) return reply_error(to.error());
  if (::symlinkat(a[0].c_str(), to->dir.get(), to->name.c_str()) != 0) return reply_errno(errno);
  return reply(0);
}

Result<void> Session::do_readlink(const Args& a) {
  if (a.size() != 2) return reply(-8);
  auto max = num(a[1], 0, INT64_MAX);
  if (!max) return reply(-8);
  auto fd = root_.open_at(a[0], O_PATH, 0, false);
  if (!fd) return reply_error(fd.error());
  char buf[kMaxReadlinkBytes];
  ssize_t n = ::readlinkat(fd->get(), "", buf, sizeof(buf));
  if (n < 0) return reply_errno(errno);
  n = std::min<ssize_t>(n, static_cast<ssize_t>(std::min<int64_t>(*max, kMaxReadlinkBytes)));
  return s_.write_all(chirp::encode_result(n) + std::string(buf, static_cast<size_t>(n)));
}

Result<void> Session::do_getdir(const Args& a, bool with_stat) {
  if (a.size() != 1) return reply(-8);
  auto fd = root_.open_at(a[0], O_RDONLY | O_DIRECTORY, 0);
  if (!fd) return reply_error(fd.error());
  std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(fd->get()), ::closedir);
  if (!d) return reply_errno(errno);
  fd->release();  // the DIR owns it now
  std::string out = "0\n";
  while (dirent* e = ::readdir(d.get())) {
    std::string_view name = e->d_name;
    // A name with a newline cannot be framed in a line list; it is left out rather than let
    // it forge entries.
    if (name.find('\n') != std::string_view::npos) continue;
    if (with_stat) {
      struct stat st {};
      if (::fstatat(::dirfd(d.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      out.append(name);
      out.push_back('\n');
      out += chirp::encode_stat_line(to_line(st));
    } else {
      out.append(name);
      out.push_back('\n');
    }
    if (out.size() >= kListingFlushBytes) {
      RINGBOX_TRY(s_.write_all(out));
      out.clear();
    }
  }
  out.push_back('\n');
  return s_.write_all(out);
}

Result<void> Session::do_getfile(const Args& a) {
  if (a.size() != 1) return reply(-8);
  auto fd = root_.open_at(a[0], O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
  if (!fd) return reply_error(fd.error());
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return reply_errno(errno);
  if (S_ISDIR(st.st_mode)) return reply_errno(EISDIR);
  if (!S_ISREG(st.st_mode)) return reply_errno(EACCES);
  RINGBOX_TRY(reply(st.st_size));
  return s_.send_file(fd->get(), 0, static_cast<uint64_t>(st.st_size));
}

Result<void> Session::do_putfile(const Args& a, bool& close_after) {
  if (a.size() != 3) {
    close_after = true;
    return reply(-8);
  }
  auto mode = num(a[1], 0, INT32_MAX);
  auto len = num(a[2], 0, INT64_MAX);
  if (!mode || !len) {
    close_after = true;
    return reply(-8);
  }
  // Phase 1: nothing is sent by the client until our go-ahead, so a refusal here keeps the
  // stream in step.
  auto fd = root_.open_at(a[0], O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_NOCTTY,
                          static_cast<int>(*mode & 07777));
  if (!fd) return reply_error(fd.error());
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return reply_errno(errno);
  if (!S_ISREG(st.st_mode)) return reply_errno(EACCES);
  RINGBOX_TRY(reply(0));
  auto remove_partial = [&] {
    if (auto p = root_.parent(a[0])) ::unlinkat(p->dir.get(), p->name.c_str(), 0);
  };
  // socket -> pipe -> file (splice(2)); after a write error the rest is read and dropped, to
  // stay in step.
  int write_err = 0;
  auto r = s_.recv_to_file(fd->get(), 0, static_cast<uint64_t>(*len), &write_err);
  if (!r) {
    remove_partial();  // the client left mid-file: no half file stays behind
    return r;
  }
  if (write_err) {
    remove_partial();
    return reply_errno(write_err);
  }
  return reply(*len);
}

Result<void> Session::do_whoami(const Args& a) {
  if (a.size() != 1) return reply(-8);
  auto max = num(a[0], 0, INT64_MAX);
  if (!max) return reply(-8);
  std::string s = who_.subject.substr(0, static_cast<size_t>(std::min<int64_t>(*max, 1024)));
  return s_.write_all(chirp::encode_result(static_cast<int64_t>(s.size())) + s);
}

}  // namespace ringbox::submitd
