#include "host/submitd/confined_dir.h"

#include <fcntl.h>
#include <linux/openat2.h>  // RESOLVE_*
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "shared/util/beneath.h"

namespace ringbox::submitd {
namespace {

constexpr uint64_t kResolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;

// openat2 says EXDEV when a walk would leave the root (".." above it, an absolute or escaping
// symlink) and ELOOP for a magic link: to the client both mean "not yours" (-2), not a
// cross-device rename.
Error confinement_error(std::string what) {
  int err = errno;
  if (err == EXDEV) err = EACCES;
  return sys_error(err, std::move(what));
}

}  // namespace

std::string proc_fd_path(int fd) {
  return "/proc/self/fd/" + std::to_string(fd);
}

Result<ConfinedDir> ConfinedDir::open(const std::string& dir) {
  auto root = open_beneath_root(dir, kResolve);
  if (!root) return std::move(root.error());
  return ConfinedDir(dir, std::move(*root));
}

std::string ConfinedDir::relative(std::string_view p) {
  std::string out;
  size_t pos = 0;
  while (pos <= p.size()) {
    size_t end = p.find('/', pos);
    if (end == std::string_view::npos) end = p.size();
    std::string_view comp = p.substr(pos, end - pos);
    if (!comp.empty() && comp != ".") {
      if (!out.empty()) out.push_back('/');
      out.append(comp);
    }
    pos = end + 1;
  }
  return out.empty() ? "." : out;
}

Result<UniqueFd> ConfinedDir::open_at(std::string_view chirp_path, int flags, int mode,
                                      bool follow_last) const {
  std::string rel = relative(chirp_path);
  if (!follow_last) flags |= O_NOFOLLOW;
  long fd = openat2_beneath(root_.get(), rel.c_str(), static_cast<uint64_t>(flags),
                            static_cast<uint64_t>(mode), kResolve);
  if (fd < 0) return confinement_error("open '" + rel + "' beneath " + dir_);
  return UniqueFd(static_cast<int>(fd));
}

Result<Parent> ConfinedDir::parent(std::string_view chirp_path) const {
  std::string rel = relative(chirp_path);
  size_t slash = rel.rfind('/');
  std::string dir = slash == std::string::npos ? "." : rel.substr(0, slash);
  std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
  if (name == "." || name == ".." || name.empty())
    return Error{Errc::kInvalidArgument, EINVAL, "'" + rel + "' names no entry of a directory"};
  long fd = openat2_beneath(root_.get(), dir.c_str(), O_PATH | O_DIRECTORY, 0, kResolve);
  if (fd < 0) return confinement_error("open directory '" + dir + "' beneath " + dir_);
  return Parent{UniqueFd(static_cast<int>(fd)), name};
}

}  // namespace ringbox::submitd
