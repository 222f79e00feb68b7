// HandleTable: the open files of one connection, named by generation-tagged handles.
//
// A handle is (generation << 32) | (slot index + 1): never 0, and a slot's generation moves on
// each time it is reused, so a closed, stale or forged handle finds nothing (EBADF) and can
// never name another open file. A slot whose generation would wrap is retired, not reused.
// Capacity is fixed (1024 by default): a guest cannot make the host hold unbounded fds.
//
// Entries are shared_ptr: a request using a file keeps it open even if another handler thread
// closes the handle meanwhile, so (in the export back end) an fd number is never closed under a
// running pread and then reused for a different file. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "host/files/file_backend.h"

namespace ringbox::host::files {

struct OpenFile {
  std::unique_ptr<BackendFile> file;  // closed when the last user lets go
  bool readable = false;
  bool writable = false;
  bool directory = false;
  std::string path;  // canonical path at open time, for logs
};

class HandleTable {
 public:
  explicit HandleTable(uint32_t capacity);

  // EMFILE (Errc::kSystem) when every slot is in use or retired.
  Result<uint64_t> insert(std::shared_ptr<OpenFile> file);
  // nullptr for a handle that names no open file.
  std::shared_ptr<OpenFile> get(uint64_t handle) const;
  // Removes and returns the file (nullptr if none); its fd closes when the last user lets go.
  std::shared_ptr<OpenFile> remove(uint64_t handle);
  // Closes everything (connection end).
  void clear();
  size_t size() const;

 private:
  struct Slot {
    uint32_t generation = 0;  // of the current or last occupant; 0 = never used
    std::shared_ptr<OpenFile> file;
  };
  // Index of the occupied slot a handle names, or -1.
  int64_t find(uint64_t handle) const;

  mutable std::mutex mu_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;  // indexes of empty, reusable slots
  size_t used_ = 0;
};

}  // namespace ringbox::host::files
