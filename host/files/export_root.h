// ExportRoot: the job's export directory, and the only way host/files reaches a file in it.
//
// Holds an O_PATH|O_DIRECTORY fd of the export. Every lookup goes through openat2(2)
// (shared/util/beneath, shared with ringbox-submitd's ConfinedDir) relative
// to that fd with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS (which implies RESOLVE_NO_MAGICLINKS):
// the kernel refuses absolute paths, ".." and ANY symlink during the walk, so the object it
// returns is exactly at the lexical path it was given, beneath the root, and the policy
// checked on that path is the policy of that object.
//
// Symlinks inside the export still work: when the kernel refuses a walk (ELOOP), resolve()
// expands the links itself, one component at a time, reading each link's text and resolving
// it lexically (wire_path.h). An absolute target or one climbing above the root is EXDEV;
// more than kMaxSymlinkHops links, or kMaxResolveSteps components, is ELOOP. The result is a
// symlink-free path that is opened once more with the same flags, so a tree changed in between
// (a directory swapped for a symlink) is refused, not followed.
//
// Files are opened for I/O in two steps: an O_PATH fd first (no side effects, never blocks on
// a FIFO, never runs a device's open), a file-type check on it (regular files and directories
// only), then a reopen of that very inode through /proc/self/fd (as virtiofsd does), so no path
// is resolved twice.
//
// Trust: callers pass paths that passed proto::decode_path(). Thread-safe: all members are
// const after open().
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "host/files/file_backend.h"  // Follow
#include "shared/protocol/ringbox_proto.h"
#include "shared/util/unique_fd.h"

namespace ringbox::host::files {

using proto::kMaxSymlinkHops;                  // ringbox_proto.h
inline constexpr int kMaxResolveSteps = 4096;  // components visited per resolution; bounds
                                               // the work one request can cause

// An object found beneath the root.
struct Resolved {
  std::string path;  // canonical, symlink-free export-relative path (what policy checks)
  UniqueFd fd;       // O_PATH|O_NOFOLLOW fd of the object (a symlink itself when not followed)
  struct stat st {};
};

// A directory found beneath the root, and a name to act on inside it with *at() calls.
struct ResolvedParent {
  std::string dir_path;      // canonical, symlink-free path of the directory
  UniqueFd dir;              // O_PATH|O_DIRECTORY fd
  std::string name;          // one valid component (proto::is_valid_name)
  std::string path() const;  // dir_path joined with name
};

class ExportRoot {
 public:
  // Opens the export and checks the kernel: openat2 with RESOLVE_BENEATH (Linux >= 5.6) and a
  // usable /proc/self/fd. Each failure says what is missing and what to do.
  static Result<ExportRoot> open(const std::string& dir);

  const std::string& dir() const { return dir_; }

  // The object at path; with Follow::kYes a final symlink is followed (within the export).
  Result<Resolved> resolve(std::string_view path, Follow follow) const;
  // For a path whose resolve() failed with ENOTDIR: the canonical, symlink-free path of the
  // existing non-directory it walks through (symlinks expanded as resolve() does); nullopt when
  // the walk no longer ends that way (the tree changed).
  std::optional<std::string> not_directory_on_way(std::string_view path, Follow follow) const;
  // The directory holding path's last component (followed), and that component. EINVAL for
  // "." (the root has no parent in the export), ENOTDIR when the parent is not a directory.
  Result<ResolvedParent> resolve_parent(std::string_view path) const;
  // The object at a path that must be symlink-free (FileBackend's rule): one openat2 with
  // RESOLVE_NO_SYMLINKS, so a symlink in a non-final component is ELOOP, never followed; a
  // final symlink yields the link itself.
  Result<Resolved> find(const std::string& path) const { return open_exact(path); }
  // find() of path's parent, which must be a directory (ENOTDIR), and path's last component.
  // EINVAL for ".".
  Result<ResolvedParent> find_parent(std::string_view path) const;

  // Opens r's inode for I/O with open(2) flags (no O_CREAT). EACCES unless r is a regular
  // file or a directory.
  Result<UniqueFd> open_for_io(const Resolved& r, int flags) const;
  // Reopens any fd's inode (an O_PATH directory for fsync, ...) through /proc/self/fd.
  Result<UniqueFd> reopen(int fd, int flags) const;
  // Sets the permission bits of any fd's inode, an O_PATH fd's too (fchmod refuses those):
  // chmod through /proc/self/fd, as glibc's fchmodat(AT_SYMLINK_NOFOLLOW) does. The caller makes
  // sure the inode is not a symlink (the magic link would lead to it, not through it).
  Result<void> chmod_fd(int fd, mode_t mode) const;
  // Gives an O_TMPFILE file a name in dir (linkat through /proc/self/fd, which needs no
  // CAP_DAC_READ_SEARCH). EEXIST when the name is taken.
  Result<void> link_anonymous(int file_fd, int dir_fd, const std::string& name) const;

 private:
  ExportRoot(std::string dir, UniqueFd root, UniqueFd proc_fd)
      : dir_(std::move(dir)), root_(std::move(root)), proc_fd_(std::move(proc_fd)) {}
  // openat2(root, path, flags | O_CLOEXEC, BENEATH | NO_SYMLINKS); retries EINTR.
  Result<UniqueFd> open_beneath(const std::string& path, uint64_t flags) const;
  // The object at path, symlinks refused by the kernel; fills st.
  Result<Resolved> open_exact(std::string path) const;
  // Userspace symlink expansion: returns a symlink-free canonical path (see the top comment).
  // On ENOTDIR, *not_dir (when given) is the canonical path of the non-directory walked through.
  Result<std::string> expand_symlinks(std::string_view path, Follow follow,
                                      std::string* not_dir = nullptr) const;

  std::string dir_;
  UniqueFd root_;     // O_PATH|O_DIRECTORY of the export
  UniqueFd proc_fd_;  // O_PATH|O_DIRECTORY of /proc/self/fd
};

}  // namespace ringbox::host::files
