#include "host/files/chirp_backend.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>  // RENAME_NOREPLACE, RENAME_EXCHANGE

#include <algorithm>
#include <climits>
#include <cstdio>
#include <ctime>
#include <optional>
#include <random>
#include <vector>

#include "host/files/export_root.h"  // kMaxSymlinkHops, kMaxResolveSteps: one rule for both
#include "shared/protocol/codec.h"
#include "shared/util/log.h"

namespace ringbox::host::files {
namespace {

// An error from the client, with an errno the service can map (EIO when the peer gave none).
Error relayed(Error e) {
  if (e.sys_errno == 0) e.sys_errno = EIO;
  return e;
}

std::string quoted(std::string_view p) {
  return "'" + printable(p) + "'";
}

std::string join(const std::vector<std::string>& parts) {
  if (parts.empty()) return ".";
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

std::vector<std::string> split(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    if (!part.empty() && part != ".") out.emplace_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

int open_flags(const OpenMode& how) {
  int f = how.read && how.write ? O_RDWR : how.write ? O_WRONLY : O_RDONLY;
  if (how.truncate) f |= O_TRUNC;
  return f;  // never O_APPEND: ChirpClient refuses it (a retried append would apply twice)
}

// The times of a change in whole seconds (Chirp's utime has no nanoseconds), omitted ones
// taken from current.
std::pair<int64_t, int64_t> whole_seconds(const AttrChange& c, const struct stat& current) {
  auto pick = [](const struct timespec& t, time_t now, time_t keep) -> int64_t {
    if (t.tv_nsec == UTIME_OMIT) return keep;
    if (t.tv_nsec == UTIME_NOW) return now;
    return t.tv_sec;
  };
  time_t now = ::time(nullptr);
  return {pick(c.times[0], now, current.st_atime), pick(c.times[1], now, current.st_mtime)};
}

std::string random_hex() {
  std::random_device rd;
  std::uniform_int_distribution<uint64_t> d;
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(d(rd)));
  return buf;
}

// An open regular file (a Chirp handle) or directory (no handle: Chirp opens only files).
class ChirpFile final : public BackendFile {
 public:
  ChirpFile(std::shared_ptr<chirp::ChirpClient> c, std::optional<chirp::FileHandle> h,
            std::string path, bool append)
      : c_(std::move(c)), h_(h), path_(std::move(path)), append_(append) {}
  ~ChirpFile() override {
    if (h_) (void)c_->close(*h_);
  }
  Result<size_t> pread(std::span<std::byte> out, off_t offset) override {
    if (!h_) return sys_error(EISDIR, "read " + quoted(path_));
    auto r = c_->pread(*h_, out, static_cast<uint64_t>(offset));
    if (!r) return relayed(std::move(r.error()));
    return *r;
  }
  Result<size_t> pwrite(std::span<const std::byte> data, off_t offset) override {
    if (!h_) return sys_error(EISDIR, "write " + quoted(path_));
    uint64_t at = static_cast<uint64_t>(offset);
    if (append_) {  // Chirp has no O_APPEND: at the size the server reports now
      auto st = c_->fstat(*h_);
      if (!st) return relayed(std::move(st.error()));
      at = static_cast<uint64_t>(st->size);
    }
    auto r = c_->pwrite(*h_, data, at);
    if (!r) return relayed(std::move(r.error()));
    return *r;
  }
  Result<struct stat> fstat() override {
    auto r = h_ ? c_->fstat(*h_) : c_->stat(path_);
    if (!r) return relayed(std::move(r.error()));
    return to_stat(*r);
  }
  Result<void> fsync() override {
    if (!h_) return ok();
    auto r = c_->fsync(*h_);
    if (!r) return relayed(std::move(r.error()));
    return ok();
  }
  Result<void> ftruncate(off_t size) override {
    if (!h_) return sys_error(EISDIR, "truncate " + quoted(path_));
    auto r = c_->ftruncate(*h_, static_cast<uint64_t>(size));
    if (!r) return relayed(std::move(r.error()));
    return ok();
  }
  Result<void> fallocate(int, off_t, off_t) override {
    return sys_error(EOPNOTSUPP, "fallocate " + quoted(path_) + ": Chirp has no fallocate");
  }
  // By name (Chirp has no fchmod/futimes): the name the file was opened at.
  Result<struct stat> setattr(const AttrChange& change) override {
    if (change.set_mode) {
      auto r = c_->chmod(path_, static_cast<int>(change.mode));
      if (!r) return relayed(std::move(r.error()));
    }
    if (change.changes_times()) {
      auto cur = fstat();
      if (!cur) return std::move(cur.error());
      auto [a, m] = whole_seconds(change, *cur);
      auto r = c_->utime(path_, a, m);
      if (!r) return relayed(std::move(r.error()));
    }
    return fstat();
  }

 private:
  std::shared_ptr<chirp::ChirpClient> c_;
  std::optional<chirp::FileHandle> h_;
  std::string path_;
  bool append_;
};

// A kPutfile upload: a hidden temporary beside the target, renamed over it on commit.
class ChirpUpload final : public BackendUpload {
 public:
  ChirpUpload(std::shared_ptr<chirp::ChirpClient> c, chirp::FileHandle h, std::string temp,
              std::string target, mode_t mode)
      : c_(std::move(c)), h_(h), temp_(std::move(temp)), target_(std::move(target)), mode_(mode) {}
  ~ChirpUpload() override {
    if (h_) (void)c_->close(*h_);
    if (!committed_) (void)c_->unlink(temp_);
  }
  Result<size_t> write(std::span<const std::byte> data, off_t offset) override {
    if (!h_) return sys_error(EBADF, "upload to " + quoted(target_) + " already committed");
    auto r = c_->pwrite(*h_, data, static_cast<uint64_t>(offset));
    if (!r) return relayed(std::move(r.error()));
    return *r;
  }
  Result<uint64_t> commit() override {
    if (!h_) return sys_error(EBADF, "upload to " + quoted(target_) + " already committed");
    auto st = c_->fstat(*h_);
    if (!st) return relayed(std::move(st.error()));
    if (auto r = c_->fsync(*h_); !r) return relayed(std::move(r.error()));
    (void)c_->close(*h_);
    h_.reset();
    if (auto r = c_->chmod(temp_, static_cast<int>(mode_)); !r)
      return relayed(std::move(r.error()));
    if (auto r = c_->rename(temp_, target_); !r) return relayed(std::move(r.error()));
    committed_ = true;
    return static_cast<uint64_t>(st->size);
  }

 private:
  std::shared_ptr<chirp::ChirpClient> c_;
  std::optional<chirp::FileHandle> h_;
  std::string temp_, target_;
  mode_t mode_;
  bool committed_ = false;
};

}  // namespace

struct stat to_stat(const chirp::StatLine& s) {
  struct stat st {};
  st.st_dev = static_cast<dev_t>(s.dev);
  st.st_ino = static_cast<ino_t>(s.ino);
  st.st_mode = static_cast<mode_t>(s.mode);
  st.st_nlink = static_cast<nlink_t>(s.nlink);
  st.st_uid = static_cast<uid_t>(s.uid);
  st.st_gid = static_cast<gid_t>(s.gid);
  st.st_rdev = static_cast<dev_t>(s.rdev);
  st.st_size = static_cast<off_t>(s.size);
  st.st_blksize = static_cast<blksize_t>(s.blksize);
  st.st_blocks = static_cast<blkcnt_t>(s.blocks);
  st.st_atim.tv_sec = static_cast<time_t>(s.atime);
  st.st_mtim.tv_sec = static_cast<time_t>(s.mtime);
  st.st_ctim.tv_sec = static_cast<time_t>(s.ctime);
  return st;
}

Result<std::unique_ptr<ChirpBackend>> ChirpBackend::create(chirp::Endpoint ep,
                                                           chirp::ClientOptions opt) {
  auto c = std::make_shared<chirp::ChirpClient>(std::move(ep), opt);
  if (auto r = c->check(); !r) return relayed(std::move(r.error()));
  return std::unique_ptr<ChirpBackend>(new ChirpBackend(std::move(c)));
}

std::string ChirpBackend::describe() const {
  return "chirp " + client_->endpoint().describe();
}

Result<Lookup> ChirpBackend::lookup(std::string_view path, Follow follow) const {
  // Components still to walk, last first; the ones walked (symlink-free, inside the root).
  std::vector<std::string> todo = split(path);
  std::reverse(todo.begin(), todo.end());
  std::vector<std::string> done;
  int links = 0;
  struct stat st {};
  bool have_st = false;
  // Every component costs the submit side an lstat: bound the walk as ExportRoot does, so link
  // texts like "a/../a/../..." cannot make one lookup cost tens of thousands of calls.
  for (int steps = 0; !todo.empty(); ++steps) {
    if (steps >= kMaxResolveSteps)
      return sys_error(ELOOP, "resolve " + quoted(path) + ": more than " +
                                  std::to_string(kMaxResolveSteps) + " components to walk");
    std::string name = std::move(todo.back());
    todo.pop_back();
    have_st = false;
    if (name == "..") {
      if (done.empty())
        return sys_error(EXDEV, "resolve " + quoted(path) + ": a link climbs above the root");
      done.pop_back();
      continue;
    }
    done.push_back(name);
    std::string here = join(done);
    auto l = client_->lstat(here);
    if (!l) return relayed(std::move(l.error()));
    st = to_stat(*l);
    bool last = todo.empty();
    if (S_ISLNK(st.st_mode) && (!last || follow == Follow::kYes)) {
      if (++links > kMaxSymlinkHops)
        return sys_error(ELOOP, "resolve " + quoted(path) + ": more than " +
                                    std::to_string(kMaxSymlinkHops) + " symlinks");
      auto target = client_->readlink(here);
      if (!target) return relayed(std::move(target.error()));
      if (target->empty() || target->front() == '/')
        return sys_error(EXDEV, "resolve " + quoted(path) + ": link " + quoted(here) +
                                    " points outside the root");
      done.pop_back();
      auto more = split(*target);
      for (auto it = more.rbegin(); it != more.rend(); ++it) todo.push_back(*it);
      continue;
    }
    if (!last && !S_ISDIR(st.st_mode))
      return sys_error(ENOTDIR,
                       "resolve " + quoted(path) + ": " + quoted(here) + " is not a directory");
    have_st = true;
  }
  if (!have_st) {
    auto l = client_->lstat(join(done));
    if (!l) return relayed(std::move(l.error()));
    st = to_stat(*l);
  }
  return Lookup{join(done), st};
}

Result<std::unique_ptr<BackendFile>> ChirpBackend::open(const std::string& path, OpenMode how) {
  auto l = client_->lstat(path);
  if (!l) return relayed(std::move(l.error()));
  mode_t m = static_cast<mode_t>(l->mode);
  if (how.directory && !S_ISDIR(m))
    return sys_error(ENOTDIR, "open " + quoted(path) + " as a directory");
  if (S_ISDIR(m)) {
    if (how.write || how.truncate) return sys_error(EISDIR, "open " + quoted(path) + " to write");
    return std::unique_ptr<BackendFile>(new ChirpFile(client_, std::nullopt, path, false));
  }
  if (!S_ISREG(m))
    return sys_error(EACCES, "open " + quoted(path) + ": not a regular file or directory");
  auto o = client_->open(path, open_flags(how), 0);
  if (!o) return relayed(std::move(o.error()));
  return std::unique_ptr<BackendFile>(new ChirpFile(client_, o->first, path, how.append));
}

Result<std::unique_ptr<BackendFile>> ChirpBackend::create(const std::string& path, OpenMode how,
                                                          mode_t mode) {
  auto o = client_->open(path, open_flags(how) | O_CREAT | O_EXCL, static_cast<int>(mode));
  if (!o) return relayed(std::move(o.error()));
  std::unique_ptr<BackendFile> f(new ChirpFile(client_, o->first, path, how.append));
  // The server applied its umask: set the bits exactly.
  if ((static_cast<mode_t>(o->second.mode) & 07777) != mode) {
    if (auto r = client_->chmod(path, static_cast<int>(mode)); !r) {
      f.reset();
      (void)client_->unlink(path);  // not left behind with the wrong mode
      return relayed(std::move(r.error()));
    }
  }
  return f;
}

Result<DirListing> ChirpBackend::readdir(const std::string& path, uint64_t cookie,
                                         std::span<std::byte> out,
                                         const std::function<bool(std::string_view)>& keep) {
  auto list = client_->getdir(path, true);  // getlongdir: the types for the records
  if (!list) return relayed(std::move(list.error()));
  if (cookie > list->size())
    return sys_error(EINVAL, "readdir " + quoted(path) + ": cookie " + std::to_string(cookie) +
                                 " is past the end (the directory changed?)");
  proto::DirentWriter writer(out);
  DirListing listing;
  size_t i = static_cast<size_t>(cookie);
  for (; i < list->size(); ++i) {
    const auto& e = (*list)[i];
    if (e.name == "." || e.name == ".." || !keep(e.name)) continue;
    auto type = static_cast<uint8_t>(IFTODT(static_cast<mode_t>(e.st.mode)));
    auto fit = writer.append(static_cast<uint64_t>(e.st.ino), i + 1, type, e.name);
    if (!fit) continue;  // a name the wire cannot carry: skipped, as the export does
    if (!*fit) break;
  }
  listing.at_end = i >= list->size();
  listing.count = writer.count();
  listing.bytes = writer.bytes();
  return listing;
}

Result<void> ChirpBackend::mkdir(const std::string& path, mode_t mode) {
  if (auto r = client_->mkdir(path, static_cast<int>(mode)); !r)
    return relayed(std::move(r.error()));
  if (auto r = client_->chmod(path, static_cast<int>(mode)); !r)  // past the server's umask
    return relayed(std::move(r.error()));
  return ok();
}

Result<void> ChirpBackend::rmdir(const std::string& path) {
  if (auto r = client_->rmdir(path); !r) return relayed(std::move(r.error()));
  return ok();
}

Result<void> ChirpBackend::unlink(const std::string& path) {
  if (auto r = client_->unlink(path); !r) return relayed(std::move(r.error()));
  return ok();
}

Result<void> ChirpBackend::rename(const std::string& from, const std::string& to, unsigned flags) {
  if (flags & RENAME_EXCHANGE)
    return sys_error(EOPNOTSUPP, "rename " + quoted(from) + " with " + quoted(to) +
                                     ": Chirp cannot exchange two names");
  if (flags & ~static_cast<unsigned>(RENAME_NOREPLACE))
    return sys_error(EINVAL, "rename " + quoted(from) + ": unknown flags");
  if (flags & RENAME_NOREPLACE) {  // checked, then renamed: not atomic against the submit side
    auto there = client_->lstat(to);
    if (there) return sys_error(EEXIST, "rename " + quoted(from) + " to " + quoted(to));
    if (there.error().sys_errno != ENOENT) return relayed(std::move(there.error()));
  }
  if (auto r = client_->rename(from, to); !r) return relayed(std::move(r.error()));
  return ok();
}

Result<void> ChirpBackend::truncate(const std::string& path, off_t size) {
  auto l = client_->lstat(path);
  if (!l) return relayed(std::move(l.error()));
  if (S_ISDIR(static_cast<mode_t>(l->mode))) return sys_error(EISDIR, "truncate " + quoted(path));
  if (!S_ISREG(static_cast<mode_t>(l->mode)))
    return sys_error(EINVAL, "truncate " + quoted(path) + ": not a regular file");
  if (auto r = client_->truncate(path, static_cast<uint64_t>(size)); !r)
    return relayed(std::move(r.error()));
  return ok();
}

Result<std::string> ChirpBackend::readlink(const std::string& path) {
  auto r = client_->readlink(path);
  if (!r) return relayed(std::move(r.error()));
  return std::move(*r);
}

Result<void> ChirpBackend::symlink(const std::string& target, const std::string& path) {
  if (auto r = client_->symlink(target, path); !r) return relayed(std::move(r.error()));
  return ok();
}

Result<void> ChirpBackend::link(const std::string& from, const std::string& to) {
  if (auto r = client_->link(from, to); !r) return relayed(std::move(r.error()));
  return ok();
}

Result<struct stat> ChirpBackend::setattr(const std::string& path, const AttrChange& change) {
  auto l = client_->lstat(path);
  if (!l) return relayed(std::move(l.error()));
  struct stat cur = to_stat(*l);
  if (S_ISLNK(cur.st_mode) && (change.set_mode || change.changes_times()))
    return sys_error(EOPNOTSUPP, "change " + quoted(path) + ": Chirp follows symlinks");
  if (change.set_mode) {
    if (auto r = client_->chmod(path, static_cast<int>(change.mode)); !r)
      return relayed(std::move(r.error()));
  }
  if (change.changes_times()) {
    auto [a, m] = whole_seconds(change, cur);
    if (auto r = client_->utime(path, a, m); !r) return relayed(std::move(r.error()));
  }
  auto now = client_->lstat(path);
  if (!now) return relayed(std::move(now.error()));
  return to_stat(*now);
}

Result<struct statvfs> ChirpBackend::statfs(const std::string& path) {
  auto r = client_->statfs(path);
  if (!r) return relayed(std::move(r.error()));
  struct statvfs v {};
  v.f_bsize = v.f_frsize = static_cast<unsigned long>(r->bsize);
  v.f_blocks = static_cast<fsblkcnt_t>(r->blocks);
  v.f_bfree = static_cast<fsblkcnt_t>(r->bfree);
  v.f_bavail = static_cast<fsblkcnt_t>(r->bavail);
  v.f_files = static_cast<fsfilcnt_t>(r->files);
  v.f_ffree = v.f_favail = static_cast<fsfilcnt_t>(r->ffree);
  v.f_namemax = NAME_MAX;
  return v;
}

Result<FileBackend::Chunk> ChirpBackend::getfile(const std::string& path, off_t offset,
                                                 std::span<std::byte> out) {
  auto o = client_->open(path, O_RDONLY, 0);
  if (!o) return relayed(std::move(o.error()));
  ChirpFile f(client_, o->first, path, false);  // closes on return
  if (!S_ISREG(static_cast<mode_t>(o->second.mode)))
    return sys_error(EISDIR, "getfile " + quoted(path) + ": not a regular file");
  Chunk c;
  c.file_size = static_cast<uint64_t>(o->second.size);
  if (static_cast<uint64_t>(offset) >= c.file_size) return c;
  auto n = f.pread(out, offset);
  if (!n) return std::move(n.error());
  c.bytes = *n;
  return c;
}

Result<std::unique_ptr<BackendUpload>> ChirpBackend::putfile_stage(const std::string& path,
                                                                   mode_t mode) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string temp = dir + ".ringbox-put." + base.substr(0, 64) + "." + random_hex();
  auto o = client_->open(temp, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (!o) return relayed(std::move(o.error()));
  return std::unique_ptr<BackendUpload>(new ChirpUpload(client_, o->first, temp, path, mode));
}

}  // namespace ringbox::host::files
