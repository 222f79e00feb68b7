#include "guest/fs/inode_table.h"

#include <vector>

namespace ringbox::guest::fs {

std::string join_wire_path(std::string_view parent, std::string_view name) {
  if (parent == ".") return std::string(name);
  std::string p(parent);
  p += '/';
  p += name;
  return p;
}

bool wire_path_covers(std::string_view prefix, std::string_view path) {
  if (prefix == ".") return true;
  if (path.size() < prefix.size() || path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

std::string wire_parent(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  return std::string(path.substr(0, slash));
}

InodeTable::InodeTable() {
  nodes_[kRootIno] = Node{".", 1, false};
  by_path_["."] = kRootIno;
}

std::optional<std::string> InodeTable::path(uint64_t ino) const {
  std::lock_guard lk(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end() || it->second.detached) return std::nullopt;
  return it->second.path;
}

std::optional<std::string> InodeTable::child_path(uint64_t parent, std::string_view name) const {
  auto p = path(parent);
  if (!p) return std::nullopt;
  return join_wire_path(*p, name);
}

uint64_t InodeTable::remember(const std::string& path) {
  std::lock_guard lk(mu_);
  auto it = by_path_.find(path);
  if (it != by_path_.end()) {
    ++nodes_[it->second].nlookup;
    return it->second;
  }
  uint64_t ino = next_ino_++;
  nodes_[ino] = Node{path, 1, false};
  by_path_[path] = ino;
  return ino;
}

void InodeTable::forget(uint64_t ino, uint64_t nlookup) {
  if (ino == kRootIno) return;
  std::lock_guard lk(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return;
  Node& n = it->second;
  n.nlookup = nlookup >= n.nlookup ? 0 : n.nlookup - nlookup;
  if (n.nlookup > 0) return;
  if (!n.detached) by_path_.erase(n.path);
  nodes_.erase(it);
}

void InodeTable::detach_locked(const std::string& path, bool with_children) {
  std::vector<std::string> gone;
  for (auto& [p, ino] : by_path_) {
    if (p == path || (with_children && wire_path_covers(path, p))) gone.push_back(p);
  }
  for (const auto& p : gone) {
    auto it = by_path_.find(p);
    if (it->second == kRootIno) continue;  // the root is never detached
    nodes_[it->second].detached = true;
    by_path_.erase(it);
  }
}

void InodeTable::renamed(const std::string& from, const std::string& to) {
  if (from == to) return;
  std::lock_guard lk(mu_);
  detach_locked(to, true);
  std::vector<std::pair<std::string, uint64_t>> moved;
  for (auto& [p, ino] : by_path_) {
    if (wire_path_covers(from, p)) moved.emplace_back(p, ino);
  }
  for (auto& [p, ino] : moved) {
    by_path_.erase(p);
    std::string np = to + p.substr(from.size());
    nodes_[ino].path = np;
    by_path_[np] = ino;
  }
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
