#include "host/files/handle_table.h"

#include <cerrno>
#include <limits>

namespace ringbox::host::files {

HandleTable::HandleTable(uint32_t capacity) : slots_(capacity) {
  free_.reserve(capacity);
  // Pushed in reverse so the first handles use the lowest slots (easier to read in logs).
  for (uint32_t i = capacity; i > 0; --i) free_.push_back(i - 1);
}

Result<uint64_t> HandleTable::insert(std::shared_ptr<OpenFile> file) {
  std::lock_guard lk(mu_);
  if (free_.empty())
    return sys_error(EMFILE, "open file table of this connection is full (" +
                                 std::to_string(slots_.size()) + " handles)");
  uint32_t idx = free_.back();
  free_.pop_back();
  Slot& s = slots_[idx];
  ++s.generation;  // never 0 here: a slot at UINT32_MAX is retired in remove()
  s.file = std::move(file);
  ++used_;
  return (uint64_t{s.generation} << 32) | (uint64_t{idx} + 1);
}

int64_t HandleTable::find(uint64_t handle) const {
  uint64_t low = handle & 0xffffffffu;
  uint32_t generation = static_cast<uint32_t>(handle >> 32);
  if (low == 0 || low > slots_.size()) return -1;
  uint32_t idx = static_cast<uint32_t>(low - 1);
  const Slot& s = slots_[idx];
  if (!s.file || s.generation != generation) return -1;
  return idx;
}

std::shared_ptr<OpenFile> HandleTable::get(uint64_t handle) const {
  std::lock_guard lk(mu_);
  int64_t idx = find(handle);
  return idx < 0 ? nullptr : slots_[static_cast<size_t>(idx)].file;
}

std::shared_ptr<OpenFile> HandleTable::remove(uint64_t handle) {
  std::lock_guard lk(mu_);
  int64_t idx = find(handle);
  if (idx < 0) return nullptr;
  Slot& s = slots_[static_cast<size_t>(idx)];
  auto file = std::move(s.file);
  s.file.reset();
  --used_;
  // A wrapped generation could make an ancient handle valid again: retire the slot instead.
  if (s.generation != std::numeric_limits<uint32_t>::max())
    free_.push_back(static_cast<uint32_t>(idx));
  return file;
}

void HandleTable::clear() {
  std::vector<std::shared_ptr<OpenFile>> closing;  // closed outside the lock
  {
    std::lock_guard lk(mu_);
    for (uint32_t i = 0; i < slots_.size(); ++i) {
      Slot& s = slots_[i];
      if (!s.file) continue;
      closing.push_back(std::move(s.file));
      s.file.reset();
      if (s.generation != std::numeric_limits<uint32_t>::max()) free_.push_back(i);
    }
    used_ = 0;
  }
}

size_t HandleTable::size() const {
  std::lock_guard lk(mu_);
  return used_;
}

}  // namespace ringbox::host::files
