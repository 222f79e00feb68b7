// FileBackend: where a job's files really live, behind the file service.
//
// FileService (file_service.h) is what every back end shares: it copies and checks the guest's
// requests, enforces the job's policy, keeps the handle table and the putfile stage, and maps
// errors to the wire. A FileBackend only does file-system work, on paths the service has
// already checked. Two implementations: `export` (ExportBackend, export_backend.h: a local
// directory, openat2 beneath the root) and `chirp` (ChirpBackend, chirp_backend.h: a Chirp
// client to the submit machine, issue 9).
//
// Paths: every path argument is a canonical wire path (proto::is_canonical_path; "." is the
// export root) relative to the back end's root. Except for lookup(), the service passes only
// paths that lookup() returned, or such a path joined with one valid name: paths with no
// symlink in any component but the last. A back end must act on exactly that lexical path:
// never follow a symlink in a non-final component (refuse with ELOOP one that appeared since),
// and treat the final component as each method says. This is what makes the policy the service
// checked on the path the policy of the object acted on.
//
// Errors: a failed call returns an Error whose sys_errno is the POSIX errno of the failure
// (ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, EXDEV, ELOOP, EACCES, EPERM, ENOSPC, EFBIG,
// EOPNOTSUPP, ESTALE, EIO, ...) as the matching system call would give it; the service maps it
// to the wire with proto::to_wire_error(). Messages name the step and the path.
//
// Units: offsets and sizes in bytes (never negative: the service checks the range first),
// times in struct timespec with UTIME_NOW / UTIME_OMIT as utimensat(2), modes as permission bits
// (0..07777, applied exactly: a back end applies no umask of its own; setuid/setgid have been
// cleared by the service).
//
// Threads: every method may be called from many server workers at once.
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "host/files/dir_lister.h"
#include "shared/util/result.h"

namespace ringbox::host::files {

enum class Follow { kNo, kYes };  // whether a symlink in the final component is followed

// What lookup() found.
struct Lookup {
  std::string path;  // canonical, symlink-free path of the object (what the policy checks)
  struct stat st {};
};

// kSetattr's change: permission bits and/or times.
struct AttrChange {
  bool set_mode = false;
  mode_t mode = 0;                                                // 0..07777, setuid/setgid cleared
  struct timespec times[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};  // atime, mtime (utimensat)
  bool changes_times() const {
    return times[0].tv_nsec != UTIME_OMIT || times[1].tv_nsec != UTIME_OMIT;
  }
};

// How an existing file is opened (the decoded kOpen intent).
struct OpenMode {
  bool read = false;
  bool write = false;
  bool truncate = false;  // also without write (open(2) truncates O_RDONLY|O_TRUNC)
  bool append = false;
  bool directory = false;  // kNotDir unless a directory
};

// An open file of a back end. Destroying it closes it (kClose; the last user of a handle).
class BackendFile {
 public:
  virtual ~BackendFile() = default;
  // Reads until out is full or end of file; returns the bytes read. out may be shared memory.
  virtual Result<size_t> pread(std::span<std::byte> out, off_t offset) = 0;
  // Writes all of data (an append handle: at the end); returns the bytes written.
  virtual Result<size_t> pwrite(std::span<const std::byte> data, off_t offset) = 0;
  virtual Result<struct stat> fstat() = 0;
  virtual Result<void> fsync() = 0;
  virtual Result<void> ftruncate(off_t size) = 0;
  // fallocate(2) mode bits (0, KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE, ZERO_RANGE[|KEEP_SIZE]);
  // EOPNOTSUPP when the file system cannot.
  virtual Result<void> fallocate(int mode, off_t offset, off_t length) = 0;
  // Changes mode and/or times of the open file (its name may be gone); returns the new stat.
  virtual Result<struct stat> setattr(const AttrChange& change) = 0;
};

// An unfinished kPutfile upload: a private temporary file beside the target. Destroying it
// without commit() discards it and leaves the target untouched.
class BackendUpload {
 public:
  virtual ~BackendUpload() = default;
  // Writes data at offset of the temporary file; returns the bytes written.
  virtual Result<size_t> write(std::span<const std::byte> data, off_t offset) = 0;
  // Makes the upload the target, atomically (durable before it returns); returns its size.
  virtual Result<uint64_t> commit() = 0;
};

class FileBackend {
 public:
  virtual ~FileBackend() = default;
  // "export '/srv/job'" for logs.
  virtual std::string describe() const = 0;

  // stat (Follow::kYes) / lstat (kNo): resolves any path, symlinks included, inside the root
  // only: an absolute link target or one climbing above the root is EXDEV, more than 40 links
  // ELOOP. A missing final component is ENOENT.
  virtual Result<Lookup> lookup(std::string_view path, Follow follow) const = 0;
  // After lookup(path, follow) failed with ENOTDIR: the canonical path of the non-directory
  // the walk went through, so that the service can hide a reserved one (FileService::lookup).
  // nullopt: not known (the default: back ends whose service reserves nothing).
  virtual std::optional<std::string> not_directory_on_way(std::string_view path,
                                                          Follow follow) const {
    (void)path;
    (void)follow;
    return std::nullopt;
  }

  // Opens an existing regular file or directory (final component not followed; anything else
  // EACCES).
  virtual Result<std::unique_ptr<BackendFile>> open(const std::string& path, OpenMode how) = 0;
  // Creates a new regular file with exactly mode and opens it; EEXIST when the name exists
  // (a symlink included: never created through).
  virtual Result<std::unique_ptr<BackendFile>> create(const std::string& path, OpenMode how,
                                                      mode_t mode) = 0;
  // Lists a directory from cookie (0 = start; else an earlier next_cookie) into out as
  // WireDirent records, skipping "." and ".." and names keep() refuses.
  virtual Result<DirListing> readdir(const std::string& path, uint64_t cookie,
                                     std::span<std::byte> out,
                                     const std::function<bool(std::string_view)>& keep) = 0;
  // mkdir with exactly mode.
  virtual Result<void> mkdir(const std::string& path, mode_t mode) = 0;
  virtual Result<void> rmdir(const std::string& path) = 0;
  // Removes the final component itself (a symlink, not its target); EISDIR for a directory.
  virtual Result<void> unlink(const std::string& path) = 0;
  // renameat2(2): flags 0, RENAME_NOREPLACE or RENAME_EXCHANGE; neither name followed.
  virtual Result<void> rename(const std::string& from, const std::string& to, unsigned flags) = 0;
  // Truncates a regular file to size bytes (final component not followed).
  virtual Result<void> truncate(const std::string& path, off_t size) = 0;
  // The text of the symlink at path (EINVAL when not a symlink), at most 4096 bytes.
  virtual Result<std::string> readlink(const std::string& path) = 0;
  // Creates a symlink at path with the given text (the service checked it stays inside).
  virtual Result<void> symlink(const std::string& target, const std::string& path) = 0;
  // linkat(2) without following: EPERM for a directory, EEXIST when `to` exists.
  virtual Result<void> link(const std::string& from, const std::string& to) = 0;
  // Changes mode and/or times of the final component itself (a symlink's mode: EOPNOTSUPP);
  // returns the new stat.
  virtual Result<struct stat> setattr(const std::string& path, const AttrChange& change) = 0;
  // statvfs(3) of the file system holding path (followed).
  virtual Result<struct statvfs> statfs(const std::string& path) = 0;
  // One kGetfile chunk of a regular file: up to out.size() bytes from offset into out (none
  // at or past the end) and the file's size, read from one open of the file.
  struct Chunk {
    size_t bytes = 0;
    uint64_t file_size = 0;
  };
  virtual Result<Chunk> getfile(const std::string& path, off_t offset,
                                std::span<std::byte> out) = 0;
  // Starts an upload that will replace path (not following a symlink there) with a new file of
  // exactly mode. The directory must exist.
  virtual Result<std::unique_ptr<BackendUpload>> putfile_stage(const std::string& path,
                                                               mode_t mode) = 0;
};

}  // namespace ringbox::host::files
