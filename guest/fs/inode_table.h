// InodeTable: the FUSE view's map from kernel inode numbers to export-relative wire paths.
//
// The host names files by path, the kernel by inode number, so the view keeps one table.
// Inode numbers are handed out from a counter and never reused (64 bits do not wrap in a job's
// lifetime), which makes (ino, generation 0) unique as FUSE requires.
//
// Rename moves the inode and everything below it to the new path: open files and cwds inside
// a renamed directory keep working. Unlink, rmdir and a rename that replaces its target remove
// a name; an inode left without names is *detached*: it keeps its number until the kernel
// forgets it, but names no path any more, so path-based operations on it fail while open
// handles (which the host or the local cache hold by handle, not by path) keep working, as
// POSIX wants for an unlinked file that is still open. A detached file answers ESTALE (Linux
// then redoes the path lookup with LOOKUP_REVAL, fs/namei.c, and finds what the name holds
// now: the answer a reader racing an atomic replace needs); a detached directory ENOENT.
// A file detached by a rename over its name remembers that name, so remote-io can open what
// the name holds now instead (View::open).
// The host answers about a name and the table is updated in two steps, so a lookup racing a
// rename over the name could pair the old file's inode with the new file's attributes (or open
// the new file for the old inode): the kernel then reads one file with another's size, zeros
// past its end or a cut version. Each name change (rename, unlink, rmdir, link) is therefore a
// NameChange from before the host is asked until the table is updated, and a reader brackets
// its own host call with an Epoch: a name change that overlapped it makes it ask again.
// A hard link made through the view adds a second name to the same inode (so both names share
// one page cache); a file linked on the host behind the view's back gets one inode per name.
//
// Thread-safe; every method takes the one mutex. Rename is O(inodes), which is fine for the
// tens of thousands of names a job touches and keeps the structure obviously right.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "shared/path/wire_path.h"

namespace ringbox::guest::fs {

inline constexpr uint64_t kRootIno = 1;  // FUSE_ROOT_ID

class InodeTable {
 public:
  InodeTable();

  // The path an inode names now (its first name); nullopt for an unknown or detached inode.
  std::optional<std::string> path(uint64_t ino) const;
  // The errno for an operation on an inode path() has no answer for: ESTALE for a detached
  // non-directory, else ENOENT.
  int gone_errno(uint64_t ino) const;
  // The name a detached file lost to a rename over it (the name now holds the file that
  // replaced it); nullopt for any other inode.
  std::optional<std::string> replaced_name(uint64_t ino) const;
  // parent's path joined with name; nullopt when the parent names no path.
  std::optional<std::string> child_path(uint64_t parent, std::string_view name) const;
  // The inode naming path, created if needed, with one more kernel reference (call once per
  // successful lookup/create/mkdir/symlink reply).
  uint64_t remember(const std::string& path, bool dir = false);
  // path is a new name (hard link) of the inode that `existing` names: returns that inode with
  // one more kernel reference, or a fresh inode when existing names none.
  uint64_t remember_link(const std::string& existing, const std::string& path);
  // The kernel dropped nlookup references; the inode goes away at zero (the root never does).
  // True when it went away.
  bool forget(uint64_t ino, uint64_t nlookup);
  // from and everything beneath it now live under to; what was at to (or beneath) loses its name.
  void renamed(const std::string& from, const std::string& to);
  // What was at or beneath a is now at or beneath b and the other way round (RENAME_EXCHANGE).
  void exchanged(const std::string& a, const std::string& b);
  // path names nothing any more (unlink, rmdir); its inode is detached.
  void removed(const std::string& path);
  size_t size() const;

  // A point in the history of name changes, as seen from one path: their count, and whether
  // one touching the path (at it or above it) was under way.
  struct Epoch {
    uint64_t changes = 0;
    bool quiet = false;
  };
  Epoch epoch(const std::string& path) const;
  // path(ino), or child_path(parent, name), with the epoch of that path, read together (so no
  // change can slip in between); nullopt as path() and child_path().
  std::optional<std::pair<std::string, Epoch>> path_and_epoch(uint64_t ino) const;
  std::optional<std::pair<std::string, Epoch>> child_path_and_epoch(uint64_t parent,
                                                                    std::string_view name) const;
  // True when no name change touching path was under way at `e` and none touching it began
  // since (conservatively false when too many others began to tell): an answer the host gave
  // about path after `e` still fits the table.
  bool unchanged_since(const Epoch& e, const std::string& path) const;
  // Waits (at most timeout_ms) until no name change touching path is under way: a reader
  // whose answer one overlapped waits for it to end before it asks again.
  void wait_quiet(const std::string& path, int timeout_ms) const;
  // replaced_name(ino) with the epoch of that name, read together.
  std::optional<std::pair<std::string, Epoch>> replaced_name_and_epoch(uint64_t ino) const;
  // remember(path, dir) when unchanged_since(e, path), checked under the same lock; nullopt
  // otherwise (ask the host again).
  std::optional<uint64_t> remember_if_unchanged(const std::string& path, bool dir, const Epoch& e);

  // A name change under way (RAII) at a and b (b empty for one name): begin it before the
  // host is asked, end it (destroy) after the table is updated. It touches a path at or
  // beneath a or b.
  class NameChange {
   public:
    NameChange(InodeTable& t, std::string a, std::string b = {});
    ~NameChange();
    NameChange(const NameChange&) = delete;
    NameChange& operator=(const NameChange&) = delete;

   private:
    InodeTable& table_;
    uint64_t seq_;
  };

 private:
  struct Node {
    std::vector<std::string> paths;  // its names; empty once detached
    uint64_t nlookup = 0;
    bool dir = false;
    bool detached = false;
    std::string replaced_at;  // set when a rename over its last name detached it
  };
  // replaced: path loses its inode to a rename over it (recorded in replaced_at).
  void detach_locked(const std::string& path, bool with_children, bool replaced = false);
  // Moves every name at or beneath `from` to the same place beneath `to` (map is the old and
  // new names, applied at once so an exchange does not collide with itself).
  void move_names_locked(const std::vector<std::pair<std::string, std::string>>& map);

  struct Change {
    uint64_t seq = 0;
    std::string a, b;
    bool touches(const std::string& path) const;
  };
  static constexpr size_t kRecentChanges = 256;
  bool unchanged_locked(const Epoch& e, const std::string& path) const;
  Epoch epoch_locked(const std::string& path) const;
  std::optional<std::string> path_locked(uint64_t ino) const;
  uint64_t remember_locked(const std::string& path, bool dir);

  bool quiet_locked(const std::string& path) const;

  mutable std::mutex mu_;
  mutable std::condition_variable ended_;           // a name change ended
  uint64_t changes_ = 0;                            // name changes begun
  std::unordered_map<uint64_t, Change> under_way_;  // begun and not yet ended, by seq
  std::deque<Change> recent_;                       // the last kRecentChanges begun, oldest first
  uint64_t next_ino_ = kRootIno + 1;
  std::unordered_map<uint64_t, Node> nodes_;
  std::unordered_map<std::string, uint64_t> by_path_;
};

// The wire-path arithmetic the view uses (shared/path/wire_path.h).
using proto::join_wire_path;
using proto::wire_parent;
using proto::wire_path_covers;

}  // namespace ringbox::guest::fs
