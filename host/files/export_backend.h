// ExportBackend: the `export` FileBackend, a job's files in a local directory (the execute
// machine's copy of them, or any directory the host may read and write).
//
// Every path is reached through ExportRoot: openat2(2) beneath the root with
// RESOLVE_NO_SYMLINKS, so the object acted on is exactly at the symlink-free path the service
// checked (a symlink that appeared since is ELOOP, never followed); lookup() alone expands
// symlinks, itself and inside the root (export_root.h). Files are opened as O_PATH first, checked
// to be regular files or directories, then reopened through /proc/self/fd; names are created,
// removed and renamed with *at() calls on one name inside a resolved parent fd. Modes are applied
// exactly: created with the asked bits (the process umask can only narrow them), then set on the
// new object's own fd when they differ; the process umask is never changed (it is process-wide).
//
// Uploads stage in an O_TMPFILE inode in the target's directory (or a hidden
// ".ringbox-put.<random>" name where the file system has none, or when named_temp asks for it),
// committed by fsync, a temporary name, renameat over the target and an fsync of the directory.
#pragma once

#include <memory>
#include <string>

#include "host/files/export_root.h"
#include "host/files/file_backend.h"

namespace ringbox::host::files {

class ExportBackend final : public FileBackend {
 public:
  // Opens the export (ExportRoot::open checks openat2 and /proc/self/fd).
  static Result<std::unique_ptr<ExportBackend>> create(const std::string& dir, bool named_temp);

  std::string describe() const override;
  Result<Lookup> lookup(std::string_view path, Follow follow) const override;
  std::optional<std::string> not_directory_on_way(std::string_view path,
                                                  Follow follow) const override {
    return root_.not_directory_on_way(path, follow);
  }
  Result<std::unique_ptr<BackendFile>> open(const std::string& path, OpenMode how) override;
  Result<std::unique_ptr<BackendFile>> create(const std::string& path, OpenMode how,
                                              mode_t mode) override;
  Result<DirListing> readdir(const std::string& path, uint64_t cookie, std::span<std::byte> out,
                             const std::function<bool(std::string_view)>& keep) override;
  Result<void> mkdir(const std::string& path, mode_t mode) override;
  Result<void> rmdir(const std::string& path) override;
  Result<void> unlink(const std::string& path) override;
  Result<void> rename(const std::string& from, const std::string& to, unsigned flags) override;
  Result<void> truncate(const std::string& path, off_t size) override;
  Result<std::string> readlink(const std::string& path) override;
  Result<void> symlink(const std::string& target, const std::string& path) override;
  Result<void> link(const std::string& from, const std::string& to) override;
  Result<struct stat> setattr(const std::string& path, const AttrChange& change) override;
  Result<struct statvfs> statfs(const std::string& path) override;
  Result<Chunk> getfile(const std::string& path, off_t offset, std::span<std::byte> out) override;
  Result<std::unique_ptr<BackendUpload>> putfile_stage(const std::string& path,
                                                       mode_t mode) override;

  const ExportRoot& root() const { return root_; }

 private:
  ExportBackend(ExportRoot root, bool named_temp)
      : root_(std::move(root)), named_temp_(named_temp) {}
  Result<void> remove(const std::string& path, bool directory);

  const ExportRoot root_;
  const bool named_temp_;
};

// An open file of the export: a real fd (never O_PATH).
class ExportFile final : public BackendFile {
 public:
  ExportFile(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  Result<size_t> pread(std::span<std::byte> out, off_t offset) override;
  Result<size_t> pwrite(std::span<const std::byte> data, off_t offset) override;
  Result<struct stat> fstat() override;
  Result<void> fsync() override;
  Result<void> ftruncate(off_t size) override;
  Result<void> fallocate(int mode, off_t offset, off_t length) override;
  Result<struct stat> setattr(const AttrChange& change) override;

 private:
  UniqueFd fd_;
  std::string path_;  // canonical path at open time, for messages
};

// Sets fd's permission bits to exactly mode when they differ (fchmod; through /proc/self/fd
// for an O_PATH fd). EOPNOTSUPP for a symlink.
Result<void> set_exact_mode(const ExportRoot& root, int fd, mode_t mode, std::string_view path);

}  // namespace ringbox::host::files
