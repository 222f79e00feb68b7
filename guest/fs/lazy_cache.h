// LazyCache: the guest-local side of lazy-file mode.
//
// On first open a file is fetched whole (kGetfile, streamed in chunks through the data area)
// into an anonymous O_TMPFILE in the cache directory (tmpfs inside the domain); from then on
// the job's reads and writes are local system calls. Files the job creates are local-only
// until the end. Every file whose contents changed is in the write-back log (its entry is
// marked dirty); write_back() pushes each with kPutfile, which the host commits atomically per
// file, so a job or domain killed before that leaves nothing half-written on the export.
//
// Namespace changes (mkdir, rmdir, unlink, rename, symlink) are not logged: the view applies
// them on the host at once and tells the cache (erase, rename), because a job expects to see
// them immediately and they never leave a half-written file behind.
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

struct CachedFile {
  UniqueFd fd;               // O_RDWR anonymous file in the cache directory
  mode_t perm = 0644;        // permission bits presented to the job and sent on write-back
  proto::WireStat remote{};  // the host's attributes when fetched (times shown until dirty)
  std::atomic<bool> dirty{false};
  bool exists_remote = false;  // the host has a file at this entry's path (guarded by cache mu)
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
  // The cached copy of path, fetched whole on first use.
  Result<std::shared_ptr<CachedFile>> fetch(const std::string& path);
  // A new local file at path (replacing any cached entry there), dirty from the start.
  Result<std::shared_ptr<CachedFile>> create_local(const std::string& path, mode_t perm,
                                                   bool exists_remote);
  // Forgets path (the file was unlinked). Open handles keep their copy.
  void erase(const std::string& path);
  // Moves entries at or beneath from to the same place under to, dropping what was at to.
  void rename(const std::string& from, const std::string& to, bool to_exists_remote);
  // Local-only entries whose parent directory is dir (for readdir), and whether any entry at
  // all lies beneath dir (for rmdir).
  std::vector<std::string> local_children(const std::string& dir) const;
  bool has_entries_beneath(const std::string& dir) const;

  // Pushes every dirty entry (in path order) with kPutfile.
  WritebackReport write_back();
  uint64_t fetched_bytes() const;

 private:
  LazyCache(Remote& remote, std::string dir, uint64_t max_bytes)
      : remote_(remote), dir_(std::move(dir)), max_bytes_(max_bytes) {}
  Result<UniqueFd> new_file() const;
  uint64_t room_left() const;  // caller holds mu_

  struct Pending {
    bool done = false;
    Result<std::shared_ptr<CachedFile>> result = Error{};
  };

  Remote& remote_;
  const std::string dir_;
  const uint64_t max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable fetched_cv_;
  std::map<std::string, std::shared_ptr<CachedFile>> entries_;
  std::map<std::string, std::shared_ptr<Pending>> pending_;
  uint64_t fetched_bytes_ = 0;
  uint64_t reserved_bytes_ = 0;  // promised to fetches in progress
};

}  // namespace ringbox::guest::fs
