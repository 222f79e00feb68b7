#include "guest/fs/local_nodes.h"

#include <ctime>

#include "guest/fs/inode_table.h"

namespace ringbox::guest::fs {
namespace {
struct timespec now() {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return t;
}
}  // namespace

bool LocalNodes::add(const std::string& path, mode_t mode, uint64_t ino) {
  auto n = std::make_shared<LocalNode>();
  n->mode = mode;
  n->ino = ino;
  n->atime = n->mtime = n->ctime = now();
  std::lock_guard lk(mu_);
  return nodes_.emplace(path, std::move(n)).second;
}

std::shared_ptr<LocalNode> LocalNodes::find(const std::string& path) const {
  std::lock_guard lk(mu_);
  auto it = nodes_.find(path);
  return it == nodes_.end() ? nullptr : it->second;
}

bool LocalNodes::erase(const std::string& path) {
  std::lock_guard lk(mu_);
  auto it = nodes_.find(path);
  if (it == nodes_.end()) return false;
  if (it->second->nlink > 0) --it->second->nlink;
  it->second->ctime = now();
  nodes_.erase(it);
  return true;
}

bool LocalNodes::link(const std::string& from, const std::string& to) {
  std::lock_guard lk(mu_);
  auto it = nodes_.find(from);
  if (it == nodes_.end() || nodes_.count(to)) return false;
  ++it->second->nlink;
  it->second->ctime = now();
  nodes_[to] = it->second;
  return true;
}

void LocalNodes::rename(const std::string& from, const std::string& to) {
  if (from == to) return;
  std::lock_guard lk(mu_);
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    if (wire_path_covers(to, it->first) && !wire_path_covers(from, it->first)) {
      if (it->second->nlink > 0) --it->second->nlink;
      it = nodes_.erase(it);
    } else {
      ++it;
    }
  }
  std::vector<std::pair<std::string, std::shared_ptr<LocalNode>>> moved;
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    if (wire_path_covers(from, it->first)) {
      moved.emplace_back(to + it->first.substr(from.size()), it->second);
      it = nodes_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [p, n] : moved) {
    if (p == to) n->ctime = now();
    nodes_[p] = std::move(n);
  }
}

void LocalNodes::exchange(const std::string& a, const std::string& b) {
  if (a == b) return;
  std::lock_guard lk(mu_);
  std::vector<std::pair<std::string, std::shared_ptr<LocalNode>>> moved;
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    if (wire_path_covers(a, it->first)) {
      moved.emplace_back(b + it->first.substr(a.size()), it->second);
      it = nodes_.erase(it);
    } else if (wire_path_covers(b, it->first)) {
      moved.emplace_back(a + it->first.substr(b.size()), it->second);
      it = nodes_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [p, n] : moved) nodes_[p] = std::move(n);
}

std::vector<std::pair<std::string, mode_t>> LocalNodes::children(const std::string& dir) const {
  std::lock_guard lk(mu_);
  std::vector<std::pair<std::string, mode_t>> out;
  for (const auto& [p, n] : nodes_) {
    if (p == dir || wire_parent(p) != dir) continue;
    out.emplace_back(p.substr(dir == "." ? 0 : dir.size() + 1), n->mode);
  }
  return out;
}

bool LocalNodes::any_beneath(const std::string& dir) const {
  std::lock_guard lk(mu_);
  for (const auto& [p, n] : nodes_)
    if (p != dir && wire_path_covers(dir, p)) return true;
  return false;
}

size_t LocalNodes::longest_beneath(const std::string& dir) const {
  std::lock_guard lk(mu_);
  size_t longest = 0;
  for (const auto& [p, n] : nodes_)
    if (p != dir && wire_path_covers(dir, p) && p.size() > longest) longest = p.size();
  return longest;
}

}  // namespace ringbox::guest::fs
