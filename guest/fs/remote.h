// Remote: the guest's typed view of the host file service (opcodes 32..54 of ringbox_proto.h)
// over any rpc::Client. One method per opcode, plus whole-file transfer (kGetfile/kPutfile).
//
// Paths are canonical wire paths ("." is the export root). Every method is thread-safe (the
// client is) and splits transfers larger than client.max_payload() into several calls. Replies
// are decoded with shared/protocol/codec.h from the private copy the client made.
//
// Errors: a refusal by the host is an Error with code Errc::kRemote and sys_errno the errno to
// hand to the job; a transport failure keeps its own code. errno_of() turns either into the one
// errno value FUSE replies with (EIO for everything that is not the host's answer).
#pragma once

#include <sys/statvfs.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/protocol/codec.h"
#include "shared/rpc/call.h"

namespace ringbox::guest::fs {

int errno_of(const Error& e);

struct OpenReply {
  uint64_t handle = 0;
  bool has_stat = false;
  proto::WireStat stat{};
};

class Remote {
 public:
  explicit Remote(rpc::Client& client) : client_(client) {}
  uint32_t max_payload() const { return client_.max_payload(); }

  // create_mode: the final permission bits of a created file (the caller applied the umask).
  Result<OpenReply> open(std::string_view path, int posix_flags, mode_t create_mode);
  Result<void> close(uint64_t handle);
  // Reads up to buf.size() bytes at off; short only at end of file.
  Result<size_t> pread(uint64_t handle, std::span<std::byte> buf, uint64_t off);
  // Writes all of buf at off unless the host writes short; returns the bytes written.
  Result<size_t> pwrite(uint64_t handle, std::span<const std::byte> buf, uint64_t off);
  Result<proto::WireStat> fstat(uint64_t handle);
  Result<proto::WireStat> lstat(std::string_view path);
  Result<proto::WireStat> stat(std::string_view path);
  // Every entry of a directory (all kReaddir pages).
  Result<std::vector<proto::Dirent>> readdir(std::string_view path);
  // mode: the final permission bits (the caller applied the umask).
  Result<void> mkdir(std::string_view path, mode_t mode);
  Result<void> rmdir(std::string_view path);
  Result<void> unlink(std::string_view path);
  // posix_flags: renameat2(2) flags (0, RENAME_NOREPLACE, RENAME_EXCHANGE).
  Result<void> rename(std::string_view from, std::string_view to, unsigned posix_flags = 0);
  Result<void> truncate(std::string_view path, uint64_t size);
  Result<void> ftruncate(uint64_t handle, uint64_t size);
  Result<void> fsync(uint64_t handle);
  Result<std::string> readlink(std::string_view path);
  Result<void> symlink(std::string_view target, std::string_view link);
  // kSetattr by path (acts on the final component) or by handle. Returns the attributes after
  // the change (has_stat false when the host sent none).
  Result<OpenReply> setattr(std::string_view path, const proto::WireSetattr& sa);
  Result<OpenReply> fsetattr(uint64_t handle, const proto::WireSetattr& sa);
  // kLink: a second name `to` for the file at `from` (neither follows).
  Result<void> link(std::string_view from, std::string_view to);
  // kStatfs of the file system holding path ("." for the export).
  Result<struct statvfs> statfs(std::string_view path);
  // kFallocate: posix_mode is fallocate(2)'s mode; EOPNOTSUPP for modes the wire lacks or the
  // host's file system cannot do.
  Result<void> fallocate(uint64_t handle, int posix_mode, uint64_t off, uint64_t len);

  // Streams the whole file into fd (from offset 0; fd is truncated to the size first). Fails
  // with kTooLarge (sys_errno ENOSPC) without writing more than one chunk when the file is
  // larger than max_bytes. The copy is what the file held when the fetch began, as cp(1) reads
  // it: bytes appended meanwhile are not part of it. A file that shrinks while it streams is
  // fetched again from the start, up to kGetfileAttempts times, then EIO. Returns the size.
  Result<uint64_t> getfile(std::string_view path, int fd, uint64_t max_bytes,
                           const std::atomic<bool>* cancel = nullptr);
  // Streams fd's contents (from 0 to its current size) to path, committed with the final
  // chunk: the host replaces the target atomically, so nothing is visible before that. perm:
  // the new file's permission bits, exactly (the host clears setuid/setgid). Chunks go one at a
  // time, so the final one is sent only after every other was answered (as kPutfile requires).
  // A later chunk answered EBADF (the host was replaced, by a restart or a vacate's restore,
  // and lost the upload) sends the file again from the start, up to kPutfileAttempts times.
  Result<uint64_t> putfile(std::string_view path, int fd, mode_t perm);

 private:
  Result<rpc::Reply> call(rpc::Call& c, const char* what, std::string_view path);
  Result<void> path_only(proto::Opcode op, std::string_view path, uint64_t arg0, const char* what);
  Result<proto::WireStat> stat_reply(proto::Opcode op, std::string_view path, const char* what);
  Result<OpenReply> setattr_call(std::string_view path, uint64_t handle,
                                 const proto::WireSetattr& sa);

  rpc::Client& client_;
};

inline constexpr int kGetfileAttempts = 3;
// Sends of one file by Remote::putfile, the first included: the host may lose an upload (a
// restart, a vacate's restore) and the file is then sent again from its first byte.
inline constexpr int kPutfileAttempts = 3;

}  // namespace ringbox::guest::fs
