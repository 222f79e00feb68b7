#include "guest/fs/remote.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "shared/util/file_io.h"
#include "shared/util/log.h"

namespace ringbox::guest::fs {

using proto::Opcode;

int errno_of(const Error& e) {
  if (e.code == Errc::kRemote && e.sys_errno > 0) return e.sys_errno;
  if (e.code == Errc::kTooLarge && e.sys_errno > 0) return e.sys_errno;
  return EIO;
}

namespace {

Error remote_error(int32_t status, const char* what, std::string_view path) {
  int err = proto::errno_from_wire_status(status);
  return Error{Errc::kRemote, err, std::string(what) + " '" + std::string(path) + "' on the host"};
}

std::vector<std::byte> path_payload(std::string_view path) {
  return std::vector<std::byte>(reinterpret_cast<const std::byte*>(path.data()),
                                reinterpret_cast<const std::byte*>(path.data()) + path.size());
}

Result<void> write_all_at(int fd, std::span<const std::byte> bytes, uint64_t off) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = retry_eintr([&] {
      return ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(off + done));
    });
    if (n < 0) return sys_error("write the local copy");
    done += static_cast<size_t>(n);
  }
  return ok();
}

}  // namespace

Result<rpc::Reply> Remote::call(rpc::Call& c, const char* what, std::string_view path) {
  auto r = client_.call(c);
  if (!r) return std::move(r.error());
  if (!r->ok()) return remote_error(r->status, what, path);
  return *r;
}

Result<OpenReply> Remote::open(std::string_view path, int posix_flags, mode_t create_mode) {
  auto in = path_payload(path);
  std::vector<std::byte> out(sizeof(proto::WireStat));
  rpc::Call c;
  c.opcode = Opcode::kOpen;
  c.arg[0] = proto::wire_open_flags_from_posix(posix_flags);
  c.arg[1] = create_mode & 07777;  // applied exactly by the host (protocol v2 "Modes")
  c.in = in;
  c.out = out;
  auto r = call(c, "open", path);
  if (!r) return std::move(r.error());
  OpenReply o;
  o.handle = r->val[0];
  if (r->out_len == sizeof(proto::WireStat)) {
    auto st = proto::decode_wire_stat(std::span(out).first(r->out_len));
    if (!st) return std::move(st.error());
    o.has_stat = true;
    o.stat = *st;
  }
  return o;
}

Result<void> Remote::close(uint64_t handle) {
  rpc::Call c;
  c.opcode = Opcode::kClose;
  c.arg[0] = handle;
  auto r = call(c, "close", "<handle " + std::to_string(handle) + ">");
  if (!r) return std::move(r.error());
  return ok();
}

Result<size_t> Remote::pread(uint64_t handle, std::span<std::byte> buf, uint64_t off) {
  size_t done = 0;
  while (done < buf.size()) {
    size_t len = std::min<size_t>(buf.size() - done, max_payload());
    rpc::Call c;
    c.opcode = Opcode::kPread;
    c.arg = {handle, off + done, len, 0};
    c.out = buf.subspan(done, len);
    auto r = call(c, "read", "<handle " + std::to_string(handle) + ">");
    if (!r) return std::move(r.error());
    done += r->out_len;
    if (r->out_len < len) break;  // end of file
  }
  return done;
}

Result<size_t> Remote::pwrite(uint64_t handle, std::span<const std::byte> buf, uint64_t off) {
  size_t done = 0;
  while (done < buf.size()) {
    size_t len = std::min<size_t>(buf.size() - done, max_payload());
    rpc::Call c;
    c.opcode = Opcode::kPwrite;
    c.arg = {handle, off + done, 0, 0};
    c.in = buf.subspan(done, len);
    auto r = call(c, "write", "<handle " + std::to_string(handle) + ">");
    if (!r) return std::move(r.error());
    uint64_t written = r->val[0];
    if (written > len)
      return make_error(Errc::kPeerBroken, "host claims it wrote " + std::to_string(written) +
                                               " of " + std::to_string(len) + " bytes");
    done += written;
    if (written < len) break;
  }
  return done;
}

Result<proto::WireStat> Remote::fstat(uint64_t handle) {
  std::vector<std::byte> out(sizeof(proto::WireStat));
  rpc::Call c;
  c.opcode = Opcode::kFstat;
  c.arg[0] = handle;
  c.out = out;
  auto r = call(c, "fstat", "<handle " + std::to_string(handle) + ">");
  if (!r) return std::move(r.error());
  return proto::decode_wire_stat(std::span(out).first(r->out_len));
}

Result<proto::WireStat> Remote::stat_reply(Opcode op, std::string_view path, const char* what) {
  auto in = path_payload(path);
  std::vector<std::byte> out(sizeof(proto::WireStat));
  rpc::Call c;
  c.opcode = op;
  c.in = in;
  c.out = out;
  auto r = call(c, what, path);
  if (!r) return std::move(r.error());
  return proto::decode_wire_stat(std::span(out).first(r->out_len));
}

Result<proto::WireStat> Remote::lstat(std::string_view path) {
  return stat_reply(Opcode::kLstat, path, "lstat");
}
Result<proto::WireStat> Remote::stat(std::string_view path) {
  return stat_reply(Opcode::kStat, path, "stat");
}

Result<std::vector<proto::Dirent>> Remote::readdir(std::string_view path) {
  auto in = path_payload(path);
  // Bounded by the message limit; a page always holds at least one maximal record.
  std::vector<std::byte> out(std::min<size_t>(max_payload(), 64 * 1024));
  std::vector<proto::Dirent> all;
  uint64_t cookie = 0;
  for (;;) {
    rpc::Call c;
    c.opcode = Opcode::kReaddir;
    c.arg[0] = cookie;
    c.in = in;
    c.out = out;
    auto r = call(c, "list directory", path);
    if (!r) return std::move(r.error());
    auto page = proto::decode_dirents(std::span(out).first(r->out_len), r->val[0]);
    if (!page) return std::move(page.error());
    bool at_end = r->val[1] == 1;
    if (page->empty() && !at_end)
      return make_error(Errc::kPeerBroken, "host returned an empty directory page for '" +
                                               std::string(path) + "' that is not the end");
    for (auto& d : *page) {
      cookie = d.next_cookie;
      all.push_back(std::move(d));
    }
    if (at_end) return all;
  }
}

Result<void> Remote::path_only(Opcode op, std::string_view path, uint64_t arg0, const char* what) {
  auto in = path_payload(path);
  rpc::Call c;
  c.opcode = op;
  c.arg[0] = arg0;
  c.in = in;
  auto r = call(c, what, path);
  if (!r) return std::move(r.error());
  return ok();
}

Result<void> Remote::mkdir(std::string_view path, mode_t mode) {
  return path_only(Opcode::kMkdir, path, mode & 07777, "mkdir");
}
Result<void> Remote::rmdir(std::string_view path) {
  return path_only(Opcode::kRmdir, path, 0, "rmdir");
}
Result<void> Remote::unlink(std::string_view path) {
  return path_only(Opcode::kUnlink, path, 0, "unlink");
}
Result<void> Remote::truncate(std::string_view path, uint64_t size) {
  return path_only(Opcode::kTruncate, path, size, "truncate");
}

Result<void> Remote::rename(std::string_view from, std::string_view to, unsigned posix_flags) {
  auto flags = proto::wire_rename_flags_from_posix(posix_flags);
  if (!flags) return std::move(flags.error());
  std::vector<std::byte> in(from.size() + to.size());
  auto n = proto::encode_rename(from, to, in);
  if (!n) return std::move(n.error());
  rpc::Call c;
  c.opcode = Opcode::kRename;
  c.arg[0] = from.size();
  c.arg[1] = *flags;
  c.in = std::span(in).first(*n);
  auto r = call(c, "rename", from);
  if (!r) return std::move(r.error());
  return ok();
}

Result<void> Remote::ftruncate(uint64_t handle, uint64_t size) {
  rpc::Call c;
  c.opcode = Opcode::kFtruncate;
  c.arg = {handle, size, 0, 0};
  auto r = call(c, "truncate", "<handle " + std::to_string(handle) + ">");
  if (!r) return std::move(r.error());
  return ok();
}

Result<void> Remote::fsync(uint64_t handle) {
  rpc::Call c;
  c.opcode = Opcode::kFsync;
  c.arg[0] = handle;
  auto r = call(c, "fsync", "<handle " + std::to_string(handle) + ">");
  if (!r) return std::move(r.error());
  return ok();
}

Result<std::string> Remote::readlink(std::string_view path) {
  auto in = path_payload(path);
  std::vector<std::byte> out(proto::kMaxPathBytes);
  rpc::Call c;
  c.opcode = Opcode::kReadlink;
  c.in = in;
  c.out = out;
  auto r = call(c, "readlink", path);
  if (!r) return std::move(r.error());
  std::string target(reinterpret_cast<const char*>(out.data()), r->out_len);
  auto checked = proto::decode_link_target(target);
  if (!checked) return std::move(checked.error());
  return std::move(*checked);
}

Result<void> Remote::symlink(std::string_view target, std::string_view link) {
  std::vector<std::byte> in(target.size() + link.size());
  auto n = proto::encode_symlink(target, link, in);
  if (!n) return std::move(n.error());
  rpc::Call c;
  c.opcode = Opcode::kSymlink;
  c.arg[0] = target.size();
  c.in = std::span(in).first(*n);
  auto r = call(c, "symlink", link);
  if (!r) return std::move(r.error());
  return ok();
}

Result<OpenReply> Remote::setattr_call(std::string_view path, uint64_t handle,
                                       const proto::WireSetattr& sa) {
  std::vector<std::byte> in(sizeof(proto::WireSetattr) + path.size());
  auto n = proto::encode_setattr(sa, path, in);
  if (!n) return std::move(n.error());
  std::vector<std::byte> out(sizeof(proto::WireStat));
  rpc::Call c;
  c.opcode = Opcode::kSetattr;
  c.arg[0] = handle;
  c.in = std::span(in).first(*n);
  c.out = out;
  std::string what = path.empty() ? "<handle " + std::to_string(handle) + ">" : std::string(path);
  auto r = call(c, "change the attributes of", what);
  if (!r) return std::move(r.error());
  OpenReply o;
  if (r->out_len == sizeof(proto::WireStat)) {
    auto st = proto::decode_wire_stat(std::span(out).first(r->out_len));
    if (!st) return std::move(st.error());
    o.has_stat = true;
    o.stat = *st;
  }
  return o;
}

Result<OpenReply> Remote::setattr(std::string_view path, const proto::WireSetattr& sa) {
  return setattr_call(path, 0, sa);
}
Result<OpenReply> Remote::fsetattr(uint64_t handle, const proto::WireSetattr& sa) {
  return setattr_call("", handle, sa);
}

Result<void> Remote::link(std::string_view from, std::string_view to) {
  std::vector<std::byte> in(from.size() + to.size());
  auto n = proto::encode_link(from, to, in);
  if (!n) return std::move(n.error());
  rpc::Call c;
  c.opcode = Opcode::kLink;
  c.arg[0] = from.size();
  c.in = std::span(in).first(*n);
  auto r = call(c, "link", to);
  if (!r) return std::move(r.error());
  return ok();
}

Result<struct statvfs> Remote::statfs(std::string_view path) {
  auto in = path_payload(path);
  std::vector<std::byte> out(sizeof(proto::WireStatfs));
  rpc::Call c;
  c.opcode = Opcode::kStatfs;
  c.in = in;
  c.out = out;
  auto r = call(c, "statfs", path);
  if (!r) return std::move(r.error());
  auto s = proto::decode_wire_statfs(std::span<const std::byte>(out).first(r->out_len));
  if (!s) return std::move(s.error());
  return proto::statvfs_from_wire(*s);
}

Result<void> Remote::fallocate(uint64_t handle, int posix_mode, uint64_t off, uint64_t len) {
  auto flags = proto::wire_fallocate_flags_from_posix(posix_mode);
  if (!flags) return Error{Errc::kRemote, EOPNOTSUPP, flags.error().message()};
  rpc::Call c;
  c.opcode = Opcode::kFallocate;
  c.arg = {handle, off, len, *flags};
  auto r = call(c, "fallocate", "<handle " + std::to_string(handle) + ">");
  if (!r) return std::move(r.error());
  return ok();
}

Result<uint64_t> Remote::getfile(std::string_view path, int fd, uint64_t max_bytes,
                                 const std::atomic<bool>* cancel) {
  auto in = path_payload(path);
  std::vector<std::byte> chunk(max_payload());
  for (int attempt = 0; attempt < kGetfileAttempts; ++attempt) {
    if (::ftruncate(fd, 0) != 0)
      return sys_error("truncate the local copy of '" + std::string(path) + "'");
    uint64_t off = 0, total = 0;
    bool first = true;
    for (;;) {
      if (cancel && cancel->load())
        return Error{Errc::kCancelled, ECANCELED,
                     "the fetch of '" + std::string(path) + "' was cancelled"};
      rpc::Call c;
      c.opcode = Opcode::kGetfile;
      c.arg[0] = off;
      c.in = in;
      // After the first chunk, ask for no more than the copy still needs: bytes appended
      // meanwhile are not part of it, and must not cross the ring (or count as fetched).
      c.out = first ? std::span(chunk)
                    : std::span(chunk).first(std::min<uint64_t>(chunk.size(), total - off));
      auto r = call(c, "fetch", path);
      if (!r) return std::move(r.error());
      if (first) {
        total = r->val[0];
        first = false;
        if (total > max_bytes)
          return Error{Errc::kTooLarge, ENOSPC,
                       "'" + std::string(path) + "' is " + std::to_string(total) +
                           " bytes, more than the " + std::to_string(max_bytes) +
                           " bytes left in the local cache"};
      } else if (r->val[0] < total) {
        break;  // it shrank under us: what was there at the start is gone, start over
      }
      // Bytes appended since the first chunk are not part of this copy (cp(1) semantics: the
      // file as it was when the fetch began).
      size_t take = static_cast<size_t>(std::min<uint64_t>(r->out_len, total - off));
      RINGBOX_TRY(write_all_at(fd, std::span(chunk).first(take), off));
      off += take;
      if (off == total) return total;
      if (r->out_len == 0) break;  // shorter than announced: it shrank under us
    }
  }
  return Error{Errc::kRemote, EIO,
               "'" + std::string(path) + "' kept changing size while it was fetched"};
}

Result<uint64_t> Remote::putfile(std::string_view path, int fd, mode_t perm) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return sys_error("stat the local copy of '" + std::string(path) + "'");
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (path.size() >= max_payload())
    return make_error(Errc::kTooLarge, "path '" + std::string(path) + "' does not fit one message");
  size_t data_room = max_payload() - path.size();
  std::vector<std::byte> in(max_payload());
  std::copy(path.begin(), path.end(), reinterpret_cast<char*>(in.data()));
  uint64_t off = 0;
  int attempts = 1;
  do {
    size_t len = static_cast<size_t>(std::min<uint64_t>(data_room, size - off));
    size_t got = 0;
    while (got < len) {
      ssize_t n = retry_eintr([&] {
        return ::pread(fd, in.data() + path.size() + got, len - got, static_cast<off_t>(off + got));
      });
      if (n < 0) return sys_error("read the local copy of '" + std::string(path) + "'");
      if (n == 0)
        return make_error(Errc::kInvalidArgument,
                          "the local copy of '" + std::string(path) + "' shrank while it was sent");
      got += static_cast<size_t>(n);
    }
    bool final = off + len == size;
    rpc::Call c;
    c.opcode = Opcode::kPutfile;
    c.flags = final ? proto::kPutfileFinal : 0;
    c.arg = {path.size(), off, perm & 07777u, 0};
    c.in = std::span(in).first(path.size() + len);
    auto r = call(c, "write back", path);
    if (!r && off > 0 && errno_of(r.error()) == EBADF && attempts < kPutfileAttempts) {
      ++attempts;
      log::info("write-back of '" + std::string(path) +
                "' starts again from its first byte: the host lost the upload at byte " +
                std::to_string(off) + " (it was restarted or the domain restored)");
      off = 0;
      continue;
    }
    if (!r) return std::move(r.error());
    off += len;
  } while (off < size);
  return size;
}

}  // namespace ringbox::guest::fs
