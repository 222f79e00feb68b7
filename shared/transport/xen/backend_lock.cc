#include "shared/transport/xen/backend_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cerrno>
#include <string>

namespace ringbox::transport {

Result<UniqueFd> lock_backend(uint32_t domid, const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return sys_error("create the backend lock directory " + dir);
  const std::string path = dir + "/backend-" + std::to_string(domid) + ".lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return sys_error("open the backend lock " + path);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return sys_error("lock " + path);
    char buf[32] = {};
    ssize_t n = ::pread(fd.get(), buf, sizeof(buf) - 1, 0);
    std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "unknown";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    return make_error(Errc::kInvalidArgument, "domain " + std::to_string(domid) +
                                                  " is already served by ringbox-host pid " +
                                                  holder + " (lock " + path +
                                                  "); one backend per domain: stop that one first");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) != 0 || ::pwrite(fd.get(), pid.data(), pid.size(), 0) < 0)
    return sys_error("record our pid in " + path);
  return fd;
}

}  // namespace ringbox::transport
