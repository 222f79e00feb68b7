#include "guest/job/eager.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "guest/fs/inode_table.h"  // wire path helpers
#include "guest/fs/parallel.h"

namespace ringbox::guest::job {
namespace {

constexpr int kMaxWalkDepth = 64;

int open_beneath(int dir_fd, const std::string& path, uint64_t flags) {
  open_how how{};
  how.flags = flags | O_CLOEXEC | O_NOFOLLOW;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, dir_fd, path.c_str(), &how, sizeof(how)));
}

bool same_time(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

}  // namespace

Result<void> EagerStage::make_local_dirs(const std::string& wire_dir) {
  if (wire_dir == ".") return ok();
  RINGBOX_TRY(make_local_dirs(fs::wire_parent(wire_dir)));
  std::string abs = dir_ + "/" + wire_dir;
  if (::mkdir(abs.c_str(), 0755) != 0 && errno != EEXIST) return sys_error("create " + abs);
  if (::chown(abs.c_str(), uid_, gid_) != 0) return sys_error("give " + abs + " to the job");
  return ok();
}

Result<uint64_t> EagerStage::stage_in(const std::vector<std::string>& inputs) {
  uint64_t total = 0;
  for (const auto& in : inputs) {
    RINGBOX_TRY(make_local_dirs(fs::wire_parent(in)));
    std::string abs = dir_ + "/" + in;
    UniqueFd fd(::open(abs.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd) return sys_error("create the staged copy " + abs);
    auto st = remote_.stat(in);
    if (!st) return Error{st.error().code, st.error().sys_errno, "input " + st.error().what};
    auto got = remote_.getfile(in, fd.get(), UINT64_MAX);
    if (!got) return Error{got.error().code, got.error().sys_errno, "input " + got.error().what};
    if (::fchmod(fd.get(), (st->mode & 0777) | 0600) != 0 || ::fchown(fd.get(), uid_, gid_) != 0)
      return sys_error("give the staged copy " + abs + " to the job");
    struct stat local;
    if (::fstat(fd.get(), &local) != 0) return sys_error("stat " + abs);
    inputs_[in] = Fingerprint{local.st_size, local.st_mtim};
    total += *got;
  }
  return total;
}

Result<std::string> EagerStage::prepare_cwd(const std::string& cwd) {
  RINGBOX_TRY(make_local_dirs(cwd));
  return cwd == "." ? dir_ : dir_ + "/" + cwd;
}

Result<void> EagerStage::make_remote_dirs(const std::string& wire_dir) {
  if (wire_dir == ".") return ok();
  auto st = remote_.lstat(wire_dir);
  if (st) return ok();
  RINGBOX_TRY(make_remote_dirs(fs::wire_parent(wire_dir)));
  auto made = remote_.mkdir(wire_dir, 0755);
  if (!made && fs::errno_of(made.error()) != EEXIST) return std::move(made.error());
  return ok();
}

Result<void> EagerStage::push_one(int dir_fd, const std::string& path, fs::WritebackReport& report,
                                  std::mutex& report_mu) {
  UniqueFd fd(open_beneath(dir_fd, path, O_RDONLY | O_NONBLOCK));
  if (!fd) return sys_error("open the output " + path + " (missing, or not a plain file)");
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return sys_error("stat the output " + path);
  if (!S_ISREG(st.st_mode))
    return make_error(Errc::kInvalidArgument, "the output " + path + " is not a regular file");
  RINGBOX_TRY(make_remote_dirs(fs::wire_parent(path)));
  auto sent = remote_.putfile(path, fd.get(), st.st_mode & 0777);
  if (!sent) return std::move(sent.error());
  std::lock_guard lk(report_mu);
  ++report.pushed;
  report.bytes += *sent;
  return ok();
}

void EagerStage::collect_changed(int dir_fd, const std::string& prefix,
                                 std::vector<std::string>& out, int depth) {
  if (depth > kMaxWalkDepth) return;
  UniqueFd d(open_beneath(dir_fd, prefix, O_RDONLY | O_DIRECTORY));
  if (!d) return;
  DIR* dir = ::fdopendir(::dup(d.get()));
  if (!dir) return;
  while (dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string path = fs::join_wire_path(prefix, name);
    struct stat st;
    if (::fstatat(d.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      collect_changed(dir_fd, path, out, depth + 1);
    } else if (S_ISREG(st.st_mode)) {
      auto it = inputs_.find(path);
      if (it != inputs_.end() && it->second.size == st.st_size &&
          same_time(it->second.mtime, st.st_mtim))
        continue;  // an input the job left alone
      out.push_back(path);
    }
  }
  ::closedir(dir);
}

fs::WritebackReport EagerStage::stage_out(const std::vector<std::string>& declared_outputs) {
  fs::WritebackReport report;
  UniqueFd dir_fd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) {
    report.failures.push_back(dir_ + ": " + sys_error("open the staging directory").message());
    return report;
  }
  std::vector<std::string> outputs = declared_outputs;
  if (outputs.empty()) collect_changed(dir_fd.get(), ".", outputs, 0);
  std::mutex report_mu;
  fs::parallel_for(outputs.size(), fs::kTransferThreads, [&](size_t i) {
    auto r = push_one(dir_fd.get(), outputs[i], report, report_mu);
    if (!r) {
      std::lock_guard lk(report_mu);
      report.failures.push_back(outputs[i] + ": " + r.error().message());
    }
  });
  return report;
}

}  // namespace ringbox::guest::job
