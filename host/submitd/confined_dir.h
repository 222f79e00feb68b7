// ConfinedDir: the directory ringbox-submitd exports, and the only way submitd reaches a file.
//
// Every lookup is openat2(2) relative to an O_PATH fd of the root with RESOLVE_BENEATH |
// RESOLVE_NO_MAGICLINKS: the kernel follows symlinks only while they stay beneath the root,
// refuses absolute targets, ".." above the root and /proc magic links (EXDEV / ELOOP), and does
// so atomically, so a tree changed during the walk cannot lead outside. The openat2 call and
// the root's opening are shared/util/beneath, the same code as host/files/export_root (the
// export back end); ExportRoot adds RESOLVE_NO_SYMLINKS and expands links in userspace, while
// submitd serves a user's own directory, where following in-tree links is the expected POSIX
// behaviour.
//
// Operations that act on a name (mkdir, unlink, rename, link, symlink) resolve the parent
// directory that way and call the *at() syscall on one plain name. Operations that change an
// object reached through a final symlink (chmod, utime) act on its O_PATH fd through
// /proc/self/fd, never on a re-resolved path.
// Trust: paths come from a network peer, already decoded by the codec. Thread-safe.
#pragma once

#include <sys/stat.h>

#include <string>
#include <string_view>

#include "shared/util/unique_fd.h"

namespace ringbox::submitd {

struct Parent {
  UniqueFd dir;      // O_PATH|O_DIRECTORY
  std::string name;  // one component, never "", "." or ".."
};

class ConfinedDir {
 public:
  // Opens dir and probes openat2 (Linux >= 5.6); each failure says what to do.
  static Result<ConfinedDir> open(const std::string& dir);

  const std::string& dir() const { return dir_; }

  // "/a//b/./c" -> "a/b/c"; "" or "/" -> ".". ".." is left to the kernel (refused above root).
  static std::string relative(std::string_view chirp_path);

  // openat2 beneath the root; follow_last=false adds O_NOFOLLOW (a final symlink is opened
  // as itself with O_PATH, or refused with ELOOP otherwise).
  Result<UniqueFd> open_at(std::string_view chirp_path, int flags, int mode,
                           bool follow_last = true) const;
  // The parent directory of the path's last component, and that component.
  Result<Parent> parent(std::string_view chirp_path) const;

 private:
  ConfinedDir(std::string dir, UniqueFd root) : dir_(std::move(dir)), root_(std::move(root)) {}
  std::string dir_;
  UniqueFd root_;
};

// "/proc/self/fd/N": acting on an O_PATH fd's inode with path-only syscalls.
std::string proc_fd_path(int fd);

}  // namespace ringbox::submitd
