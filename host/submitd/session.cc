#include "host/submitd/session.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include "host/submitd/session_util.h"
#include "shared/chirp/chirp_proto.h"
#include "shared/util/file_io.h"
#include "shared/util/log.h"

// Session: framing, dispatch, and the commands on open files (fd-based). Path commands are in
// session_paths.cc.
namespace ringbox::submitd {

using chirp::Status;
using namespace detail;

Result<void> Session::reply(int64_t v) {
  return s_.write_all(chirp::encode_result(v));
}

Result<void> Session::reply_errno(int err) {
  return reply(static_cast<int64_t>(chirp::status_from_errno(err)));
}

Result<void> Session::reply_error(const Error& e) {
  return reply_errno(err_of(e));
}

Result<void> Session::reply_stat(const struct stat& st) {
  return s_.write_all("0\n" + chirp::encode_stat_line(to_line(st)));
}

Session::OpenFile* Session::file(const std::string& arg) {
  auto fd = num(arg, 0, kMaxFdNumber);
  if (!fd) return nullptr;
  auto it = files_.find(*fd);
  return it == files_.end() ? nullptr : &it->second;
}

Result<void> Session::serve() {
  for (;;) {
    auto line = s_.read_line(chirp::kMaxRequestLineBytes);
    if (!line) {
      if (line.error().code == Errc::kTooLarge) {
        (void)reply(static_cast<int64_t>(Status::kTooBig));  // then close, as HTCondor does
      }
      return std::move(line.error());
    }
    auto req = chirp::parse_request_line(*line);
    if (!req) {
      (void)reply(static_cast<int64_t>(Status::kInvalidRequest));
      return make_error(Errc::kProtocol,
                        "malformed request from " + who_.subject + ": " + req.error().what);
    }
    bool close_after = false;
    RINGBOX_TRY(dispatch(*req, close_after));
    if (close_after)
      return make_error(Errc::kProtocol, "request '" + req->command + "' from " + who_.subject +
                                             " cannot be followed; connection closed");
  }
}

Result<void> Session::dispatch(const chirp::RequestLine& req, bool& close_after) {
  const std::string& c = req.command;
  const Args& a = req.args;
  if (c == "open") return do_open(a);
  if (c == "close") return do_close(a);
  if (c == "pread") return do_pread(a, false);
  if (c == "read") return do_pread(a, true);
  if (c == "pwrite") return do_pwrite(a, false, close_after);
  if (c == "write") return do_pwrite(a, true, close_after);
  if (c == "lseek") return do_lseek(a);
  if (c == "fstat") return do_fstat(a);
  if (c == "fstatfs") return do_fstatfs(a);
  if (c == "fsync") return do_fsync(a);
  if (c == "ftruncate") return do_ftruncate(a);
  if (c == "fchmod") return do_fchmod(a);
  if (c == "stat") return do_stat(a, true);
  if (c == "lstat") return do_stat(a, false);
  if (c == "statfs") return do_statfs(a);
  if (c == "access") return do_access(a);
  if (c == "chmod") return do_chmod(a);
  if (c == "truncate") return do_truncate(a);
  if (c == "utime") return do_utime(a);
  if (c == "unlink") return do_unlink(a);
  if (c == "rmdir") return do_rmdir(a);
  if (c == "rmall") return do_rmall(a);
  if (c == "mkdir") return do_mkdir(a);
  if (c == "rename") return do_rename(a);
  if (c == "link") return do_link(a);
  if (c == "symlink") return do_symlink(a);
  if (c == "readlink") return do_readlink(a);
  if (c == "getdir") return do_getdir(a, false);
  if (c == "getlongdir") return do_getdir(a, true);
  if (c == "getfile") return do_getfile(a);
  if (c == "putfile") return do_putfile(a, close_after);
  if (c == "whoami") return do_whoami(a);
  // Unknown, or known but not offered here (chown, xattrs, tickets, jobs, stateful streams):
  // cctools answers -8 and keeps the connection; so do we.
  return reply(static_cast<int64_t>(Status::kInvalidRequest));
}

Result<void> Session::do_open(const Args& a) {
  if (a.size() != 3) return reply(-8);
  auto flags = chirp::parse_open_flags(a[1]);
  auto mode = num(a[2], 0, INT32_MAX);
  if (!flags || !mode) return reply(-8);
  if (files_.size() >= static_cast<size_t>(limits_.max_open_files))
    return reply(static_cast<int64_t>(Status::kTooManyOpen));
  // O_NONBLOCK: opening a FIFO planted in the export must not park this thread.
  auto fd = root_.open_at(a[0], *flags | O_NOCTTY | O_NONBLOCK, static_cast<int>(*mode & 07777));
  if (!fd) return reply_error(fd.error());
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return reply_errno(errno);
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return reply_errno(EACCES);
  ::fcntl(fd->get(), F_SETFL, ::fcntl(fd->get(), F_GETFL) & ~O_NONBLOCK);
  int64_t n = 0;
  while (files_.count(n)) ++n;
  files_[n] = OpenFile{std::move(*fd), 0};
  return s_.write_all(chirp::encode_result(n) + chirp::encode_stat_line(to_line(st)));
}

Result<void> Session::do_close(const Args& a) {
  if (a.size() != 1) return reply(-8);
  auto fd = num(a[0], 0, kMaxFdNumber);
  if (!fd || !files_.count(*fd)) return reply(static_cast<int64_t>(Status::kBadFd));
  auto r = files_[*fd].fd.close();
  files_.erase(*fd);
  if (!r) return reply_error(r.error());
  return reply(0);
}

Result<void> Session::do_pread(const Args& a, bool stateful) {
  if (a.size() != (stateful ? 2u : 3u)) return reply(-8);
  auto len = num(a[1], 0, INT64_MAX);
  auto off = stateful ? std::optional<int64_t>(0) : num(a[2], 0, INT64_MAX);
  if (!len || !off) return reply(-8);
  OpenFile* f = file(a[0]);
  if (!f) return reply(static_cast<int64_t>(Status::kBadFd));
  int64_t at = stateful ? f->offset : *off;
  size_t n =
      static_cast<size_t>(std::min<int64_t>(*len, static_cast<int64_t>(limits_.max_io_bytes)));
  if (n >= kSendfileBytes) {
    // Large reads: header, then sendfile from the page cache (no copy through this process).
    // The count promised is what the file holds now; if it shrinks before the send, the
    // promise cannot be kept and the connection is closed (send_file says kPeerBroken).
    struct stat st {};
    if (::fstat(f->fd.get(), &st) != 0) return reply_errno(errno);
    if (S_ISREG(st.st_mode)) {
      int64_t m = std::max<int64_t>(0, std::min<int64_t>(static_cast<int64_t>(n), st.st_size - at));
      RINGBOX_TRY(reply(m));
      RINGBOX_TRY(s_.send_file(f->fd.get(), static_cast<uint64_t>(at), static_cast<uint64_t>(m)));
      if (stateful) f->offset += m;
      return ok();
    }
  }
  // Small reads: one copy and one send of header and data together (lowest latency).
  if (io_.size() < n) io_.resize(n);
  ssize_t got = 0;
  while (static_cast<size_t>(got) < n) {
    ssize_t r =
        retry_eintr([&] { return ::pread(f->fd.get(), io_.data() + got, n - got, at + got); });
    if (r < 0) return reply_errno(errno);
    if (r == 0) break;
    got += r;
  }
  if (stateful) f->offset += got;
  std::string head = chirp::encode_result(got);
  iovec parts[2] = {{head.data(), head.size()}, {io_.data(), static_cast<size_t>(got)}};
  return s_.write_all(std::span<const iovec>(parts, 2));
}

Result<void> Session::do_pwrite(const Args& a, bool stateful, bool& close_after) {
  if (a.size() != (stateful ? 2u : 3u)) {
    close_after = true;  // the payload length is unknown: nothing after it can be parsed
    return reply(-8);
  }
  auto len = num(a[1], 0, INT64_MAX);
  auto off = stateful ? std::optional<int64_t>(0) : num(a[2], 0, INT64_MAX);
  if (!len || !off) {
    close_after = true;
    return reply(-8);
  }
  if (static_cast<uint64_t>(*len) > limits_.max_io_bytes) {
    close_after = true;
    return reply(static_cast<int64_t>(Status::kTooBig));
  }
  size_t n = static_cast<size_t>(*len);
  if (io_.size() < n) io_.resize(n);
  RINGBOX_TRY(s_.read_exact(std::as_writable_bytes(std::span<char>(io_.data(), n))));
  OpenFile* f = file(a[0]);
  if (!f) return reply(static_cast<int64_t>(Status::kBadFd));
  int64_t at = stateful ? f->offset : *off;
  auto put = write_fully(f->fd.get(), std::as_bytes(std::span(io_.data(), n)), at);
  if (!put) return reply_errno(put.error().sys_errno);
  if (stateful) f->offset += static_cast<int64_t>(*put);
  return reply(static_cast<int64_t>(*put));
}

Result<void> Session::do_lseek(const Args& a) {
  if (a.size() != 3) return reply(-8);
  auto off = num(a[1], INT64_MIN / 2, INT64_MAX / 2);
  auto whence = num(a[2], 0, 2);
  if (!off || !whence) return reply(-8);
  OpenFile* f = file(a[0]);
  if (!f) return reply(static_cast<int64_t>(Status::kBadFd));
  int64_t base = 0;
  if (*whence == 1) base = f->offset;
  if (*whence == 2) {
    struct stat st {};
    if (::fstat(f->fd.get(), &st) != 0) return reply_errno(errno);
    base = st.st_size;
  }
  int64_t pos = base + *off;  // both within INT64_MAX / 2 in magnitude: no overflow
  if (pos < 0) return reply(-8);
  f->offset = pos;
  return reply(pos);
}

Result<void> Session::do_fstat(const Args& a) {
  if (a.size() != 1) return reply(-8);
  OpenFile* f = file(a[0]);
  if (!f) return reply(static_cast<int64_t>(Status::kBadFd));
  struct stat st {};
  if (::fstat(f->fd.get(), &st) != 0) return reply_errno(errno);
  return reply_stat(st);
}

Result<void> Session::do_fstatfs(const Args& a) {
  if (a.size() != 1) return reply(-8);
  OpenFile* f = file(a[0]);
  if (!f) return reply(static_cast<int64_t>(Status::kBadFd));
  struct statfs sf {};
  if (::fstatfs(f->fd.get(), &sf) != 0) return reply_errno(errno);
  return s_.write_all("0\n" + statfs_line(sf));
}

Result<void> Session::do_fsync(const Args& a) {
  if (a.size() != 1) return reply(-8);
  OpenFile* f = file(a[0]);
  if (!f) return reply(static_cast<int64_t>(Status::kBadFd));
  if (::fsync(f->fd.get()) != 0) return reply_errno(errno);
  return reply(0);
}

Result<void> Session::do_ftruncate(const Args& a) {
  if (a.size() != 2) return reply(-8);
  auto len = num(a[1], 0, INT64_MAX);
  if (!len) return reply(-8);
  OpenFile* f = file(a[0]);
  if (!f) return reply(static_cast<int64_t>(Status::kBadFd));
  if (::ftruncate(f->fd.get(), *len) != 0) return reply_errno(errno);
  return reply(0);
}

Result<void> Session::do_fchmod(const Args& a) {
  if (a.size() != 2) return reply(-8);
  auto mode = num(a[1], 0, INT32_MAX);
  if (!mode) return reply(-8);
  OpenFile* f = file(a[0]);
  if (!f) return reply(static_cast<int64_t>(Status::kBadFd));
  if (::fchmod(f->fd.get(), static_cast<mode_t>(*mode & 07777)) != 0) return reply_errno(errno);
  return reply(0);
}

}  // namespace ringbox::submitd
