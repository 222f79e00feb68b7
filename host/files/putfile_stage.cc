#include "host/files/putfile_stage.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <vector>

#include "host/files/lexical_path.h"
#include "shared/util/log.h"

namespace ringbox::host::files {
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

}  // namespace

Upload::Upload(const ExportRoot& root, UniqueFd dir, std::string name, std::string target_path,
               UniqueFd file, std::string temp_name)
    : root_(root),
      dir_(std::move(dir)),
      name_(std::move(name)),
      target_path_(std::move(target_path)),
      file_(std::move(file)),
      temp_name_(std::move(temp_name)) {}

Upload::~Upload() {
  discard();
}

void Upload::discard() {
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

Result<uint64_t> Upload::commit() {
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
    return sys_error(what + ": rename over the target");  // ~Upload removes the temp name
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

namespace {
// The umask narrowed the bits the temporary file was created with; set them exactly (v2 "Modes").
Result<void> exact_mode(int fd, mode_t mode, const std::string& target) {
  if (::fchmod(fd, mode) != 0)
    return sys_error("set mode of the upload of '" + printable(target) + "'");
  return ok();
}
}  // namespace

Result<std::shared_ptr<Upload>> PutfileStage::create_temp(ResolvedParent parent, mode_t mode) {
  std::string target = parent.path();
  if (!named_temp_) {
    int fd = ::openat(parent.dir.get(), ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
    if (fd >= 0) {
      UniqueFd file(fd);
      RINGBOX_TRY(exact_mode(file.get(), mode, target));
      return std::make_shared<Upload>(root_, std::move(parent.dir), std::move(parent.name),
                                      std::move(target), std::move(file), std::string());
    }
    // EOPNOTSUPP: this file system has no O_TMPFILE (EISDIR: nor has the kernel). Fall back.
    if (errno != EOPNOTSUPP && errno != EISDIR)
      return sys_error("create temporary file for upload of '" + printable(target) + "'");
  }
  for (int i = 0; i < kTempNameAttempts; ++i) {
    std::string n = temp_name();
    int fd = ::openat(parent.dir.get(), n.c_str(),
                      O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd >= 0) {
      // Made an Upload first: if the mode cannot be set, its destructor removes the name.
      auto up = std::make_shared<Upload>(root_, std::move(parent.dir), std::move(parent.name),
                                         std::move(target), UniqueFd(fd), std::move(n));
      RINGBOX_TRY(exact_mode(up->fd(), mode, up->target_path()));
      return up;
    }
    if (errno != EEXIST) break;
  }
  return sys_error("create temporary file for upload of '" + printable(target) + "'");
}

Result<std::shared_ptr<Upload>> PutfileStage::start(const std::string& key, ResolvedParent parent,
                                                    mode_t mode) {
  std::shared_ptr<Upload> dropped;  // destroyed (temp removed) outside the lock
  {
    std::lock_guard lk(mu_);
    if (auto it = uploads_.find(key); it != uploads_.end()) {
      dropped = std::move(it->second);
      uploads_.erase(it);
    }
    if (uploads_.size() >= max_pending_)
      return sys_error(EMFILE, "too many unfinished uploads on this connection (" +
                                   std::to_string(max_pending_) + ")");
  }
  auto up = create_temp(std::move(parent), mode);
  if (!up) return up;
  std::lock_guard lk(mu_);
  if (uploads_.size() >= max_pending_)  // another thread filled the stage meanwhile
    return sys_error(EMFILE, "too many unfinished uploads on this connection (" +
                                 std::to_string(max_pending_) + ")");
  uploads_[key] = *up;
  return up;
}

std::shared_ptr<Upload> PutfileStage::find(const std::string& key) const {
  std::lock_guard lk(mu_);
  auto it = uploads_.find(key);
  return it == uploads_.end() ? nullptr : it->second;
}

std::shared_ptr<Upload> PutfileStage::take(const std::string& key) {
  std::lock_guard lk(mu_);
  auto it = uploads_.find(key);
  if (it == uploads_.end()) return nullptr;
  auto up = std::move(it->second);
  uploads_.erase(it);
  return up;
}

void PutfileStage::clear() {
  std::map<std::string, std::shared_ptr<Upload>> dropped;
  {
    std::lock_guard lk(mu_);
    dropped.swap(uploads_);
  }
}

size_t PutfileStage::size() const {
  std::lock_guard lk(mu_);
  return uploads_.size();
}

}  // namespace ringbox::host::files
