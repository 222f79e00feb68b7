#include "shared/chirp/client.h"

#include <fcntl.h>

#include <algorithm>
#include <optional>
#include <random>
#include <thread>

namespace ringbox::chirp {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kBackoffFirstMs = 50;
constexpr int kBackoffMaxMs = 2'000;
constexpr size_t kStreamChunkBytes = 16u << 20;  // open+pread/pwrite fallback transfers

bool breaks_connection(const Error& e) {
  return e.code == Errc::kPeerGone || e.code == Errc::kTimeout || e.code == Errc::kPeerBroken;
}

bool remote_errno(const Error& e, int err) {
  return e.code == Errc::kRemote && e.sys_errno == err;
}

std::string parent_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string random_hex() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[17];
  snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

}  // namespace

ChirpClient::ChirpClient(Endpoint ep, ClientOptions opt) : ep_(std::move(ep)), opt_(opt) {
  opt_.connections = std::max(1, opt_.connections);
}

ChirpClient::~ChirpClient() = default;

uint64_t ChirpClient::reconnects() const {
  std::lock_guard lock(mu_);
  return reconnects_;
}

uint64_t ChirpClient::retries() const {
  std::lock_guard lock(mu_);
  return retries_;
}

Result<void> ChirpClient::check() {
  auto c = Connection::open(ep_, opt_.timeouts, opt_.connect_ms);
  if (!c) return std::move(c.error());
  auto p = std::make_unique<Pooled>();
  p->conn = std::make_unique<Connection>(std::move(*c));
  std::lock_guard lock(mu_);
  ++live_;
  ++connects_;
  idle_.push_back(std::move(p));
  return ok();
}

Result<std::unique_ptr<ChirpClient::Pooled>> ChirpClient::acquire(Clock::time_point deadline,
                                                                  std::string_view what) {
  std::unique_lock lock(mu_);
  for (;;) {
    if (!idle_.empty()) {
      auto p = std::move(idle_.back());
      idle_.pop_back();
      lock.unlock();
      auto s = sweep_closed(*p);
      if (!s && p->conn->broken()) {
        drop();
        lock.lock();
        continue;
      }
      return p;
    }
    if (live_ < opt_.connections) {
      ++live_;
      lock.unlock();
      int backoff = kBackoffFirstMs;
      for (;;) {
        auto c = Connection::open(ep_, opt_.timeouts, opt_.connect_ms);
        if (c) {
          auto p = std::make_unique<Pooled>();
          p->conn = std::make_unique<Connection>(std::move(*c));
          std::lock_guard g(mu_);
          if (connects_++ > 0) ++reconnects_;
          return p;
        }
        if (!breaks_connection(c.error()) && c.error().code != Errc::kSystem) {
          drop();  // refused auth or a bad address: retrying will not help
          return std::move(c.error());
        }
        if (Clock::now() + std::chrono::milliseconds(backoff) >= deadline) {
          drop();
          return Error{Errc::kPeerGone, EIO,
                       std::string(what) + ": " + ep_.describe() + " unreachable for " +
                           std::to_string(opt_.peer_gone_ms) + " ms (last: " + c.error().message() +
                           ")"};
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
        backoff = std::min(backoff * 2, kBackoffMaxMs);
      }
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        live_ >= opt_.connections)
      return Error{Errc::kTimeout, EIO,
                   std::string(what) + ": no Chirp connection to " + ep_.describe() +
                       " became free within " + std::to_string(opt_.peer_gone_ms) + " ms"};
  }
}

void ChirpClient::release(std::unique_ptr<Pooled> p) {
  std::lock_guard lock(mu_);
  idle_.push_back(std::move(p));
  cv_.notify_one();
}

void ChirpClient::drop() {
  std::lock_guard lock(mu_);
  --live_;
  cv_.notify_one();
}

Result<void> ChirpClient::sweep_closed(Pooled& p) {
  std::vector<std::pair<FileHandle, int64_t>> stale;
  {
    std::lock_guard lock(mu_);
    for (auto& [h, fd] : p.fds) {
      if (!files_.count(h)) stale.emplace_back(h, fd);
    }
  }
  for (auto& [h, fd] : stale) {
    p.fds.erase(h);
    auto r = p.conn->close_file(fd);
    if (!r && p.conn->broken()) return r;
  }
  return ok();
}

template <class T, class F>
Result<T> ChirpClient::run(std::string_view what, F&& fn) {
  std::optional<Clock::time_point> first_failure;
  bool retried = false;
  for (;;) {
    auto deadline =
        first_failure.value_or(Clock::now()) + std::chrono::milliseconds(opt_.peer_gone_ms);
    auto p = acquire(deadline, what);
    if (!p) return std::move(p.error());
    Result<T> r = fn(**p, retried);
    if (!(*p)->conn->broken()) {
      release(std::move(*p));
      return r;
    }
    p->reset();
    drop();
    if (r || !breaks_connection(r.error())) return r;
    if (!first_failure) first_failure = Clock::now();
    if (Clock::now() >= *first_failure + std::chrono::milliseconds(opt_.peer_gone_ms))
      return Error{Errc::kPeerGone, EIO,
                   std::string(what) + ": gave up after " + std::to_string(opt_.peer_gone_ms) +
                       " ms of lost connections: " + r.error().message()};
    std::lock_guard lock(mu_);
    ++retries_;
    retried = true;
  }
}

Result<int64_t> ChirpClient::fd_on(Pooled& p, FileHandle h) {
  auto it = p.fds.find(h);
  if (it != p.fds.end()) return it->second;
  OpenFile f;
  {
    std::lock_guard lock(mu_);
    auto fit = files_.find(h);
    if (fit == files_.end())
      return Error{Errc::kInvalidArgument, EBADF,
                   "Chirp file handle " + std::to_string(h) + " is not open"};
    f = fit->second;
  }
  auto o = p.conn->open_file(f.path, f.reopen_flags, f.mode);
  if (!o) return std::move(o.error());
  p.fds[h] = o->fd;
  return o->fd;
}

Result<std::pair<FileHandle, StatLine>> ChirpClient::open(const std::string& path, int flags,
                                                          int mode) {
  if (flags & O_APPEND)
    return Error{Errc::kInvalidArgument, ENOTSUP,
                 "open " + path +
                     " O_APPEND over Chirp: a retried append could apply twice; "
                     "write at explicit offsets"};
  FileHandle h;
  {
    std::lock_guard lock(mu_);
    h = next_handle_++;
    files_[h] = OpenFile{path, flags & ~(O_CREAT | O_EXCL | O_TRUNC), mode};
  }
  auto r = run<std::pair<FileHandle, StatLine>>(
      "open " + path, [&](Pooled& p, bool retried) -> Result<std::pair<FileHandle, StatLine>> {
        auto o = p.conn->open_file(path, flags, mode);
        // A lost reply to an exclusive create: the first attempt made the file.
        if (!o && retried && (flags & O_EXCL) && remote_errno(o.error(), EEXIST))
          o = p.conn->open_file(path, flags & ~(O_EXCL | O_TRUNC), mode);
        if (!o) return std::move(o.error());
        p.fds[h] = o->fd;
        return std::make_pair(h, o->st);
      });
  if (!r) {
    std::lock_guard lock(mu_);
    files_.erase(h);
  }
  return r;
}

Result<void> ChirpClient::close(FileHandle h) {
  {
    std::lock_guard lock(mu_);
    if (!files_.erase(h))
      return Error{Errc::kInvalidArgument, EBADF,
                   "close Chirp handle " + std::to_string(h) + ": not open"};
  }
  // The connection acquired sweeps every closed handle it holds (this one included); the
  // others close theirs when next used.
  return run<void>("close", [&](Pooled&, bool) -> Result<void> { return ok(); });
}

Result<size_t> ChirpClient::pread(FileHandle h, std::span<std::byte> out, uint64_t offset) {
  size_t done = 0;
  while (done < out.size()) {
    auto n = run<size_t>("pread", [&](Pooled& p, bool) -> Result<size_t> {
      auto fd = fd_on(p, h);
      if (!fd) return std::move(fd.error());
      return p.conn->pread(*fd, out.subspan(done), static_cast<int64_t>(offset + done));
    });
    if (!n) return n;
    if (*n == 0) break;
    // Chirp servers answer full reads (up to their per-call limit) except at end of file.
    size_t asked = std::min<size_t>(out.size() - done, kCctoolsMaxPreadBytes);
    done += *n;
    if (*n < asked) break;
  }
  return done;
}

Result<size_t> ChirpClient::pwrite(FileHandle h, std::span<const std::byte> in, uint64_t offset) {
  size_t done = 0;
  while (done < in.size()) {
    auto n = run<size_t>("pwrite", [&](Pooled& p, bool) -> Result<size_t> {
      auto fd = fd_on(p, h);
      if (!fd) return std::move(fd.error());
      return p.conn->pwrite(*fd, in.subspan(done), static_cast<int64_t>(offset + done));
    });
    if (!n) return n;
    if (*n == 0) return Error{Errc::kRemote, EIO, "pwrite: Chirp server accepted no bytes"};
    done += *n;
  }
  return done;
}

Result<StatLine> ChirpClient::fstat(FileHandle h) {
  return run<StatLine>("fstat", [&](Pooled& p, bool) -> Result<StatLine> {
    auto fd = fd_on(p, h);
    if (!fd) return std::move(fd.error());
    return p.conn->fstat(*fd);
  });
}

Result<void> ChirpClient::fsync(FileHandle h) {
  return run<void>("fsync", [&](Pooled& p, bool) -> Result<void> {
    auto fd = fd_on(p, h);
    if (!fd) return std::move(fd.error());
    return p.conn->fsync(*fd);
  });
}

Result<void> ChirpClient::ftruncate(FileHandle h, uint64_t length) {
  return run<void>("ftruncate", [&](Pooled& p, bool) -> Result<void> {
    auto fd = fd_on(p, h);
    if (!fd) return std::move(fd.error());
    return p.conn->ftruncate(*fd, static_cast<int64_t>(length));
  });
}

Result<StatLine> ChirpClient::stat(const std::string& path) {
  return run<StatLine>("stat " + path, [&](Pooled& p, bool) { return p.conn->stat(path); });
}

Result<StatLine> ChirpClient::lstat(const std::string& path) {
  return run<StatLine>("lstat " + path, [&](Pooled& p, bool) { return p.conn->lstat(path); });
}

Result<StatfsLine> ChirpClient::statfs(const std::string& path) {
  return run<StatfsLine>("statfs " + path, [&](Pooled& p, bool) { return p.conn->statfs(path); });
}

Result<std::vector<DirEntry>> ChirpClient::getdir(const std::string& path, bool with_stat) {
  return run<std::vector<DirEntry>>(
      "getdir " + path, [&](Pooled& p, bool) { return p.conn->getdir(path, with_stat); });
}

Result<void> ChirpClient::mkdir(const std::string& path, int mode) {
  return run<void>("mkdir " + path, [&](Pooled& p, bool retried) -> Result<void> {
    auto r = p.conn->mkdir(path, mode);
    if (!r && retried && remote_errno(r.error(), EEXIST)) return ok();
    return r;
  });
}

Result<void> ChirpClient::rmdir(const std::string& path) {
  return run<void>("rmdir " + path, [&](Pooled& p, bool retried) -> Result<void> {
    auto r = p.conn->rmdir(path);
    if (!r && retried && remote_errno(r.error(), ENOENT)) return ok();
    return r;
  });
}

Result<void> ChirpClient::unlink(const std::string& path) {
  return run<void>("unlink " + path, [&](Pooled& p, bool retried) -> Result<void> {
    auto r = p.conn->unlink(path);
    if (!r && retried && remote_errno(r.error(), ENOENT)) return ok();
    return r;
  });
}

Result<void> ChirpClient::rename(const std::string& from, const std::string& to) {
  return run<void>("rename " + from, [&](Pooled& p, bool retried) -> Result<void> {
    auto r = p.conn->rename(from, to);
    if (!r && retried && remote_errno(r.error(), ENOENT) && p.conn->lstat(to)) return ok();
    return r;
  });
}

Result<void> ChirpClient::link(const std::string& target, const std::string& path) {
  return run<void>("link " + path, [&](Pooled& p, bool retried) -> Result<void> {
    auto r = p.conn->link(target, path);
    if (!r && retried && remote_errno(r.error(), EEXIST)) return ok();
    return r;
  });
}

Result<void> ChirpClient::symlink(const std::string& target, const std::string& path) {
  return run<void>("symlink " + path, [&](Pooled& p, bool retried) -> Result<void> {
    auto r = p.conn->symlink(target, path);
    if (!r && retried && remote_errno(r.error(), EEXIST)) return ok();
    return r;
  });
}

Result<std::string> ChirpClient::readlink(const std::string& path) {
  return run<std::string>("readlink " + path,
                          [&](Pooled& p, bool) { return p.conn->readlink(path); });
}

Result<void> ChirpClient::truncate(const std::string& path, uint64_t length) {
  return run<void>("truncate " + path, [&](Pooled& p, bool) {
    return p.conn->truncate(path, static_cast<int64_t>(length));
  });
}

Result<void> ChirpClient::chmod(const std::string& path, int mode) {
  return run<void>("chmod " + path, [&](Pooled& p, bool) { return p.conn->chmod(path, mode); });
}

Result<void> ChirpClient::utime(const std::string& path, int64_t atime, int64_t mtime) {
  return run<void>("utime " + path,
                   [&](Pooled& p, bool) { return p.conn->utime(path, atime, mtime); });
}

Result<uint64_t> ChirpClient::get_file(const std::string& path, const FileSink& sink) {
  auto r = run<uint64_t>("getfile " + path,
                         [&](Pooled& p, bool) { return p.conn->getfile(path, sink); });
  // The HTCondor shadow answers TOO_BIG for empty files and files over 256 MiB.
  if (r || ep_.kind != PeerKind::kCondorProxy || !remote_errno(r.error(), EFBIG)) return r;
  auto o = open(path, O_RDONLY, 0);
  if (!o) return std::move(o.error());
  FileHandle h = o->first;
  const auto size = static_cast<uint64_t>(std::max<int64_t>(0, o->second.size));
  std::vector<std::byte> buf(std::min<uint64_t>(kStreamChunkBytes, size));
  uint64_t done = 0;
  Result<uint64_t> out = uint64_t{0};
  while (done < size) {
    auto n = pread(h, std::span<std::byte>(buf.data(), std::min<uint64_t>(buf.size(), size - done)),
                   done);
    if (!n) {
      out = std::move(n.error());
      break;
    }
    if (*n == 0) break;  // shrank since open: what we read is the file
    auto s = sink(std::span<const std::byte>(buf.data(), *n), done);
    if (!s) {
      out = std::move(s.error());
      break;
    }
    done += *n;
  }
  auto c = close(h);
  if (!out) return out;
  if (!c) return std::move(c.error());
  return done;
}

Result<void> ChirpClient::put_file(const std::string& path, int mode, uint64_t length,
                                   const FileSource& source) {
  std::string dir = parent_of(path);
  std::string tmp =
      (dir.empty() ? "" : dir + "/") + ".ringbox-put." + base_of(path) + "." + random_hex();
  bool one_call =
      ep_.kind != PeerKind::kCondorProxy || length <= static_cast<uint64_t>(kCondorMaxCallBytes);
  Result<void> stored = ok();
  if (length == 0) {
    // An empty file is an open with create+truncate and a close: a zero-length putfile gets
    // one reply from HTCondor's proxy but two from cctools and ringbox-submitd, and a client
    // cannot tell which server is behind a .chirp.config.
    auto o = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (!o) return std::move(o.error());
    stored = close(o->first);
  } else if (one_call) {
    auto r = run<uint64_t>("putfile " + path, [&](Pooled& p, bool) {
      return p.conn->putfile(tmp, mode, length, source);
    });
    if (!r) stored = std::move(r.error());
  } else {
    auto o = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (!o) return std::move(o.error());
    std::vector<std::byte> buf(kStreamChunkBytes);
    for (uint64_t done = 0; done < length && stored;) {
      size_t step = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - done));
      auto n = source(std::span<std::byte>(buf.data(), step), done);
      if (!n || *n != step) {
        stored = n ? make_error(Errc::kInvalidArgument, "put " + path + ": source ended early")
                   : std::move(n.error());
        break;
      }
      auto w = pwrite(o->first, std::span<const std::byte>(buf.data(), step), done);
      if (!w) stored = std::move(w.error());
      done += step;
    }
    auto c = close(o->first);
    if (stored && !c) stored = std::move(c.error());
  }
  if (stored) stored = rename(tmp, path);
  if (!stored) (void)unlink(tmp);  // best effort: the error below is what matters
  return stored;
}

}  // namespace ringbox::chirp
