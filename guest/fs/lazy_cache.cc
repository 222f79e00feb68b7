#include "guest/fs/lazy_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>

#include "guest/fs/inode_table.h"
#include "guest/fs/parallel.h"

namespace ringbox::guest::fs {
namespace {
// Left free on the cache filesystem so the job's own local writes have somewhere to go.
constexpr uint64_t kCacheReserveBytes = 16ull << 20;
}  // namespace

Result<std::unique_ptr<LazyCache>> LazyCache::create(Remote& remote, const std::string& dir,
                                                     uint64_t max_bytes) {
  std::unique_ptr<LazyCache> c(new LazyCache(remote, dir, max_bytes));
  // Fail now, with the directory's name, rather than on the job's first open.
  auto probe = c->new_file();
  if (!probe) return std::move(probe.error());
  return c;
}

Result<UniqueFd> LazyCache::new_file() const {
  // Anonymous: the copy has no name to leak, and disappears with its last descriptor.
  int fd = ::open(dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return sys_error("create a file in the lazy-file cache directory " + dir_);
  return UniqueFd(fd);
}

uint64_t LazyCache::room_left() const {
  uint64_t used = fetched_bytes_ + reserved_bytes_;
  uint64_t left = used >= max_bytes_ ? 0 : max_bytes_ - used;
  struct statvfs vfs;
  if (::statvfs(dir_.c_str(), &vfs) == 0) {
    uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    free_bytes = free_bytes > kCacheReserveBytes ? free_bytes - kCacheReserveBytes : 0;
    left = std::min(left, free_bytes);
  }
  return left;
}

std::shared_ptr<CachedFile> LazyCache::find(const std::string& path) const {
  std::lock_guard lk(mu_);
  auto it = entries_.find(path);
  return it == entries_.end() ? nullptr : it->second;
}

Result<std::shared_ptr<CachedFile>> LazyCache::fetch(const std::string& path) {
  std::unique_lock lk(mu_);
  if (auto it = entries_.find(path); it != entries_.end()) return it->second;
  if (auto it = pending_.find(path); it != pending_.end()) {
    auto p = it->second;  // another opener is fetching it: wait for that one fetch
    fetched_cv_.wait(lk, [&] { return p->done; });
    return p->result;
  }
  auto pending = std::make_shared<Pending>();
  pending_[path] = pending;
  lk.unlock();

  // Size first, so the space is promised before any byte moves.
  Result<std::shared_ptr<CachedFile>> result = Error{};
  uint64_t promised = 0;
  auto st = remote_.stat(path);
  if (!st) {
    result = std::move(st.error());
  } else if (!S_ISREG(st->mode)) {
    result = Error{Errc::kRemote, S_ISDIR(st->mode) ? EISDIR : EINVAL,
                   "'" + path + "' is not a regular file"};
  } else {
    lk.lock();
    uint64_t room = room_left();
    if (st->size <= room) {
      promised = st->size;
      reserved_bytes_ += promised;
    }
    lk.unlock();
    if (promised != st->size) {
      result = Error{Errc::kTooLarge, ENOSPC,
                     "'" + path + "' (" + std::to_string(st->size) +
                         " bytes) does not fit the lazy-file cache (" + std::to_string(room) +
                         " bytes left)"};
    } else {
      auto fd = new_file();
      if (!fd) {
        result = std::move(fd.error());
      } else {
        // Allow a little growth between stat and fetch, but never past what is left.
        auto got = remote_.getfile(path, fd->get(), promised + (room - promised) / 2);
        if (!got) {
          result = std::move(got.error());
        } else {
          auto f = std::make_shared<CachedFile>();
          f->fd = std::move(*fd);
          f->perm = st->mode & 07777;
          f->remote = *st;
          f->remote.size = *got;
          f->exists_remote = true;
          result = f;
          lk.lock();
          fetched_bytes_ += *got;
          lk.unlock();
        }
      }
    }
  }

  lk.lock();
  reserved_bytes_ -= promised;
  // A rename or unlink of this path during the fetch wins: the fetched copy is then handed to
  // this opener only and not entered.
  auto it = pending_.find(path);
  if (it != pending_.end() && it->second == pending) {
    if (result && !entries_.count(path)) entries_[path] = *result;
    pending_.erase(it);
  }
  pending->result = result;
  pending->done = true;
  lk.unlock();
  fetched_cv_.notify_all();
  return result;
}

Result<std::shared_ptr<CachedFile>> LazyCache::create_local(const std::string& path, mode_t perm,
                                                            bool exists_remote) {
  auto fd = new_file();
  if (!fd) return std::move(fd.error());
  auto f = std::make_shared<CachedFile>();
  f->fd = std::move(*fd);
  f->perm = perm & 07777;
  f->dirty = true;
  f->exists_remote = exists_remote;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  f->remote.mode = S_IFREG | f->perm;
  f->remote.nlink = 1;
  f->remote.mtime_ns = f->remote.ctime_ns = f->remote.atime_ns =
      int64_t{now.tv_sec} * 1000000000 + now.tv_nsec;
  std::lock_guard lk(mu_);
  entries_[path] = f;
  return f;
}

void LazyCache::erase(const std::string& path) {
  std::lock_guard lk(mu_);
  entries_.erase(path);
  pending_.erase(path);  // an in-flight fetch of it must not enter its result
}

void LazyCache::rename(const std::string& from, const std::string& to, bool to_exists_remote) {
  std::lock_guard lk(mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (wire_path_covers(to, it->first) && !wire_path_covers(from, it->first))
      it = entries_.erase(it);
    else
      ++it;
  }
  std::vector<std::pair<std::string, std::shared_ptr<CachedFile>>> moved;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (wire_path_covers(from, it->first)) {
      moved.emplace_back(to + it->first.substr(from.size()), it->second);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [p, f] : moved) {
    if (p == to) f->exists_remote = f->exists_remote || to_exists_remote;
    entries_[p] = f;
  }
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (wire_path_covers(from, it->first) || wire_path_covers(to, it->first))
      it = pending_.erase(it);
    else
      ++it;
  }
}

std::vector<std::string> LazyCache::local_children(const std::string& dir) const {
  std::lock_guard lk(mu_);
  std::vector<std::string> names;
  for (const auto& [p, f] : entries_) {
    if (f->exists_remote || p == dir || wire_parent(p) != dir) continue;
    names.push_back(p.substr(dir == "." ? 0 : dir.size() + 1));
  }
  return names;
}

bool LazyCache::has_entries_beneath(const std::string& dir) const {
  std::lock_guard lk(mu_);
  for (const auto& [p, f] : entries_)
    if (p != dir && wire_path_covers(dir, p) && !f->exists_remote) return true;
  return false;
}

WritebackReport LazyCache::write_back() {
  std::vector<std::pair<std::string, std::shared_ptr<CachedFile>>> dirty;
  {
    std::lock_guard lk(mu_);
    for (const auto& [p, f] : entries_)
      if (f->dirty) dirty.emplace_back(p, f);
  }
  WritebackReport report;
  std::mutex report_mu;
  parallel_for(dirty.size(), kTransferThreads, [&](size_t i) {
    const auto& [p, f] = dirty[i];
    auto r = remote_.putfile(p, f->fd.get(), f->perm);
    std::lock_guard lk(report_mu);
    if (!r) {
      report.failures.push_back(p + ": " + r.error().message());
      return;
    }
    ++report.pushed;
    report.bytes += *r;
  });
  return report;
}

uint64_t LazyCache::fetched_bytes() const {
  std::lock_guard lk(mu_);
  return fetched_bytes_;
}

}  // namespace ringbox::guest::fs
