#include "shared/util/beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>  // struct open_how; glibc 2.36 has no openat2() wrapper
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "shared/util/file_io.h"

namespace ringbox {
namespace {

constexpr int kMaxEagainRetries = 64;

}  // namespace

long openat2_beneath(int dirfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = resolve;
  int eagain = 0;
  long fd;
  for (;;) {
    fd = retry_eintr([&] { return ::syscall(SYS_openat2, dirfd, path, &how, sizeof(how)); });
    if (fd >= 0) return fd;
    if (errno == EAGAIN && ++eagain <= kMaxEagainRetries) continue;
    return fd;
  }
}

Result<UniqueFd> open_beneath_root(const std::string& dir, uint64_t resolve) {
  UniqueFd root(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root)
    return sys_error(errno, "open export directory '" + dir +
                                "' (it must exist and be a directory this process can reach)");
  long probe = openat2_beneath(root.get(), ".", O_PATH, 0, resolve);
  if (probe < 0) {
    int err = errno;
    if (err == ENOSYS || err == E2BIG)
      return sys_error(
          err, "this kernel cannot confine lookups with openat2(RESOLVE_BENEATH) beneath '" + dir +
                   "' (Linux 5.6 or newer is needed); run on a newer kernel");
    return sys_error(err, "probe openat2(RESOLVE_BENEATH) on export directory '" + dir + "'");
  }
  ::close(static_cast<int>(probe));
  return root;
}

}  // namespace ringbox
