// View: the job's trapped file view. Every file system operation the job makes inside the FUSE
// mount arrives here (libfuse3 low-level API, many threads at once) and becomes ring calls to
// the host file service (Remote), or, in lazy-file mode, local I/O on the cached copy.
//
//   remote-io  every operation goes to the host; nothing is cached in the guest: files are
//              opened direct_io (no page cache) and entry/attribute timeouts are zero, so every
//              stat and every read asks the host.
//   lazy-file  a file is fetched whole on first open (LazyCache) and then read and written
//              locally; changed and new files go back at the end (LazyCache::write_back).
//              Namespace operations go to the host at once. The kernel may cache entries,
//              attributes and pages for kLazyTimeoutS: every change to the job's view is made
//              through this mount, so the kernel's caches stay right.
//
// What the job sees: every file is owned by the job's uid/gid (the host's owners mean nothing
// in the guest); permission checks are the host's policy (no default_permissions), and a
// refusal reaches the job as the host's errno (EACCES, ENOENT, ...). The protocol has no
// chmod/chown/utimes: chmod and chown fail with EPERM; setting times is accepted and ignored,
// so that touch(1) and cp(1) work. Hard links, device nodes and FIFOs are refused (ENOSYS).
//
// Trust: the guest trusts its host; replies are still decoded by the codec with every length
// checked, and the view never hands the kernel more bytes than it asked for.
#pragma once

#define FUSE_USE_VERSION 35
#include <fuse3/fuse_lowlevel.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "guest/fs/inode_table.h"
#include "guest/fs/lazy_cache.h"
#include "guest/fs/remote.h"
#include "shared/protocol/ringbox_proto.h"

namespace ringbox::guest::fs {

inline constexpr double kLazyTimeoutS = 5.0;
inline constexpr unsigned kMaxWriteBytes = 1u << 20;

struct ViewOptions {
  proto::JobMode mode = proto::JobMode::kRemoteIo;  // kRemoteIo or kLazyFile
  uint32_t uid = 0;                                 // presented as the owner of every file
  uint32_t gid = 0;
};

struct ViewStats {
  uint64_t remote_opens = 0;
  uint64_t local_opens = 0;
  uint64_t fallback_opens = 0;  // lazy-file opens served by remote I/O (cache full)
};

class View {
 public:
  // cache must be non-null in lazy-file mode and is unused otherwise.
  View(Remote& remote, LazyCache* cache, ViewOptions opts);
  static const fuse_lowlevel_ops& operations();
  ViewStats stats() const;

  // The callbacks (fuse_ops.cc forwards each libfuse callback here).
  void init(fuse_conn_info* conn);
  void lookup(fuse_req_t req, fuse_ino_t parent, const char* name);
  void forget(fuse_ino_t ino, uint64_t nlookup);
  void getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi);
  void readlink(fuse_req_t req, fuse_ino_t ino);
  void mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode);
  void unlink(fuse_req_t req, fuse_ino_t parent, const char* name);
  void rmdir(fuse_req_t req, fuse_ino_t parent, const char* name);
  void symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name);
  void rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
              const char* newname, unsigned flags);
  void open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi);
  void read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi);
  void write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
             fuse_file_info* fi);
  void fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi);
  void release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi);
  void releasedir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);

 private:
  // An open file: a host handle (remote-io, or a lazy-file open that did not fit the cache) or
  // the cached local copy.
  struct OpenFile {
    uint64_t ino = 0;  // the kernel's inode: stat of an unlinked open file goes by handle
    bool local = false;
    uint64_t handle = 0;
    std::shared_ptr<CachedFile> cached;
  };
  struct DirEntry {
    std::string name;
    uint64_t ino = 0;
    uint8_t type = 0;
  };
  struct OpenDir {
    std::vector<DirEntry> entries;
  };

  bool lazy() const { return opts_.mode == proto::JobMode::kLazyFile; }
  double timeout() const { return lazy() ? kLazyTimeoutS : 0.0; }
  // The presented attributes of a host file, and of a cached copy.
  struct stat presented(const proto::WireStat& ws) const;
  Result<struct stat> cached_stat(const CachedFile& f) const;
  // Attributes of whatever path names now: the cached copy if there is one, else the host's.
  Result<struct stat> stat_path(const std::string& path);
  // Replies with an entry for path (remembering its inode), or with the error.
  void reply_entry(fuse_req_t req, const std::string& path, const Result<struct stat>& st);
  // path of ino, or replies ENOENT (detached inode) and returns nullopt.
  std::optional<std::string> path_or_reply(fuse_req_t req, fuse_ino_t ino);
  std::optional<std::string> child_or_reply(fuse_req_t req, fuse_ino_t parent, const char* name);

  Result<OpenFile> open_lazy(const std::string& path, int flags);
  uint64_t add_file(OpenFile f);
  OpenFile* file(uint64_t fh);
  // Attributes through any open handle of ino (for an inode whose name is gone).
  Result<struct stat> stat_open_inode(uint64_t ino);
  Result<struct stat> stat_file(OpenFile& f);
  Result<void> truncate_path(const std::string& path, uint64_t size);

  Remote& remote_;
  LazyCache* cache_;
  const ViewOptions opts_;
  InodeTable inodes_;

  mutable std::mutex handles_mu_;
  uint64_t next_fh_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<OpenFile>> files_;
  std::unordered_map<uint64_t, std::unique_ptr<OpenDir>> dirs_;
  ViewStats stats_;
};

}  // namespace ringbox::guest::fs
