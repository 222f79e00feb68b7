// View: the job's trapped file view. Every file system operation the job makes inside the FUSE
// mount arrives here (libfuse3 low-level API, many threads at once) and becomes ring calls to
// the host file service (Remote), or, in lazy-file mode, local I/O on the cached copy.
//
//   remote-io  every operation goes to the host. File pages go through the guest's page cache
//              (so MAP_SHARED works) but are dropped at every open (no keep_cache), writes are
//              written through at once (no writeback cache), and entry/attribute timeouts are
//              zero, so every stat and every open asks the host; O_DIRECT reads skip the cache.
//   lazy-file  a file is fetched whole on first open (LazyCache) and then read and written
//              locally; changed and new files go back at the end (LazyCache::write_back).
//              Namespace and metadata operations on names the host has go to the host at once.
//              The kernel may cache entries, attributes and pages for kLazyTimeoutS: every
//              change to the job's view is made through this mount, so the kernel's caches
//              stay right.
//   auto       lazy-file, except that a read-only open of a file not in the cache is decided
//              per file by AutoPolicy: fetched at open, or served remotely (pages kept in the
//              guest's page cache, the kernel reading ahead) until its remote reads have cost
//              a fraction of a fetch, when a background thread fetches it and the reads go
//              local (view_auto.cc, docs/modes.md).
//
// What the job sees, as on a local file system (issue 8): every file is owned by the job's
// uid/gid (the host's owners mean nothing in the guest); chown to those ids succeeds and
// changes nothing, to others is EPERM. Modes are exact: the caller's umask is applied here
// (FUSE_CAP_DONT_MASK), the host applies none, and clears setuid/setgid (they never reach the
// submit side). chmod and utimensat (UTIME_NOW/UTIME_OMIT included) become kSetattr; hard
// links kLink; statfs kStatfs; fallocate kFallocate; RENAME_NOREPLACE/RENAME_EXCHANGE kRename
// flags. FIFOs and Unix sockets are local IPC objects kept in the guest only (LocalNodes), in
// every mode. Permission checks are the host's policy (no default_permissions), and a refusal
// reaches the job as the host's errno (EACCES, ENOENT, ...).
//
// Trust: the guest trusts its host; replies are still decoded by the codec with every length
// checked, and the view never hands the kernel more bytes than it asked for.
#pragma once

// 3.12: below it, fuse_session_loop_mt() is the 3.2 entry point, which reads the
// fuse_loop_config we pass as the old fuse_loop_config_v1: clone_fd became the config's version
// id (on) and max_idle_threads its clone_fd (0), so libfuse started and ended a thread, with a
// cloned /dev/fuse, for every request (fuse_lowlevel.h, fuse_loop_mt.c).
#define FUSE_USE_VERSION 312
#include <fuse3/fuse_lowlevel.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "guest/fs/auto_policy.h"
#include "guest/fs/inode_table.h"
#include "guest/fs/lazy_cache.h"
#include "guest/fs/local_nodes.h"
#include "guest/fs/remote.h"
#include "shared/protocol/ringbox_proto.h"

namespace ringbox::guest::fs {

inline constexpr double kLazyTimeoutS = 5.0;
inline constexpr unsigned kMaxWriteBytes = 1u << 20;

struct ViewOptions {
  proto::JobMode mode = proto::JobMode::kRemoteIo;  // kRemoteIo, kLazyFile or kAuto
  uint32_t uid = 0;                                 // presented as the owner of every file
  uint32_t gid = 0;
};

struct ViewStats {
  uint64_t remote_opens = 0;
  uint64_t local_opens = 0;
  uint64_t fallback_opens = 0;  // lazy-file opens served by remote I/O (cache full)
  // auto: read-only opens of uncached files fetched at open, served remotely, and of the
  // latter, files fetched in the background later.
  uint64_t auto_fetched_at_open = 0;
  uint64_t auto_remote_opens = 0;
  uint64_t auto_switched = 0;
};

class View {
 public:
  // cache must be non-null in lazy-file and auto mode and is unused otherwise.
  View(Remote& remote, LazyCache* cache, ViewOptions opts);
  // auto: stops the background fetcher (a fetch in progress at its next chunk; queued ones are
  // dropped) and logs what the policy chose. Once the job is done; the destructor calls it too.
  void stop_background();
  ~View();
  View(const View&) = delete;
  View& operator=(const View&) = delete;
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
  void mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev);
  void link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname);
  void statfs(fuse_req_t req, fuse_ino_t ino);
  void fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                 fuse_file_info* fi);
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
  // auto: a file read remotely (all its opens) until its copy is there.
  struct AutoFile {
    std::atomic<uint64_t> size{0};
    AutoReads reads;  // guarded by the policy
    std::mutex mu;
    std::condition_variable fetched;   // fetching became false
    bool fetching = false;             // a background fetch is queued or under way
    uint64_t reads_held = 0;           // reads that waited for the fetch (logged)
    std::shared_ptr<CachedFile> copy;  // set once the background fetch is done
  };
  // An open file: a host handle (remote-io, a lazy-file open that did not fit the cache, an
  // auto open served remotely) or the cached local copy.
  struct OpenFile {
    uint64_t ino = 0;  // the kernel's inode: stat of an unlinked open file goes by handle
    bool local = false;
    uint64_t handle = 0;
    int access = -1;  // remote-io: the host handle's O_ACCMODE (-1: not to be shared)
    int opens = 1;    // the kernel's open files this entry serves (under handles_mu_)
    std::shared_ptr<CachedFile> cached;
    std::shared_ptr<AutoFile> autof;  // auto mode's remote-served opens only
    // remote-io, opened by the name a rename over the inode took: the kernel's attributes of
    // the inode are the replaced file's, so its reads must not be cut at that size.
    bool direct = false;
  };
  struct DirEntry {
    std::string name;
    uint64_t ino = 0;
    uint8_t type = 0;
  };
  struct OpenDir {
    std::vector<DirEntry> entries;
  };

  // lazy-file and auto: the cache, the write-back, the kernel's caches.
  bool lazy() const {
    return opts_.mode == proto::JobMode::kLazyFile || opts_.mode == proto::JobMode::kAuto;
  }
  bool auto_mode() const { return opts_.mode == proto::JobMode::kAuto; }
  double timeout() const { return lazy() ? kLazyTimeoutS : 0.0; }
  // The presented attributes of a host file, of a cached copy and of a local node.
  struct stat presented(const proto::WireStat& ws) const;
  Result<struct stat> cached_stat(const CachedFile& f) const;
  struct stat node_stat(const LocalNode& n) const;
  // Attributes of whatever path names now: a local node, the cached copy, else the host's.
  // `copy`, when given: set to the cached copy the attributes are of (else left alone).
  Result<struct stat> stat_path(const std::string& path,
                                std::shared_ptr<CachedFile>* copy = nullptr);
  // Replies with an entry for path (remembering its inode), or with the error.
  void reply_entry(fuse_req_t req, const std::string& path, const Result<struct stat>& st);
  // Replies with the entry of ino, already remembered for path, with attributes st; lazy-file:
  // `copy` is the cached copy st is of, which the inode stands for from now on.
  void reply_remembered(fuse_req_t req, uint64_t ino, const std::string& path,
                        const struct stat& st, std::shared_ptr<CachedFile> copy);
  // How often a lookup, getattr or open asks the host again when a name change overlapped
  // its answer (InodeTable::Epoch), each time once that change has ended (waiting at most
  // kNameRaceWaitMs); the last answer is taken as it is.
  static constexpr int kNameRaceTries = 32;
  static constexpr int kNameRaceWaitMs = 1000;
  // path of ino, or replies ENOENT/ESTALE (detached inode) and returns nullopt.
  std::optional<std::string> path_or_reply(fuse_req_t req, fuse_ino_t ino);
  // parent's path joined with name, checked (ENAMETOOLONG past kMaxPathBytes, so a name the
  // wire cannot carry is refused when it is made, never accepted and dropped later).
  std::optional<std::string> child_or_reply(fuse_req_t req, fuse_ino_t parent, const char* name);
  // The caller's umask applied to a mode from create/mkdir/mknod (FUSE_CAP_DONT_MASK).
  static mode_t masked(fuse_req_t req, mode_t mode);

  // Names only the guest has: local nodes (every mode) and, in lazy-file, files not written
  // back yet. Directories always exist on the host, so such a name is never a directory.
  bool guest_only(const std::string& path) const;
  bool guest_only_beneath(const std::string& dir) const;
  size_t longest_guest_only_beneath(const std::string& dir) const;
  // Something (host or guest) is at path: EEXIST for a create.
  Result<bool> exists(const std::string& path);
  // The guest-side view of a change in directory dir: its mtime/ctime move on (changes the
  // host does not see), and noted directory times lapse.
  void touch_dir(const std::string& dir, bool guest_only_change);
  void apply_dir_times(const std::string& dir, struct stat& st) const;

  Result<void> rename_paths(const std::string& from, const std::string& to, unsigned flags);
  Result<void> setattr_path(uint64_t ino, const std::optional<std::string>& path,
                            const struct stat& attr, int to_set, fuse_file_info* fi);

  // lazy-file: ino's cached copy (fetched if need be), or the copy it stood for once its name
  // went; nullopt when it replied (an error).
  std::optional<OpenFile> open_cached_file(fuse_req_t req, uint64_t ino, fuse_file_info* fi);
  // lazy-file: opens ino, named path, whose cached copy is f (null: fetched now).
  Result<OpenFile> open_lazy(uint64_t ino, const std::string& path, int flags,
                             std::shared_ptr<CachedFile> f);
  // remote-io: ino's host file, opened by its name (or the name a rename over it took, or
  // shared with an open file of it); nullopt when it replied (an error, or a shared open).
  std::optional<OpenFile> open_host_file(fuse_req_t req, uint64_t ino, fuse_file_info* fi);
  // auto (view_auto.cc): a read-only open of an uncached file, served remotely, or nullopt
  // when the policy fetches it at open (the caller then fetches it as lazy-file does).
  Result<std::optional<OpenFile>> open_auto(uint64_t ino, const std::string& path, int flags);
  // The remote-read account of inode ino (shared by all its opens until the kernel forgets
  // it), created with size when new.
  std::shared_ptr<AutoFile> auto_file(uint64_t ino, uint64_t size);
  // The cache's fetch, timed for the policy in auto mode.
  Result<std::shared_ptr<CachedFile>> fetch_copy(const std::string& path,
                                                 const std::atomic<bool>* cancel = nullptr);
  // A read of an auto open served remotely: from its copy once there, else from the host
  // (queueing the background fetch when the policy says so).
  void read_auto(fuse_req_t req, OpenFile& f, size_t size, off_t off);
  void fetch_loop();
  // Ends a file's background fetch: its copy (null: the file stays remote), and its held reads
  // go on. Returns how many reads waited for it.
  static uint64_t end_fetch(AutoFile& a, std::shared_ptr<CachedFile> copy);
  // Ends every queued fetch unbegun (the job is done); under fetch_mu_.
  void drop_queued_fetches();
  uint64_t add_file(OpenFile f);
  // Drops the kernel's open file fh; returns its entry when that was the entry's last open
  // file (the caller closes the host handle), else nullptr.
  std::shared_ptr<OpenFile> drop_file(uint64_t fh);
  // remote-io, an inode without a name: a read-only open shares the host handle of an open
  // file of ino and is replied to. False when there is none to share.
  bool share_open(fuse_req_t req, uint64_t ino, fuse_file_info* fi);
  OpenFile* file(uint64_t fh);
  std::shared_ptr<OpenFile> open_file_of(uint64_t ino);
  void note_copy(uint64_t ino, std::shared_ptr<CachedFile> f);
  std::shared_ptr<CachedFile> copy_of(uint64_t ino);
  // Attributes through any open handle of ino (for an inode whose name is gone).
  Result<struct stat> stat_open_inode(uint64_t ino);
  Result<struct stat> stat_file(OpenFile& f);
  Result<void> truncate_path(const std::string& path, uint64_t size);

  Remote& remote_;
  LazyCache* cache_;
  const ViewOptions opts_;
  InodeTable inodes_;
  LocalNodes nodes_;

  mutable std::mutex meta_mu_;
  // FUSE inode -> local node, so an unlinked FIFO that is still open keeps its attributes.
  std::unordered_map<uint64_t, std::shared_ptr<LocalNode>> node_inos_;
  // lazy-file: FUSE inode -> the copy its name held when last looked up or opened. A reader
  // that looked a name up just before a rename replaced it opens (or stats) that copy, as it
  // would the old inode on a local file system, instead of failing (held until forget).
  std::unordered_map<uint64_t, std::shared_ptr<CachedFile>> ino_files_;
  // Directory path -> the time of its latest change the host did not see.
  std::unordered_map<std::string, struct timespec> dir_changed_;
  uint64_t next_local_ino_ = 1;

  mutable std::mutex handles_mu_;
  uint64_t next_fh_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<OpenFile>> files_;
  std::unordered_map<uint64_t, std::unique_ptr<OpenDir>> dirs_;
  ViewStats stats_;

  // auto: the policy and the background fetcher (one file at a time; the ring is shared).
  AutoPolicy auto_policy_;
  std::mutex fetch_mu_;
  std::condition_variable fetch_cv_;
  std::deque<std::pair<uint64_t, std::shared_ptr<AutoFile>>> fetch_queue_;
  bool fetch_stop_ = false;
  std::atomic<bool> fetch_cancel_{false};  // stops a background fetch between chunks
  std::unordered_map<uint64_t, std::shared_ptr<AutoFile>> auto_files_;  // under fetch_mu_
  std::thread fetcher_;
};

}  // namespace ringbox::guest::fs
