// LocalNodes: the FIFOs and Unix sockets the job makes in its view. They are local IPC objects:
// the guest's kernel implements their semantics on the FUSE inode itself (a FIFO's open, read
// and write, a socket's connect never reach the file system), so the view only has to keep
// their names and attributes. They live in the guest in every mode and never go to the submit
// side (issue 8: "FIFOs and sockets are local IPC objects").
//
// Paths are canonical wire paths, like the rest of the view. Thread-safe (one mutex).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ringbox::guest::fs {

struct LocalNode {
  mode_t mode = 0;   // S_IFIFO or S_IFSOCK plus permission bits
  uint64_t ino = 0;  // st_ino shown to the job
  uint32_t nlink = 1;
  struct timespec atime {};
  struct timespec mtime {};
  struct timespec ctime {};
};

class LocalNodes {
 public:
  // A new node at path; false when path is taken.
  bool add(const std::string& path, mode_t mode, uint64_t ino);
  // The node at path, if any (it outlives its names while the view holds it).
  std::shared_ptr<LocalNode> find(const std::string& path) const;
  // A consistent copy of a node's fields.
  LocalNode read(const LocalNode& n) const {
    std::lock_guard lk(mu_);
    return n;
  }
  // Applies fn to the node under the lock.
  template <class Fn>
  void update(LocalNode& n, Fn&& fn) {
    std::lock_guard lk(mu_);
    fn(n);
  }
  // Removes the name; the node lives on while its inode is in use.
  bool erase(const std::string& path);
  // A second name for the node at from (link(2)).
  bool link(const std::string& from, const std::string& to);
  // Nodes at or beneath from move beneath to; nodes at or beneath to are dropped first.
  void rename(const std::string& from, const std::string& to);
  // Nodes at or beneath a and at or beneath b trade places (renameat2 RENAME_EXCHANGE).
  void exchange(const std::string& a, const std::string& b);
  // Names directly in dir, with their types (for readdir).
  std::vector<std::pair<std::string, mode_t>> children(const std::string& dir) const;
  // Any node strictly beneath dir (rmdir, rename over a directory).
  bool any_beneath(const std::string& dir) const;
  // The longest path strictly beneath dir, 0 when none (the deep-path check of a rename).
  size_t longest_beneath(const std::string& dir) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<LocalNode>> nodes_;
};

}  // namespace ringbox::guest::fs
