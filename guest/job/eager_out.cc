// EagerStage::stage_out: the job's outputs back to the export (see eager.h for what and how).
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <mutex>

#include "guest/fs/inode_table.h"  // wire path helpers
#include "guest/fs/parallel.h"
#include "guest/job/eager.h"
#include "guest/job/wire_meta.h"

namespace ringbox::guest::job {
namespace {

// A job's tree is walked at most this deep (a path of kMaxPathBytes has at most 2048 levels;
// the walk goes on below that only to name what cannot be returned).
constexpr int kMaxWalkDepth = 4096;

int open_beneath(int dir_fd, const std::string& path, uint64_t flags) {
  open_how how{};
  how.flags = flags | O_CLOEXEC | O_NOFOLLOW;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, dir_fd, path.c_str(), &how, sizeof(how)));
}

// A path for a message: whole when short, else its head and tail (the tail names the file).
std::string shown(const std::string& path) {
  if (path.size() <= 300) return path;
  return path.substr(0, 100) + "...(" + std::to_string(path.size()) + " bytes)..." +
         path.substr(path.size() - 150);
}

constexpr uint32_t kTimes = proto::kSetAtime | proto::kSetMtime;

struct Entry {
  enum class Kind { kDir, kFile, kSymlink } kind;
  std::string path;  // wire path
  struct stat st;
  bool existed = false;  // a staged directory (exists on the submit side)
  std::string target;    // symlink text
};

class Writeback {
 public:
  Writeback(fs::Remote& remote, rpc::Client& client, int root_fd,
            const std::map<std::string, EagerStage::Fingerprint>& staged)
      : remote_(remote), client_(client), root_fd_(root_fd), staged_(staged) {}

  // Everything beneath the directory open as dir_fd (wire path prefix), into the plan.
  void walk(int dir_fd, const std::string& prefix, int depth);
  // One path named by the job's spec (a declared output).
  void add_declared(const std::string& path);
  fs::WritebackReport run();

 private:
  void fail(const std::string& path, const std::string& why) {
    std::lock_guard lk(mu_);
    report_.failures.push_back(shown(path) + ": " + why);
  }
  void add(int dir_fd, const std::string& name, const std::string& path, int depth);
  Result<void> make_remote_parents(const std::string& wire_dir);
  // Uploads one file, then sets its times; `committed` tells whether the data came back.
  Result<void> put_file(const Entry& e, bool& committed);
  Result<void> put_symlink(const Entry& e);

  fs::Remote& remote_;
  rpc::Client& client_;
  int root_fd_;
  const std::map<std::string, EagerStage::Fingerprint>& staged_;
  std::vector<Entry> dirs_, files_, symlinks_;  // dirs_ parents first
  std::mutex mu_;
  fs::WritebackReport report_;
};

void Writeback::add(int dir_fd, const std::string& name, const std::string& path, int depth) {
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    fail(path, sys_error("stat the output").message());
    return;
  }
  bool too_long = path.size() > proto::kMaxPathBytes;
  auto staged = staged_.find(path);
  bool unchanged = staged != staged_.end() && same_fingerprint(staged->second, st);
  if (S_ISDIR(st.st_mode)) {
    if (depth >= kMaxWalkDepth) {
      fail(path, "the directory is more than " + std::to_string(kMaxWalkDepth) +
                     " levels deep; it and everything beneath it are not returned");
      return;
    }
    UniqueFd sub(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) {
      fail(path, sys_error("open the output directory").message());
      return;
    }
    size_t before = report_.failures.size() + files_.size() + symlinks_.size() + dirs_.size();
    if (!too_long && !unchanged)
      dirs_.push_back(Entry{Entry::Kind::kDir, path, st, staged != staged_.end(), {}});
    walk(sub.get(), path, depth + 1);
    // An empty directory too deep to return is an output lost like a file.
    if (too_long &&
        before == report_.failures.size() + files_.size() + symlinks_.size() + dirs_.size())
      fail(path, "the path is " + std::to_string(path.size()) +
                     " bytes from the export's root, more than the " +
                     std::to_string(proto::kMaxPathBytes) + " the protocol carries");
    return;
  }
  if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) return;  // FIFO, socket: local IPC only
  if (unchanged) return;                                     // an input the job left alone
  if (too_long) {
    fail(path, "the path is " + std::to_string(path.size()) +
                   " bytes from the export's root, more than the " +
                   std::to_string(proto::kMaxPathBytes) + " the protocol carries");
    return;
  }
  if (S_ISREG(st.st_mode)) {
    files_.push_back(Entry{Entry::Kind::kFile, path, st, false, {}});
    return;
  }
  std::string target(PATH_MAX, '\0');
  ssize_t n = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
  if (n < 0 || static_cast<size_t>(n) >= target.size()) {
    fail(path, sys_error("read the symlink").message());
    return;
  }
  target.resize(static_cast<size_t>(n));
  symlinks_.push_back(Entry{Entry::Kind::kSymlink, path, st, false, std::move(target)});
}

void Writeback::walk(int dir_fd, const std::string& prefix, int depth) {
  DIR* dir = ::fdopendir(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
  if (!dir) {
    fail(prefix, sys_error("list the output directory").message());
    return;
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  for (const auto& name : names) add(dir_fd, name, fs::join_wire_path(prefix, name), depth);
}

void Writeback::add_declared(const std::string& path) {
  std::string parent = fs::wire_parent(path);
  UniqueFd pfd(parent == "." ? ::fcntl(root_fd_, F_DUPFD_CLOEXEC, 0)
                             : open_beneath(root_fd_, parent, O_RDONLY | O_DIRECTORY));
  if (!pfd) {
    fail(path,
         sys_error("open the output's directory (missing, or not a plain directory)").message());
    return;
  }
  std::string name = path.substr(parent == "." ? 0 : parent.size() + 1);
  struct stat st;
  if (::fstatat(pfd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    fail(path, sys_error("the job did not leave this output").message());
    return;
  }
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) {
    fail(path, "not a regular file, directory or symlink");
    return;
  }
  auto made = make_remote_parents(parent);
  if (!made) {
    fail(path, made.error().message());
    return;
  }
  add(pfd.get(), name, path, static_cast<int>(std::count(path.begin(), path.end(), '/')));
}

Result<void> Writeback::make_remote_parents(const std::string& wire_dir) {
  if (wire_dir == ".") return ok();
  if (remote_.lstat(wire_dir)) return ok();
  RINGBOX_TRY(make_remote_parents(fs::wire_parent(wire_dir)));
  auto made = remote_.mkdir(wire_dir, 0755);
  if (!made && fs::errno_of(made.error()) != EEXIST) return std::move(made.error());
  return ok();
}

Result<void> Writeback::put_file(const Entry& e, bool& committed) {
  std::string parent = fs::wire_parent(e.path);
  UniqueFd pfd(parent == "." ? ::fcntl(root_fd_, F_DUPFD_CLOEXEC, 0)
                             : open_beneath(root_fd_, parent, O_RDONLY | O_DIRECTORY));
  if (!pfd) return sys_error("open the output's directory");
  std::string name = e.path.substr(parent == "." ? 0 : parent.size() + 1);
  UniqueFd fd(::openat(pfd.get(), name.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return sys_error("open the output (missing, or not a plain file)");
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return sys_error("stat the output");
  if (!S_ISREG(st.st_mode)) return make_error(Errc::kInvalidArgument, "not a regular file");
  auto sent = remote_.putfile(e.path, fd.get(), st.st_mode & 07777);
  if (!sent) return std::move(sent.error());
  committed = true;
  {
    std::lock_guard lk(mu_);
    ++report_.pushed;
    report_.bytes += *sent;
  }
  auto timed = remote_setattr(client_, e.path, kTimes, 0, st.st_atim, st.st_mtim);
  if (!timed)
    return make_error(timed.error().code,
                      "its data came back, its times did not: " + timed.error().message());
  return ok();
}

Result<void> Writeback::put_symlink(const Entry& e) {
  auto made = remote_.symlink(e.target, e.path);
  if (!made && fs::errno_of(made.error()) == EEXIST) {
    auto have = remote_.readlink(e.path);
    if (!have || *have != e.target) {
      RINGBOX_TRY(remote_.unlink(e.path));
      made = remote_.symlink(e.target, e.path);
    } else {
      made = ok();
    }
  }
  if (!made) return std::move(made.error());
  // A symlink's own times, as cp -a and tar keep them; a host that cannot is no lost output.
  (void)remote_setattr(client_, e.path, kTimes, 0, e.st.st_atim, e.st.st_mtim);
  return ok();
}

fs::WritebackReport Writeback::run() {
  // 1. Directories, parents first; new ones with their mode (times come last).
  std::vector<bool> dir_ok(dirs_.size(), true);
  for (size_t i = 0; i < dirs_.size(); ++i) {
    const Entry& d = dirs_[i];
    if (d.existed) continue;
    auto made = remote_.mkdir(d.path, d.st.st_mode & 07777);
    if (!made && fs::errno_of(made.error()) != EEXIST) {
      dir_ok[i] = false;
      fail(d.path, made.error().message());
    }
  }
  // 2. Regular files, one upload per inode; the other names of an inode become hard links.
  std::map<std::pair<dev_t, ino_t>, size_t> first_name;
  std::vector<size_t> uploads;
  std::vector<std::pair<size_t, size_t>> links;  // (file, the upload it is a name of)
  for (size_t i = 0; i < files_.size(); ++i) {
    const auto& st = files_[i].st;
    auto [it, fresh] = first_name.try_emplace({st.st_dev, st.st_ino}, i);
    if (fresh || st.st_nlink < 2)
      uploads.push_back(i);
    else
      links.emplace_back(i, it->second);
  }
  std::vector<char> uploaded(files_.size(), 0);
  fs::parallel_for(uploads.size(), fs::kTransferThreads, [&](size_t k) {
    const Entry& f = files_[uploads[k]];
    bool committed = false;
    auto r = put_file(f, committed);
    uploaded[uploads[k]] = committed ? 1 : 0;
    if (!r) fail(f.path, r.error().message());
  });
  for (auto [i, of] : links) {
    const Entry& f = files_[i];
    if (!uploaded[of]) {
      fail(f.path, "a hard link of " + shown(files_[of].path) + ", which was not returned");
      continue;
    }
    auto r = remote_link(client_, files_[of].path, f.path);
    if (!r && fs::errno_of(r.error()) == EEXIST) {
      auto gone = remote_.unlink(f.path);
      r = gone ? remote_link(client_, files_[of].path, f.path) : std::move(gone);
    }
    if (!r) fail(f.path, r.error().message());
  }
  // 3. Symlinks.
  for (const auto& s : symlinks_) {
    auto r = put_symlink(s);
    if (!r) fail(s.path, "symlink to '" + shown(s.target) + "': " + r.error().message());
  }
  // 4. Directories' modes and times, deepest first: after their entries were written.
  for (size_t i = dirs_.size(); i-- > 0;) {
    if (!dir_ok[i]) continue;
    const Entry& d = dirs_[i];
    auto r = remote_setattr(client_, d.path, proto::kSetMode | kTimes, d.st.st_mode & 07777,
                            d.st.st_atim, d.st.st_mtim);
    if (!r)
      fail(d.path, "the directory came back, its mode and times did not: " + r.error().message());
  }
  return std::move(report_);
}

}  // namespace

fs::WritebackReport EagerStage::stage_out(const std::vector<std::string>& declared_outputs) {
  UniqueFd dir_fd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) {
    fs::WritebackReport report;
    report.failures.push_back(dir_ + ": " + sys_error("open the staging directory").message());
    return report;
  }
  Writeback wb(remote_, client_, dir_fd.get(), staged_);
  if (declared_outputs.empty()) {
    wb.walk(dir_fd.get(), ".", 0);
  } else {
    for (const auto& out : declared_outputs) wb.add_declared(out);
  }
  return wb.run();
}

}  // namespace ringbox::guest::job
