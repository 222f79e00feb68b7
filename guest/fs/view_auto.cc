// View: auto mode's per-file choice (AutoPolicy) between a whole fetch and remote reads, and
// the background fetcher that moves a remotely read file into the cache.
#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <string>
#include <vector>

#include "guest/fs/fuse_busy.h"
#include "guest/fs/view.h"
#include "shared/util/log.h"

namespace ringbox::guest::fs {

namespace {
using Clock = std::chrono::steady_clock;
double us_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}
void reply_from_copy(fuse_req_t req, const CachedFile& copy, size_t size, off_t off) {
  fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
  buf.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
  buf.buf[0].fd = copy.fd.get();
  buf.buf[0].pos = off;
  fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}
}  // namespace

Result<std::shared_ptr<CachedFile>> View::fetch_copy(const std::string& path,
                                                     const std::atomic<bool>* cancel) {
  auto t0 = Clock::now();
  auto fetched = cache_->fetch(path, cancel);
  if (fetched && auto_mode()) auto_policy_.note_fetch((*fetched)->remote.size, us_since(t0));
  return fetched;
}

std::shared_ptr<View::AutoFile> View::auto_file(uint64_t ino, uint64_t size) {
  std::lock_guard lk(fetch_mu_);
  auto& a = auto_files_[ino];
  if (!a) a = std::make_shared<AutoFile>();
  a->size = size;
  return a;
}

Result<std::optional<View::OpenFile>> View::open_auto(uint64_t ino, const std::string& path,
                                                      int flags) {
  auto fetch_whole = [this] {
    std::lock_guard lk(handles_mu_);
    ++stats_.auto_fetched_at_open;
    return std::optional<OpenFile>();
  };
  // The size the kernel's lookup brought decides without a round trip: a small file costs
  // one fetch (kStat + kGetfile), no kOpen/kClose.
  std::shared_ptr<AutoFile> known;
  {
    std::lock_guard lk(fetch_mu_);
    if (auto it = auto_files_.find(ino); it != auto_files_.end()) known = it->second;
  }
  if (known && auto_policy_.fetch_at_open(known->size, cache_->room())) return fetch_whole();
  auto t0 = Clock::now();
  auto o = remote_.open(path, flags & ~(O_CREAT | O_TRUNC), 0);
  if (!o) return std::move(o.error());
  auto_policy_.note_round_trip(us_since(t0));
  proto::WireStat ws = o->stat;
  if (!o->has_stat) {
    auto st = remote_.fstat(o->handle);
    if (!st) {
      (void)remote_.close(o->handle);
      return std::move(st.error());
    }
    ws = *st;
  }
  if (!known && S_ISREG(ws.mode) && auto_policy_.fetch_at_open(ws.size, cache_->room())) {
    (void)remote_.close(o->handle);
    return fetch_whole();
  }
  OpenFile of;
  of.handle = o->handle;
  of.autof = auto_file(ino, ws.size);
  {
    std::lock_guard lk(handles_mu_);
    ++stats_.auto_remote_opens;
  }
  return std::optional<OpenFile>(std::move(of));
}

void View::read_auto(fuse_req_t req, OpenFile& f, size_t size, off_t off) {
  AutoFile& a = *f.autof;
  std::shared_ptr<CachedFile> copy;
  {
    // While this file's fetch is queued or under way its reads wait for the copy instead of
    // competing with the fetch on the ring (nested Xen, a 16 MiB file: the fetch ran at 22 MB/s
    // beside the reads, 74 MB/s alone; docs/modes.md).
    // Polled every 20 ms for holds_released(): a vacate or a stop does not wait for a fetch.
    std::unique_lock lk(a.mu);
    if (a.fetching && !holds_released()) {
      ++a.reads_held;
      while (!a.fetched.wait_for(lk, std::chrono::milliseconds(20), [&] { return !a.fetching; }))
        if (holds_released()) break;
    }
    copy = a.copy;
  }
  // A copy another open made (a writer, or lazy-file's own fetch) is the file now: its
  // bytes may be newer than the host's.
  if (!copy) copy = copy_of(f.ino);
  if (copy) {
    reply_from_copy(req, *copy, size, off);
    return;
  }
  std::vector<std::byte> data(size);
  auto t0 = Clock::now();
  auto n = remote_.pread(f.handle, data, static_cast<uint64_t>(off));
  if (!n) {
    fuse_reply_err(req, errno_of(n.error()));
    return;
  }
  double us = us_since(t0);
  fuse_reply_buf(req, reinterpret_cast<const char*>(data.data()), *n);
  auto decided = auto_policy_.note_remote_read(
      a.reads, a.size, [this] { return cache_->room(); }, *n, us);
  if (decided == AutoSwitch::kNoRoom) {
    auto path = inodes_.path(f.ino);
    log::info("auto: '" + (path ? *path : "inode " + std::to_string(f.ino)) +
              "' stays remote: its " + std::to_string(a.size) +
              " bytes do not fit the cache's room");
  } else if (decided == AutoSwitch::kFetch) {
    {
      std::lock_guard lk(fetch_mu_);
      if (fetch_stop_) return;  // the job is done: nothing would end the wait
      {
        std::lock_guard al(a.mu);
        a.fetching = true;
      }
      fetch_queue_.emplace_back(f.ino, f.autof);
    }
    fetch_cv_.notify_one();
  }
}

uint64_t View::end_fetch(AutoFile& a, std::shared_ptr<CachedFile> copy) {
  uint64_t held = 0;
  {
    std::lock_guard lk(a.mu);
    if (copy) a.copy = std::move(copy);
    a.fetching = false;
    held = a.reads_held;
  }
  a.fetched.notify_all();
  return held;
}

void View::drop_queued_fetches() {
  for (auto& [ino, queued] : fetch_queue_) end_fetch(*queued, nullptr);
  fetch_queue_.clear();
}

void View::fetch_loop() {
  for (;;) {
    std::pair<uint64_t, std::shared_ptr<AutoFile>> item;
    {
      std::unique_lock lk(fetch_mu_);
      fetch_cv_.wait(lk, [&] { return fetch_stop_ || !fetch_queue_.empty(); });
      if (fetch_stop_) {
        if (!fetch_queue_.empty())
          log::info("auto: " + std::to_string(fetch_queue_.size()) +
                    " background fetch(es) not begun: the job is done");
        drop_queued_fetches();
        return;
      }
      item = std::move(fetch_queue_.front());
      fetch_queue_.pop_front();
    }
    auto [ino, autof] = std::move(item);
    // The name the inode has now: a file renamed meanwhile is fetched under its new name; one
    // unlinked or replaced stays remote (its handle still reads the old file).
    auto path = inodes_.path(ino);
    if (!path) {
      end_fetch(*autof, nullptr);
      continue;
    }
    const AutoReads before = auto_policy_.reads_of(autof->reads);
    const auto t0 = Clock::now();
    auto fetched = fetch_copy(*path, &fetch_cancel_);
    const double fetch_us = us_since(t0);
    if (!fetched) {
      const uint64_t held = end_fetch(*autof, nullptr);
      if (fetched.error().code == Errc::kCancelled) {
        log::info(
            "auto: the background fetch of '" + *path +
            "' was cancelled: the job is done; reads that waited for it: " + std::to_string(held));
        std::lock_guard lk(fetch_mu_);
        drop_queued_fetches();
        return;
      }
      log::info("auto: '" + *path + "' stays remote: " + fetched.error().message());
      continue;
    }
    note_copy(ino, *fetched);
    const uint64_t held = end_fetch(*autof, *fetched);
    log::info("auto: '" + *path + "' fetched after " + std::to_string(before.reads) +
              " remote reads (" + std::to_string(static_cast<int64_t>(before.spent_us / 1000)) +
              " ms); the fetch took " + std::to_string(static_cast<int64_t>(fetch_us / 1000)) +
              " ms; reads that waited for it: " + std::to_string(held));
    std::lock_guard lk(handles_mu_);
    ++stats_.auto_switched;
  }
}

}  // namespace ringbox::guest::fs
