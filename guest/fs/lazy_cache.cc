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

uint64_t LazyCache::room() const {
  std::lock_guard lk(mu_);
  return room_left();
}

std::shared_ptr<CachedFile> LazyCache::find(const std::string& path) const {
  std::lock_guard lk(mu_);
  auto it = entries_.find(path);
  return it == entries_.end() ? nullptr : it->second.file;
}

CacheEntry LazyCache::entry(const std::string& path) const {
  std::lock_guard lk(mu_);
  auto it = entries_.find(path);
  return it == entries_.end() ? CacheEntry{} : it->second;
}

Result<std::shared_ptr<CachedFile>> LazyCache::fetch(const std::string& path,
                                                     const std::atomic<bool>* cancel) {
  std::unique_lock lk(mu_);
  if (auto it = entries_.find(path); it != entries_.end()) return it->second.file;
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
        auto got = remote_.getfile(path, fd->get(), promised + (room - promised) / 2, cancel);
        if (!got) {
          result = std::move(got.error());
        } else {
          auto f = std::make_shared<CachedFile>();
          f->fd = std::move(*fd);
          f->perm = st->mode & 07777;
          f->remote = *st;
          f->remote.size = *got;
          f->nlink = st->nlink > 0 ? st->nlink : 1;
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
    if (result && !entries_.count(path)) entries_[path] = CacheEntry{*result, true};
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
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  f->remote.mode = S_IFREG | f->perm;
  f->remote.nlink = 1;
  f->remote.mtime_ns = f->remote.ctime_ns = f->remote.atime_ns =
      int64_t{now.tv_sec} * 1000000000 + now.tv_nsec;
  std::lock_guard lk(mu_);
  drop_locked(path);
  entries_[path] = CacheEntry{f, exists_remote};
  return f;
}

void LazyCache::drop_locked(const std::string& path) {
  auto it = entries_.find(path);
  if (it == entries_.end()) return;
  if (it->second.file->nlink > 0) --it->second.file->nlink;
  entries_.erase(it);
}

void LazyCache::erase(const std::string& path) {
  std::lock_guard lk(mu_);
  drop_locked(path);
  pending_.erase(path);  // an in-flight fetch of it must not enter its result
}

void LazyCache::rename(const std::string& from, const std::string& to, bool to_exists_remote) {
  if (from == to) return;
  std::lock_guard lk(mu_);
  std::vector<std::string> dropped;
  for (const auto& [p, e] : entries_)
    if (wire_path_covers(to, p) && !wire_path_covers(from, p)) dropped.push_back(p);
  for (const auto& p : dropped) drop_locked(p);
  std::vector<std::pair<std::string, CacheEntry>> moved;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (wire_path_covers(from, it->first)) {
      moved.emplace_back(to + it->first.substr(from.size()), it->second);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [p, e] : moved) {
    if (p == to) e.exists_remote = e.exists_remote || to_exists_remote;
    entries_[p] = e;
  }
  move_dir_times_locked(from, to, false);
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (wire_path_covers(from, it->first) || wire_path_covers(to, it->first))
      it = pending_.erase(it);
    else
      ++it;
  }
}

void LazyCache::exchange(const std::string& a, const std::string& b) {
  if (a == b) return;
  std::lock_guard lk(mu_);
  std::vector<std::pair<std::string, CacheEntry>> moved;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (wire_path_covers(a, it->first)) {
      moved.emplace_back(b + it->first.substr(a.size()), it->second);
      it = entries_.erase(it);
    } else if (wire_path_covers(b, it->first)) {
      moved.emplace_back(a + it->first.substr(b.size()), it->second);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [p, e] : moved) entries_[p] = e;
  move_dir_times_locked(a, b, true);
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (wire_path_covers(a, it->first) || wire_path_covers(b, it->first))
      it = pending_.erase(it);
    else
      ++it;
  }
}

bool LazyCache::link(const std::string& from, const std::string& to, bool exists_remote) {
  std::lock_guard lk(mu_);
  auto it = entries_.find(from);
  if (it == entries_.end()) return false;
  auto f = it->second.file;
  drop_locked(to);
  ++f->nlink;
  entries_[to] = CacheEntry{f, exists_remote};
  return true;
}

void LazyCache::move_dir_times_locked(const std::string& a, const std::string& b, bool swap) {
  std::vector<std::pair<std::string, proto::WireSetattr>> moved;
  for (auto it = dir_times_.begin(); it != dir_times_.end();) {
    if (wire_path_covers(a, it->first)) {
      moved.emplace_back(b + it->first.substr(a.size()), it->second);
      it = dir_times_.erase(it);
    } else if (wire_path_covers(b, it->first)) {
      if (swap) moved.emplace_back(a + it->first.substr(b.size()), it->second);
      it = dir_times_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [p, t] : moved) dir_times_[p] = t;
}

void LazyCache::note_dir_times(const std::string& dir, const proto::WireSetattr& times) {
  std::lock_guard lk(mu_);
  proto::WireSetattr& t = dir_times_[dir];
  if (times.valid & (proto::kSetAtime | proto::kSetAtimeNow)) {
    t.valid &= ~(proto::kSetAtime | proto::kSetAtimeNow);
    t.valid |= times.valid & (proto::kSetAtime | proto::kSetAtimeNow);
    t.atime_ns = times.atime_ns;
  }
  if (times.valid & (proto::kSetMtime | proto::kSetMtimeNow)) {
    t.valid &= ~(proto::kSetMtime | proto::kSetMtimeNow);
    t.valid |= times.valid & (proto::kSetMtime | proto::kSetMtimeNow);
    t.mtime_ns = times.mtime_ns;
  }
}

void LazyCache::dir_changed(const std::string& dir) {
  std::lock_guard lk(mu_);
  auto it = dir_times_.find(dir);
  if (it == dir_times_.end()) return;
  // Its mtime moves on; a time the job set for atime alone stays.
  it->second.valid &= ~(proto::kSetMtime | proto::kSetMtimeNow);
  if ((it->second.valid & (proto::kSetAtime | proto::kSetAtimeNow)) == 0) dir_times_.erase(it);
}

std::vector<std::string> LazyCache::local_children(const std::string& dir) const {
  std::lock_guard lk(mu_);
  std::vector<std::string> names;
  for (const auto& [p, e] : entries_) {
    if (e.exists_remote || p == dir || wire_parent(p) != dir) continue;
    names.push_back(p.substr(dir == "." ? 0 : dir.size() + 1));
  }
  return names;
}

bool LazyCache::has_entries_beneath(const std::string& dir) const {
  std::lock_guard lk(mu_);
  for (const auto& [p, e] : entries_)
    if (p != dir && wire_path_covers(dir, p) && !e.exists_remote) return true;
  return false;
}

size_t LazyCache::longest_beneath(const std::string& dir) const {
  std::lock_guard lk(mu_);
  size_t longest = 0;
  for (const auto& [p, e] : entries_)
    if (p != dir && wire_path_covers(dir, p) && !e.exists_remote && p.size() > longest)
      longest = p.size();
  return longest;
}

namespace {
// The times of a local copy, as a kSetattr for its returned file.
Result<proto::WireSetattr> times_of(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return sys_error("stat a local copy");
  proto::WireSetattr sa{};
  sa.valid = proto::kSetAtime | proto::kSetMtime;
  sa.atime_ns = int64_t{st.st_atim.tv_sec} * 1000000000 + st.st_atim.tv_nsec;
  sa.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  return sa;
}
}  // namespace

WritebackReport LazyCache::write_back() {
  // Each dirty file once, under its first name in path order; its other names become links.
  struct Job {
    std::shared_ptr<CachedFile> file;
    std::vector<std::string> names;
  };
  std::vector<Job> jobs;
  std::vector<std::pair<std::string, proto::WireSetattr>> dir_times;
  {
    std::lock_guard lk(mu_);
    std::map<CachedFile*, size_t> index;
    for (const auto& [p, e] : entries_) {
      if (!e.file->dirty) continue;
      auto [it, fresh] = index.try_emplace(e.file.get(), jobs.size());
      if (fresh) jobs.push_back(Job{e.file, {}});
      jobs[it->second].names.push_back(p);
    }
    dir_times.assign(dir_times_.begin(), dir_times_.end());
  }
  WritebackReport report;
  std::mutex report_mu;
  parallel_for(jobs.size(), kTransferThreads, [&](size_t i) {
    const Job& job = jobs[i];
    const std::string& first = job.names.front();
    auto fail = [&](const std::string& path, const Error& e) {
      std::lock_guard lk(report_mu);
      report.failures.push_back(path + ": " + e.message());
    };
    // Times first (a read of the copy would not change them, but a failure should be known
    // before the upload), applied after it: kPutfile makes a new file.
    auto times = times_of(job.file->fd.get());
    if (!times) return fail(first, times.error());
    auto r = remote_.putfile(first, job.file->fd.get(), job.file->perm.load());
    if (!r) return fail(first, r.error());
    {
      std::lock_guard lk(report_mu);
      ++report.pushed;
      report.bytes += *r;
    }
    if (auto t = remote_.setattr(first, *times); !t)
      fail(first, Error{t.error().code, t.error().sys_errno,
                        "returned, but its times were not set: " + t.error().what});
    for (size_t n = 1; n < job.names.size(); ++n) {
      const std::string& other = job.names[n];
      // The host may still have the old file under this name (a link made before the job
      // wrote): the new file replaces it. Twice when the link finds a name there: a link the
      // host made but whose answer a host restart or a restore lost was replayed.
      Result<void> l = ok();
      for (int attempt = 0; attempt < 2; ++attempt) {
        if (auto u = remote_.unlink(other); !u && errno_of(u.error()) != ENOENT) {
          l = std::move(u.error());
          break;
        }
        l = remote_.link(first, other);
        if (l || errno_of(l.error()) != EEXIST) break;
      }
      if (!l)
        fail(other, Error{l.error().code, l.error().sys_errno,
                          "hard link to '" + first + "' not made: " + l.error().what});
    }
  });
  for (const auto& [dir, t] : dir_times) {
    if (auto r = remote_.setattr(dir, t); !r && errno_of(r.error()) != ENOENT)
      report.failures.push_back(dir + ": directory times not set again: " + r.error().message());
  }
  return report;
}

uint64_t LazyCache::fetched_bytes() const {
  std::lock_guard lk(mu_);
  return fetched_bytes_;
}

}  // namespace ringbox::guest::fs
