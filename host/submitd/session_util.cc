#include "host/submitd/session_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <vector>

namespace ringbox::submitd::detail {

std::optional<int64_t> num(const std::string& s, int64_t lo, int64_t hi) {
  auto v = chirp::parse_int(s, lo, hi);
  if (!v) return std::nullopt;
  return *v;
}

chirp::StatLine to_line(const struct stat& st) {
  return chirp::StatLine{static_cast<int64_t>(st.st_dev),     static_cast<int64_t>(st.st_ino),
                         static_cast<int64_t>(st.st_mode),    static_cast<int64_t>(st.st_nlink),
                         static_cast<int64_t>(st.st_uid),     static_cast<int64_t>(st.st_gid),
                         static_cast<int64_t>(st.st_rdev),    static_cast<int64_t>(st.st_size),
                         static_cast<int64_t>(st.st_blksize), static_cast<int64_t>(st.st_blocks),
                         static_cast<int64_t>(st.st_atime),   static_cast<int64_t>(st.st_mtime),
                         static_cast<int64_t>(st.st_ctime)};
}

std::string statfs_line(const struct statfs& sf) {
  return chirp::encode_statfs_line(
      chirp::StatfsLine{static_cast<int64_t>(sf.f_type), static_cast<int64_t>(sf.f_bsize),
                        static_cast<int64_t>(sf.f_blocks), static_cast<int64_t>(sf.f_bfree),
                        static_cast<int64_t>(sf.f_bavail), static_cast<int64_t>(sf.f_files),
                        static_cast<int64_t>(sf.f_ffree)});
}

int err_of(const Error& e) {
  return e.sys_errno ? e.sys_errno : EINVAL;
}

// Deletes name in dirfd and everything beneath it without following symlinks. Returns 0 or an
// errno.
int remove_tree(int dirfd, const std::string& name, int depth_left) {
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return errno;
  if (!S_ISDIR(st.st_mode)) return ::unlinkat(dirfd, name.c_str(), 0) == 0 ? 0 : errno;
  if (depth_left <= 0) return ELOOP;
  int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(fd), ::closedir);
  if (!d) {
    int e = errno;
    ::close(fd);
    return e;
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d.get())) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  for (const auto& n : names) {
    int e = remove_tree(::dirfd(d.get()), n, depth_left - 1);
    if (e != 0 && e != ENOENT) return e;
  }
  return ::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) == 0 ? 0 : errno;
}

}  // namespace ringbox::submitd::detail
