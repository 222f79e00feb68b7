#include "guest/fs/inode_table.h"

#include <cerrno>
#include <chrono>
#include <vector>

namespace ringbox::guest::fs {

InodeTable::InodeTable() {
  nodes_[kRootIno] = Node{{"."}, 1, true, false, {}};
  by_path_["."] = kRootIno;
}

std::optional<std::string> InodeTable::path(uint64_t ino) const {
  std::lock_guard lk(mu_);
  return path_locked(ino);
}

std::optional<std::string> InodeTable::path_locked(uint64_t ino) const {
  auto it = nodes_.find(ino);
  if (it == nodes_.end() || it->second.detached || it->second.paths.empty()) return std::nullopt;
  return it->second.paths.front();
}

int InodeTable::gone_errno(uint64_t ino) const {
  std::lock_guard lk(mu_);
  auto it = nodes_.find(ino);
  if (it != nodes_.end() && it->second.detached && !it->second.dir) return ESTALE;
  return ENOENT;
}

std::optional<std::string> InodeTable::replaced_name(uint64_t ino) const {
  std::lock_guard lk(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end() || !it->second.detached || it->second.replaced_at.empty())
    return std::nullopt;
  return it->second.replaced_at;
}

std::optional<std::string> InodeTable::child_path(uint64_t parent, std::string_view name) const {
  auto p = path(parent);
  if (!p) return std::nullopt;
  return join_wire_path(*p, name);
}

uint64_t InodeTable::remember(const std::string& path, bool dir) {
  std::lock_guard lk(mu_);
  return remember_locked(path, dir);
}

uint64_t InodeTable::remember_locked(const std::string& path, bool dir) {
  auto it = by_path_.find(path);
  if (it != by_path_.end()) {
    Node& n = nodes_[it->second];
    ++n.nlookup;
    n.dir = dir;
    return it->second;
  }
  uint64_t ino = next_ino_++;
  nodes_[ino] = Node{{path}, 1, dir, false, {}};
  by_path_[path] = ino;
  return ino;
}

uint64_t InodeTable::remember_link(const std::string& existing, const std::string& path) {
  std::lock_guard lk(mu_);
  detach_locked(path, false);  // the new name held nothing, or the kernel's view was stale
  auto it = by_path_.find(existing);
  uint64_t ino;
  if (it == by_path_.end()) {
    ino = next_ino_++;
    nodes_[ino] = Node{{path}, 1, false, false, {}};
  } else {
    ino = it->second;
    Node& n = nodes_[ino];
    n.paths.push_back(path);
    ++n.nlookup;
  }
  by_path_[path] = ino;
  return ino;
}

bool InodeTable::forget(uint64_t ino, uint64_t nlookup) {
  if (ino == kRootIno) return false;
  std::lock_guard lk(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return false;
  Node& n = it->second;
  n.nlookup = nlookup >= n.nlookup ? 0 : n.nlookup - nlookup;
  if (n.nlookup > 0) return false;
  for (const auto& p : n.paths) by_path_.erase(p);
  nodes_.erase(it);
  return true;
}

void InodeTable::detach_locked(const std::string& path, bool with_children, bool replaced) {
  std::vector<std::string> gone;
  for (auto& [p, ino] : by_path_) {
    if (p == path || (with_children && wire_path_covers(path, p))) gone.push_back(p);
  }
  for (const auto& p : gone) {
    auto it = by_path_.find(p);
    if (it->second == kRootIno) continue;  // the root is never detached
    Node& n = nodes_[it->second];
    std::erase(n.paths, p);
    if (n.paths.empty()) {
      n.detached = true;
      if (replaced && p == path && !n.dir) n.replaced_at = p;
    }
    by_path_.erase(it);
  }
}

void InodeTable::move_names_locked(const std::vector<std::pair<std::string, std::string>>& map) {
  std::vector<std::pair<uint64_t, const std::pair<std::string, std::string>*>> moves;
  for (const auto& m : map) {
    auto it = by_path_.find(m.first);
    if (it == by_path_.end()) continue;
    moves.emplace_back(it->second, &m);
    by_path_.erase(it);
  }
  for (auto& [ino, m] : moves) {
    Node& n = nodes_[ino];
    for (auto& p : n.paths)
      if (p == m->first) p = m->second;
    by_path_[m->second] = ino;
  }
}

void InodeTable::renamed(const std::string& from, const std::string& to) {
  if (from == to) return;
  std::lock_guard lk(mu_);
  detach_locked(to, true, true);
  std::vector<std::pair<std::string, std::string>> map;
  for (auto& [p, ino] : by_path_) {
    if (wire_path_covers(from, p)) map.emplace_back(p, to + p.substr(from.size()));
  }
  move_names_locked(map);
}

void InodeTable::exchanged(const std::string& a, const std::string& b) {
  if (a == b) return;
  std::lock_guard lk(mu_);
  std::vector<std::pair<std::string, std::string>> map;
  for (auto& [p, ino] : by_path_) {
    if (wire_path_covers(a, p))
      map.emplace_back(p, b + p.substr(a.size()));
    else if (wire_path_covers(b, p))
      map.emplace_back(p, a + p.substr(b.size()));
  }
  move_names_locked(map);
}

void InodeTable::removed(const std::string& path) {
  std::lock_guard lk(mu_);
  detach_locked(path, false);
}

bool InodeTable::Change::touches(const std::string& path) const {
  return wire_path_covers(a, path) || (!b.empty() && wire_path_covers(b, path));
}

bool InodeTable::quiet_locked(const std::string& path) const {
  for (const auto& [seq, c] : under_way_)
    if (c.touches(path)) return false;
  return true;
}

InodeTable::Epoch InodeTable::epoch_locked(const std::string& path) const {
  return Epoch{changes_, quiet_locked(path)};
}

void InodeTable::wait_quiet(const std::string& path, int timeout_ms) const {
  std::unique_lock lk(mu_);
  ended_.wait_for(lk, std::chrono::milliseconds(timeout_ms), [&] { return quiet_locked(path); });
}

std::optional<std::pair<std::string, InodeTable::Epoch>> InodeTable::replaced_name_and_epoch(
    uint64_t ino) const {
  std::lock_guard lk(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end() || !it->second.detached || it->second.replaced_at.empty())
    return std::nullopt;
  return std::pair{it->second.replaced_at, epoch_locked(it->second.replaced_at)};
}

InodeTable::Epoch InodeTable::epoch(const std::string& path) const {
  std::lock_guard lk(mu_);
  return epoch_locked(path);
}

std::optional<std::pair<std::string, InodeTable::Epoch>> InodeTable::path_and_epoch(
    uint64_t ino) const {
  std::lock_guard lk(mu_);
  auto p = path_locked(ino);
  if (!p) return std::nullopt;
  Epoch e = epoch_locked(*p);
  return std::pair{std::move(*p), e};
}

std::optional<std::pair<std::string, InodeTable::Epoch>> InodeTable::child_path_and_epoch(
    uint64_t parent, std::string_view name) const {
  std::lock_guard lk(mu_);
  auto p = path_locked(parent);
  if (!p) return std::nullopt;
  std::string child = join_wire_path(*p, name);
  Epoch e = epoch_locked(child);
  return std::pair{std::move(child), e};
}

bool InodeTable::unchanged_locked(const Epoch& e, const std::string& path) const {
  if (!e.quiet || !quiet_locked(path)) return false;
  if (changes_ == e.changes) return true;
  if (recent_.empty() || recent_.front().seq > e.changes + 1) return false;  // forgotten
  for (auto it = recent_.rbegin(); it != recent_.rend() && it->seq > e.changes; ++it)
    if (it->touches(path)) return false;
  return true;
}

bool InodeTable::unchanged_since(const Epoch& e, const std::string& path) const {
  std::lock_guard lk(mu_);
  return unchanged_locked(e, path);
}

std::optional<uint64_t> InodeTable::remember_if_unchanged(const std::string& path, bool dir,
                                                          const Epoch& e) {
  std::lock_guard lk(mu_);
  if (!unchanged_locked(e, path)) return std::nullopt;
  return remember_locked(path, dir);
}

InodeTable::NameChange::NameChange(InodeTable& t, std::string a, std::string b) : table_(t) {
  std::lock_guard lk(table_.mu_);
  seq_ = ++table_.changes_;
  Change c{seq_, std::move(a), std::move(b)};
  table_.recent_.push_back(c);
  if (table_.recent_.size() > kRecentChanges) table_.recent_.pop_front();
  table_.under_way_.emplace(seq_, std::move(c));
}

InodeTable::NameChange::~NameChange() {
  {
    std::lock_guard lk(table_.mu_);
    table_.under_way_.erase(seq_);
  }
  table_.ended_.notify_all();
}

size_t InodeTable::size() const {
  std::lock_guard lk(mu_);
  return nodes_.size();
}

}  // namespace ringbox::guest::fs
