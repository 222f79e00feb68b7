// InodeTable: the FUSE view's map from kernel inode numbers to export-relative wire paths.
//
// The host names files by path, the kernel by inode number, so the view keeps one table.
// Inode numbers are handed out from a counter and never reused (64 bits do not wrap in a job's
// lifetime), which makes (ino, generation 0) unique as FUSE requires.
//
// Rename moves the inode and everything below it to the new path: open files and cwds inside
// a renamed directory keep working. Unlink, rmdir and a rename that replaces its target
// *detach* the old inode: it keeps its number until the kernel forgets it, but names no path
// any more, so path-based operations on it fail with ENOENT while open handles (which the host
// or the local cache hold by handle, not by path) keep working, as POSIX wants for an unlinked
// file that is still open. A file reachable by two names (a hard link made on the host) gets
// two inodes: the table knows names, not files.
//
// Thread-safe; every method takes the one mutex. Rename is O(inodes), which is fine for the
// tens of thousands of names a job touches and keeps the structure obviously right.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ringbox::guest::fs {

inline constexpr uint64_t kRootIno = 1;  // FUSE_ROOT_ID

class InodeTable {
 public:
  InodeTable();

  // The path an inode names now; nullopt for an unknown or detached inode.
  std::optional<std::string> path(uint64_t ino) const;
  // parent's path joined with name; nullopt when the parent names no path.
  std::optional<std::string> child_path(uint64_t parent, std::string_view name) const;
  // The inode naming path, created if needed, with one more kernel reference (call once per
  // successful lookup/create/mkdir/symlink reply).
  uint64_t remember(const std::string& path);
  // The kernel dropped nlookup references; the inode goes away at zero (the root never does).
  void forget(uint64_t ino, uint64_t nlookup);
  // from and everything beneath it now live under to; what was at to (or beneath) is detached.
  void renamed(const std::string& from, const std::string& to);
  // path names nothing any more (unlink, rmdir); its inode is detached.
  void removed(const std::string& path);
  size_t size() const;

 private:
  struct Node {
    std::string path;
    uint64_t nlookup = 0;
    bool detached = false;
  };
  void detach_locked(const std::string& path, bool with_children);

  mutable std::mutex mu_;
  uint64_t next_ino_ = kRootIno + 1;
  std::unordered_map<uint64_t, Node> nodes_;
  std::unordered_map<std::string, uint64_t> by_path_;
};

// "a/b" for ("a", "b"); "b" for (".", "b").
std::string join_wire_path(std::string_view parent, std::string_view name);
// True when path is `prefix` or beneath it ("." covers everything).
bool wire_path_covers(std::string_view prefix, std::string_view path);
// The parent of a wire path other than "." ("." for a top-level name).
std::string wire_parent(std::string_view path);

}  // namespace ringbox::guest::fs
