#include "host/files/export_root.h"

#include <fcntl.h>
#include <linux/openat2.h>  // RESOLVE_*
#include <unistd.h>

#include <array>
#include <deque>

#include "shared/path/wire_path.h"
#include "shared/protocol/codec.h"
#include "shared/util/beneath.h"
#include "shared/util/file_io.h"
#include "shared/util/log.h"

namespace ringbox::host::files {
namespace {

// BENEATH: no absolute paths, no "..". NO_SYMLINKS: no symlink anywhere in the walk, which
// also rules out procfs magic links (NO_MAGICLINKS is implied; spelled out for the reader).
constexpr uint64_t kResolveFlags = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

Error path_error(int err, std::string_view path, const char* what) {
  return sys_error(err, std::string(what) + " '" + printable(path) + "' in the export");
}

}  // namespace

std::string ResolvedParent::path() const {
  return proto::join_wire_path(dir_path, name);
}

Result<ExportRoot> ExportRoot::open(const std::string& dir) {
  auto root = open_beneath_root(dir, kResolveFlags);
  if (!root) return std::move(root.error());
  UniqueFd proc(::open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!proc)
    return sys_error(
        "open /proc/self/fd (ringbox reopens checked files through it; mount "
        "procfs at /proc)");
  ExportRoot r(dir, std::move(*root), std::move(proc));
  // Proves the reopen path works before the first guest request depends on it.
  auto again = r.reopen(r.root_.get(), O_RDONLY | O_DIRECTORY);
  if (!again)
    return sys_error(again.error().sys_errno,
                     "reopen export directory '" + dir + "' through /proc/self/fd");
  return r;
}

Result<UniqueFd> ExportRoot::open_beneath(const std::string& path, uint64_t flags) const {
  long fd = openat2_beneath(root_.get(), path.c_str(), flags, 0, kResolveFlags);
  if (fd < 0) return path_error(errno, path, "look up");
  return UniqueFd(static_cast<int>(fd));
}

Result<Resolved> ExportRoot::open_exact(std::string path) const {
  // O_PATH|O_NOFOLLOW: with NO_SYMLINKS a final symlink yields an fd of the link itself
  // (intermediate ones are ELOOP), and nothing is opened for I/O yet.
  auto fd = open_beneath(path, O_PATH | O_NOFOLLOW);
  if (!fd) return std::move(fd.error());
  Resolved r;
  if (::fstat(fd->get(), &r.st) != 0) return path_error(errno, path, "stat");
  r.path = std::move(path);
  r.fd = std::move(*fd);
  return r;
}

Result<Resolved> ExportRoot::resolve(std::string_view path, Follow follow) const {
  // Fast path: one openat2 when no component is a symlink (the common case).
  auto r = open_exact(std::string(path));
  if (r) {
    if (follow == Follow::kNo || !S_ISLNK(r->st.st_mode)) return r;
  } else if (r.error().sys_errno != ELOOP) {
    return r;
  }
  auto canonical = expand_symlinks(path, follow);
  if (!canonical) return std::move(canonical.error());
  auto again = open_exact(std::move(*canonical));
  // The expansion saw no link on this path; a link now means the tree changed under us (a
  // directory swapped for a symlink). Refuse rather than chase it.
  if (!again && again.error().sys_errno == ELOOP)
    return path_error(ELOOP, path, "path changed while resolving");
  if (again && follow == Follow::kYes && S_ISLNK(again->st.st_mode))
    return path_error(ELOOP, path, "path changed while resolving");
  return again;
}

std::optional<std::string> ExportRoot::not_directory_on_way(std::string_view path,
                                                            Follow follow) const {
  std::string not_dir;
  auto r = expand_symlinks(path, follow, &not_dir);
  if (r || r.error().sys_errno != ENOTDIR || not_dir.empty()) return std::nullopt;
  return not_dir;
}

Result<std::string> ExportRoot::expand_symlinks(std::string_view path, Follow follow,
                                                std::string* not_dir) const {
  // `resolved` is the symlink-free prefix walked so far; `cuts` remembers where each of its
  // components starts, so ".." and a link's replacement can drop the last one.
  std::string resolved;
  std::vector<size_t> cuts;
  auto push = [&](std::string_view c) {
    cuts.push_back(resolved.size());
    if (!resolved.empty()) resolved += '/';
    resolved += c;
  };
  auto pop = [&] {
    resolved.resize(cuts.back());
    cuts.pop_back();
  };
  std::deque<std::string> todo;
  for (auto& c : proto::wire_path_components(path)) todo.push_back(std::move(c));
  int hops = 0;
  for (int steps = 0; !todo.empty(); ++steps) {
    if (steps >= kMaxResolveSteps)
      return path_error(ELOOP, path, "too many components while resolving symlinks of");
    std::string c = std::move(todo.front());
    todo.pop_front();
    if (c.empty() || c == ".") continue;  // only link text has these
    if (c == "..") {
      // `resolved` has no symlinks, so its lexical parent is its real parent.
      if (cuts.empty()) return path_error(EXDEV, path, "a symlink leads out of the export from");
      pop();
      continue;
    }
    if (c.size() > proto::kMaxNameBytes) return path_error(ENAMETOOLONG, path, "resolve");
    const bool last = todo.empty();
    push(c);
    if (resolved.size() > proto::kMaxPathBytes) return path_error(ENAMETOOLONG, path, "resolve");
    if (last && follow == Follow::kNo) break;
    auto fd = open_beneath(resolved, O_PATH | O_NOFOLLOW);
    if (!fd) {
      // A missing final component is the caller's business (it reports ENOENT itself).
      if (fd.error().sys_errno == ENOENT && last) break;
      return std::move(fd.error());
    }
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) return path_error(errno, resolved, "stat");
    if (!S_ISLNK(st.st_mode)) {
      if (!last && !S_ISDIR(st.st_mode)) {
        if (not_dir) *not_dir = resolved;
        return path_error(ENOTDIR, resolved, "walk through");
      }
      continue;
    }
    if (++hops > kMaxSymlinkHops) return path_error(ELOOP, path, "too many symlinks in");
    std::array<char, proto::kMaxPathBytes + 1> text{};
    ssize_t n = ::readlinkat(fd->get(), "", text.data(), text.size());
    if (n < 0) return path_error(errno, resolved, "read symlink");
    if (n == 0) return path_error(ENOENT, resolved, "empty symlink");
    if (static_cast<size_t>(n) >= text.size())
      return path_error(ENAMETOOLONG, resolved, "symlink text too long at");
    std::string_view target(text.data(), static_cast<size_t>(n));
    if (target.front() == '/')
      return path_error(EXDEV, resolved, "absolute symlink leaves the export at");
    pop();  // the link is replaced by its target, read relative to the link's directory
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= target.size()) {
      size_t slash = target.find('/', start);
      if (slash == std::string_view::npos) slash = target.size();
      parts.emplace_back(target.substr(start, slash - start));
      start = slash + 1;
    }
    todo.insert(todo.begin(), parts.begin(), parts.end());
  }
  return resolved.empty() ? std::string(".") : resolved;
}

Result<ResolvedParent> ExportRoot::resolve_parent(std::string_view path) const {
  if (path == ".") return path_error(EINVAL, path, "the export root has no parent:");
  proto::ParentAndName pn = proto::split_wire_path(path);
  auto d = resolve(pn.parent, Follow::kYes);
  if (!d) return std::move(d.error());
  if (!S_ISDIR(d->st.st_mode)) return path_error(ENOTDIR, d->path, "not a directory:");
  return ResolvedParent{std::move(d->path), std::move(d->fd), std::move(pn.name)};
}

Result<ResolvedParent> ExportRoot::find_parent(std::string_view path) const {
  if (path == ".") return path_error(EINVAL, path, "the export root has no parent:");
  proto::ParentAndName pn = proto::split_wire_path(path);
  auto d = open_exact(pn.parent);
  if (!d) return std::move(d.error());
  // The caller promised a symlink-free path: a link here appeared since; refuse, never follow.
  if (S_ISLNK(d->st.st_mode)) return path_error(ELOOP, d->path, "a symlink appeared at");
  if (!S_ISDIR(d->st.st_mode)) return path_error(ENOTDIR, d->path, "not a directory:");
  return ResolvedParent{std::move(d->path), std::move(d->fd), std::move(pn.name)};
}

Result<UniqueFd> ExportRoot::open_for_io(const Resolved& r, int flags) const {
  if (!S_ISREG(r.st.st_mode) && !S_ISDIR(r.st.st_mode))
    return path_error(EACCES, r.path, "refuse to open (not a regular file or directory)");
  auto fd = reopen(r.fd.get(), flags);
  if (!fd) return path_error(fd.error().sys_errno, r.path, "open");
  return fd;
}

Result<UniqueFd> ExportRoot::reopen(int fd, int flags) const {
  // The magic link itself must be followed, and nothing may be created through it.
  flags &= ~(O_NOFOLLOW | O_CREAT | O_EXCL);
  std::string name = std::to_string(fd);
  int nfd = retry_eintr(
      [&] { return ::openat(proc_fd_.get(), name.c_str(), flags | O_CLOEXEC | O_NOCTTY); });
  if (nfd < 0) return sys_error("reopen fd " + name + " through /proc/self/fd");
  return UniqueFd(nfd);
}

Result<void> ExportRoot::chmod_fd(int fd, mode_t mode) const {
  if (::fchmodat(proc_fd_.get(), std::to_string(fd).c_str(), mode, 0) != 0)
    return sys_error("change the mode of fd " + std::to_string(fd) + " through /proc/self/fd");
  return ok();
}

Result<void> ExportRoot::link_anonymous(int file_fd, int dir_fd, const std::string& name) const {
  if (::linkat(proc_fd_.get(), std::to_string(file_fd).c_str(), dir_fd, name.c_str(),
               AT_SYMLINK_FOLLOW) != 0)
    return sys_error("link temporary file as '" + printable(name) + "'");
  return ok();
}

}  // namespace ringbox::host::files
