// ExportBackend: open files (ExportFile) and uploads (ExportUpload).
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "host/files/export_backend.h"
#include "shared/util/file_io.h"
#include "shared/util/log.h"

namespace ringbox::host::files {

Result<void> set_exact_mode(const ExportRoot& root, int fd, mode_t mode, std::string_view path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return sys_error("stat '" + printable(path) + "'");
  if ((st.st_mode & 07777) == mode) return ok();
  if (S_ISLNK(st.st_mode))
    return sys_error(EOPNOTSUPP, "set the mode of '" + printable(path) + "': a symlink");
  // fchmod refuses O_PATH fds (EBADF); /proc/self/fd reaches the same inode.
  if (::fchmod(fd, mode) == 0) return ok();
  if (errno == EBADF) {
    auto r = root.chmod_fd(fd, mode);
    if (r) return ok();
    return sys_error(r.error().sys_errno, "set mode of '" + printable(path) + "'");
  }
  return sys_error("set mode of '" + printable(path) + "' to the exact bits asked for");
}

// ---- ExportFile -------------------------------------------------------------------------------

Result<size_t> ExportFile::pread(std::span<std::byte> out, off_t offset) {
  return read_fully(fd_.get(), out, offset);
}

Result<size_t> ExportFile::pwrite(std::span<const std::byte> data, off_t offset) {
  return write_fully(fd_.get(), data, offset);
}

Result<struct stat> ExportFile::fstat() {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) return sys_error("fstat '" + printable(path_) + "'");
  return st;
}

Result<void> ExportFile::fsync() {
  if (::fsync(fd_.get()) != 0) return sys_error("fsync '" + printable(path_) + "'");
  return ok();
}

Result<void> ExportFile::ftruncate(off_t size) {
  if (::ftruncate(fd_.get(), size) != 0) return sys_error("ftruncate '" + printable(path_) + "'");
  return ok();
}

Result<void> ExportFile::fallocate(int mode, off_t offset, off_t length) {
  int rc = retry_eintr([&] { return ::fallocate(fd_.get(), mode, offset, length); });
  if (rc != 0) return sys_error("fallocate '" + printable(path_) + "'");
  return ok();
}

Result<struct stat> ExportFile::setattr(const AttrChange& change) {
  if (change.set_mode && ::fchmod(fd_.get(), change.mode) != 0)
    return sys_error("chmod '" + printable(path_) + "'");
  if (change.changes_times() && ::futimens(fd_.get(), change.times) != 0)
    return sys_error("set times of '" + printable(path_) + "'");
  return fstat();
}

// ---- ExportUpload -----------------------------------------------------------------------------

namespace {

constexpr int kTempNameAttempts = 8;  // random 64-bit names: a second attempt is already rare

std::string temp_name() {
  uint64_t r = 0;
  if (::getrandom(&r, sizeof(r), 0) != sizeof(r)) {
    static std::atomic<uint64_t> counter{0};  // getrandom cannot fail for 8 bytes; be safe
    r = (uint64_t(::getpid()) << 32) ^ ++counter;
  }
  static const char* kHex = "0123456789abcdef";
  std::string s = ".ringbox-put.";
  for (int i = 0; i < 16; ++i) s += kHex[(r >> (4 * i)) & 15];
  return s;
}

// A private temporary file in the target's directory, replacing the target on commit().
class ExportUpload final : public BackendUpload {
 public:
  ExportUpload(const ExportRoot& root, UniqueFd dir, std::string name, std::string target_path,
               UniqueFd file, std::string temp)
      : root_(root),
        dir_(std::move(dir)),
        name_(std::move(name)),
        target_path_(std::move(target_path)),
        file_(std::move(file)),
        temp_name_(std::move(temp)) {}
  ExportUpload(const ExportUpload&) = delete;
  ExportUpload& operator=(const ExportUpload&) = delete;
  ~ExportUpload() override { discard(); }

  int fd() const { return file_.get(); }
  const std::string& target_path() const { return target_path_; }

  Result<size_t> write(std::span<const std::byte> data, off_t offset) override {
    return write_fully(file_.get(), data, offset);
  }

  Result<uint64_t> commit() override {
    const std::string what = "commit upload of '" + printable(target_path_) + "'";
    // fsync before the rename: after a crash the target is the old file or the whole new one.
    if (::fsync(file_.get()) != 0) return sys_error(what + ": fsync");
    if (temp_name_.empty()) {
      Result<void> linked = ok();
      for (int i = 0; i < kTempNameAttempts; ++i) {
        std::string n = temp_name();
        linked = root_.link_anonymous(file_.get(), dir_.get(), n);
        if (linked) {
          temp_name_ = n;
          break;
        }
        if (linked.error().sys_errno != EEXIST) break;
      }
      if (!linked) return sys_error(linked.error().sys_errno, what + ": name the temporary file");
    }
    if (::renameat(dir_.get(), temp_name_.c_str(), dir_.get(), name_.c_str()) != 0)
      return sys_error(what + ": rename over the target");  // the destructor removes the temp
    committed_ = true;
    temp_name_.clear();
    struct stat st {};
    if (::fstat(file_.get(), &st) != 0) return sys_error(what + ": stat");
    // The rename is durable only once the directory is.
    auto dir = root_.reopen(dir_.get(), O_RDONLY | O_DIRECTORY);
    if (!dir) return sys_error(dir.error().sys_errno, what + ": open its directory");
    if (::fsync(dir->get()) != 0) return sys_error(what + ": fsync its directory");
    return static_cast<uint64_t>(st.st_size);
  }

 private:
  void discard() {
    if (committed_ || temp_name_.empty()) return;  // an O_TMPFILE vanishes with its fd
    // Unlink the name only while it still is our file: the guest may have renamed its own file
    // over it, and that file is not ours to delete.
    struct stat mine {
    }, there{};
    if (::fstat(file_.get(), &mine) == 0 &&
        ::fstatat(dir_.get(), temp_name_.c_str(), &there, AT_SYMLINK_NOFOLLOW) == 0 &&
        mine.st_dev == there.st_dev && mine.st_ino == there.st_ino) {
      if (::unlinkat(dir_.get(), temp_name_.c_str(), 0) != 0)
        log::warn("cannot remove unfinished upload '" + printable(temp_name_) + "' next to '" +
                  printable(target_path_) + "'");
    }
    temp_name_.clear();
  }

  const ExportRoot& root_;
  UniqueFd dir_;             // O_PATH fd of the target's directory
  std::string name_;         // the target's name in dir_
  std::string target_path_;  // canonical path, for logs
  UniqueFd file_;            // the temporary file, open for writing
  std::string temp_name_;    // its name in dir_, empty while it is an O_TMPFILE
  bool committed_ = false;
};

}  // namespace

Result<std::unique_ptr<BackendUpload>> ExportBackend::putfile_stage(const std::string& path,
                                                                    mode_t mode) {
  auto parent = root_.find_parent(path);
  if (!parent) return std::move(parent.error());
  if (!named_temp_) {
    int fd = ::openat(parent->dir.get(), ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
    if (fd >= 0) {
      UniqueFd file(fd);
      RINGBOX_TRY(set_exact_mode(root_, file.get(), mode, path));
      return std::unique_ptr<BackendUpload>(new ExportUpload(
          root_, std::move(parent->dir), std::move(parent->name), path, std::move(file), {}));
    }
    // EOPNOTSUPP: this file system has no O_TMPFILE (EISDIR: nor has the kernel). Fall back.
    if (errno != EOPNOTSUPP && errno != EISDIR)
      return sys_error("create temporary file for upload of '" + printable(path) + "'");
  }
  for (int i = 0; i < kTempNameAttempts; ++i) {
    std::string n = temp_name();
    int fd = ::openat(parent->dir.get(), n.c_str(),
                      O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd >= 0) {
      // An upload first: if the mode cannot be set, its destructor removes the name.
      auto up = std::make_unique<ExportUpload>(
          root_, std::move(parent->dir), std::move(parent->name), path, UniqueFd(fd), std::move(n));
      RINGBOX_TRY(set_exact_mode(root_, up->fd(), mode, path));
      return std::unique_ptr<BackendUpload>(std::move(up));
    }
    if (errno != EEXIST) break;
  }
  return sys_error("create temporary file for upload of '" + printable(path) + "'");
}

}  // namespace ringbox::host::files
