#include "guest/job/eager.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "guest/fs/inode_table.h"  // wire path helpers

namespace ringbox::guest::job {
namespace {

struct timespec timespec_of_ns(int64_t ns) {
  int64_t sec = ns / 1'000'000'000, rem = ns % 1'000'000'000;
  if (rem < 0) {
    rem += 1'000'000'000;
    --sec;
  }
  return {static_cast<time_t>(sec), static_cast<long>(rem)};
}

bool same_time(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

// The submit side's permission bits for the job's copy: setuid and setgid are not given (the
// copy is the job's, as a non-root `cp -p` would leave it).
mode_t staged_perm(uint32_t wire_mode) {
  return wire_mode & 01777;
}

}  // namespace

EagerStage::Fingerprint fingerprint_of(const struct stat& st) {
  return EagerStage::Fingerprint{st.st_size, st.st_mtim, st.st_ctim, st.st_mode};
}

bool same_fingerprint(const EagerStage::Fingerprint& a, const struct stat& st) {
  return a.size == st.st_size && a.mode == st.st_mode && same_time(a.mtime, st.st_mtim) &&
         same_time(a.ctime, st.st_ctim);
}

Result<void> EagerStage::make_local_dirs(const std::string& wire_dir) {
  if (wire_dir == ".") return ok();
  RINGBOX_TRY(make_local_dirs(fs::wire_parent(wire_dir)));
  std::string abs = dir_ + "/" + wire_dir;
  if (::mkdir(abs.c_str(), 0755) != 0) {
    if (errno == EEXIST) return ok();
    return sys_error("create " + abs);
  }
  if (::chown(abs.c_str(), uid_, gid_) != 0) return sys_error("give " + abs + " to the job");
  made_dirs_.push_back(wire_dir);
  return ok();
}

Result<uint64_t> EagerStage::stage_in(const std::vector<std::string>& inputs) {
  uint64_t total = 0;
  for (const auto& in : inputs) {
    RINGBOX_TRY(make_local_dirs(fs::wire_parent(in)));
    std::string abs = dir_ + "/" + in;
    UniqueFd fd(::open(abs.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return sys_error("create the staged copy " + abs);
    auto st = remote_.stat(in);
    if (!st) return Error{st.error().code, st.error().sys_errno, "input " + st.error().what};
    auto got = remote_.getfile(in, fd.get(), UINT64_MAX);
    if (!got) return Error{got.error().code, got.error().sys_errno, "input " + got.error().what};
    // Owner first: chown(2) clears the mode's set-id bits, so the mode is set after it.
    if (::fchown(fd.get(), uid_, gid_) != 0 || ::fchmod(fd.get(), staged_perm(st->mode)) != 0)
      return sys_error("give the staged copy " + abs + " to the job");
    const struct timespec times[2] = {timespec_of_ns(st->atime_ns), timespec_of_ns(st->mtime_ns)};
    if (::futimens(fd.get(), times) != 0) return sys_error("set the times of " + abs);
    struct stat local;
    if (::fstat(fd.get(), &local) != 0) return sys_error("stat " + abs);
    staged_[in] = fingerprint_of(local);
    total += *got;
  }
  return total;
}

Result<void> EagerStage::copy_dir_metadata() {
  // Deepest first: setting a directory's times must come after its entries were made.
  std::vector<std::string> dirs = made_dirs_;
  std::sort(dirs.begin(), dirs.end(), [](const std::string& a, const std::string& b) {
    return std::count(a.begin(), a.end(), '/') > std::count(b.begin(), b.end(), '/');
  });
  for (const auto& d : dirs) {
    std::string abs = dir_ + "/" + d;
    auto st = remote_.stat(d);
    if (st && (st->mode & S_IFMT) == S_IFDIR) {
      if (::chmod(abs.c_str(), staged_perm(st->mode)) != 0) return sys_error("chmod " + abs);
      const struct timespec times[2] = {timespec_of_ns(st->atime_ns), timespec_of_ns(st->mtime_ns)};
      if (::utimensat(AT_FDCWD, abs.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
        return sys_error("set the times of " + abs);
      struct stat local;
      if (::lstat(abs.c_str(), &local) != 0) return sys_error("stat " + abs);
      staged_[d] = fingerprint_of(local);
    }  // else a directory only the job's cwd needs: new, returned like one the job made
  }
  return ok();
}

Result<std::string> EagerStage::prepare_cwd(const std::string& cwd) {
  RINGBOX_TRY(make_local_dirs(cwd));
  RINGBOX_TRY(copy_dir_metadata());
  return cwd == "." ? dir_ : dir_ + "/" + cwd;
}

}  // namespace ringbox::guest::job
