// LazyCache: the guest-local side of lazy-file mode.
//
// On first open a file is fetched whole (kGetfile, streamed in chunks through the data area)
// into an anonymous O_TMPFILE in the cache directory (tmpfs inside the domain); from then on
// the job's reads and writes are local system calls. Files the job creates are local-only
// until the end. Every file whose contents changed is in the write-back log (its entry is
// marked dirty); write_back() pushes each with kPutfile, which the host commits atomically per
// file, so a job or domain killed before that leaves nothing half-written on the export.
//
// Namespace changes (mkdir, rmdir, unlink, rename, symlink, link) of names the host has are not
// logged: the view applies them on the host at once and tells the cache (erase, rename,
// exchange, link), because a job expects to see them immediately and they never leave a
// half-written file behind. Names only the guest has so far (files the job created, and names
// renamed or linked onto them) stay in the cache until write_back(), which sends each file
// once with its exact mode and then its times (kPutfile, kSetattr), and its other names as
// hard links (kLink). Times the job set on directories are applied again after that, since
// the write-back itself changes the directories it writes into.
//
// Space: a fetch that would take the cache past max_bytes (or past the free space of the
// cache filesystem) fails with ENOSPC; the view then serves a read-only open of that file by
// remote I/O instead, and refuses a writable open with ENOSPC (see docs/modes.md). Local
// writes that fill the cache filesystem get ENOSPC from it directly.
//
// Thread-safe. Concurrent opens of one uncached file share a single fetch.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "guest/fs/remote.h"
#include "shared/util/unique_fd.h"

namespace ringbox::guest::fs {

// One file's local copy. It may have several names (hard links made in the guest).
struct CachedFile {
  UniqueFd fd;                     // O_RDWR anonymous file in the cache directory
  std::atomic<mode_t> perm{0644};  // permission bits (07777) presented and sent on write-back
  proto::WireStat remote{};        // the host's attributes when fetched (times shown until dirty)
  std::atomic<bool> dirty{false};
  std::atomic<uint32_t> nlink{1};  // names in the guest (0 once unlinked: fstat shows it)
};

// A name in the cache: the file and whether the host has a file at this path (false for a
// name only the guest knows so far).
struct CacheEntry {
  std::shared_ptr<CachedFile> file;
  bool exists_remote = false;
};

struct WritebackReport {
  size_t pushed = 0;
  uint64_t bytes = 0;
  std::vector<std::string> failures;  // "path: reason", one per file not written back
};

class LazyCache {
 public:
  static Result<std::unique_ptr<LazyCache>> create(Remote& remote, const std::string& dir,
                                                   uint64_t max_bytes);

  std::shared_ptr<CachedFile> find(const std::string& path) const;
  // The entry at path (file null when there is none).
  CacheEntry entry(const std::string& path) const;
  // The cached copy of path, fetched whole on first use. A fetch stops between chunks (Errc::
  // kCancelled, nothing entered) once *cancel is true.
  Result<std::shared_ptr<CachedFile>> fetch(const std::string& path,
                                            const std::atomic<bool>* cancel = nullptr);
  // A new local file at path (replacing any cached entry there), dirty from the start.
  Result<std::shared_ptr<CachedFile>> create_local(const std::string& path, mode_t perm,
                                                   bool exists_remote);
  // Forgets path (the file was unlinked). Open handles keep their copy.
  void erase(const std::string& path);
  // Moves entries at or beneath from to the same place under to, dropping what was at to.
  // to_exists_remote: the host has a file at `to` that stays there until write-back.
  void rename(const std::string& from, const std::string& to, bool to_exists_remote);
  // Entries at or beneath a and at or beneath b trade places (RENAME_EXCHANGE).
  void exchange(const std::string& a, const std::string& b);
  // A second name `to` for the cached file at from; exists_remote as for CacheEntry. False
  // when from is not cached.
  bool link(const std::string& from, const std::string& to, bool exists_remote);
  // Guest-only entries whose parent directory is dir (for readdir), whether a guest-only entry
  // lies strictly beneath dir (rmdir, rename over a directory), and the longest such path.
  std::vector<std::string> local_children(const std::string& dir) const;
  bool has_entries_beneath(const std::string& dir) const;
  size_t longest_beneath(const std::string& dir) const;

  // Times the job set on directory `dir` (sent to the host at once), to apply again after the
  // write-back; dir_changed() drops them when the directory changes after that (its mtime then
  // moves on, as it would on a local file system).
  void note_dir_times(const std::string& dir, const proto::WireSetattr& times);
  void dir_changed(const std::string& dir);

  // Pushes every dirty file with kPutfile (exact mode) and then kSetattr (its times), links
  // its other names to it (kLink), then applies the noted directory times again.
  WritebackReport write_back();
  uint64_t fetched_bytes() const;
  // Bytes a fetch may still take: max_bytes less what is fetched or promised, and at most the
  // cache file system's free space less its reserve.
  uint64_t room() const;

 private:
  LazyCache(Remote& remote, std::string dir, uint64_t max_bytes)
      : remote_(remote), dir_(std::move(dir)), max_bytes_(max_bytes) {}
  Result<UniqueFd> new_file() const;
  uint64_t room_left() const;  // caller holds mu_
  void drop_locked(const std::string& path);
  // Noted directory times at or beneath a move beneath b (and, with swap, the other way).
  void move_dir_times_locked(const std::string& a, const std::string& b, bool swap);

  struct Pending {
    bool done = false;
    Result<std::shared_ptr<CachedFile>> result = Error{};
  };

  Remote& remote_;
  const std::string dir_;
  const uint64_t max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable fetched_cv_;
  std::map<std::string, CacheEntry> entries_;
  std::map<std::string, proto::WireSetattr> dir_times_;
  std::map<std::string, std::shared_ptr<Pending>> pending_;
  uint64_t fetched_bytes_ = 0;
  uint64_t reserved_bytes_ = 0;  // promised to fetches in progress
};

}  // namespace ringbox::guest::fs
