#include "guest/fs/inode_table.h"

#include <cerrno>
#include <vector>

namespace ringbox::guest::fs {

InodeTable::InodeTable() {
  nodes_[kRootIno] = Node{{"."}, 1, true, false, {}};
  by_path_["."] = kRootIno;
}

std::optional<std::string> InodeTable::path(uint64_t ino) const {
  std::lock_guard lk(mu_);
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

size_t InodeTable::size() const {
  std::lock_guard lk(mu_);
  return nodes_.size();
}

}  // namespace ringbox::guest::fs
