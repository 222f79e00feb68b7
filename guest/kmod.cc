#include "guest/kmod.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shared/util/log.h"
#include "shared/util/unique_fd.h"

namespace ringbox::guest {
namespace {

// xen-gntalloc's `limit` default: pages the whole guest may have granted through it at once.
constexpr size_t kGntallocDefaultLimit = 1024;

bool exists(const std::string& path) {
  struct stat st {};
  return !path.empty() && ::stat(path.c_str(), &st) == 0;
}

}  // namespace

Result<ModuleOutcome> load_module(std::string_view dir, const KernelModule& m) {
  if (exists(m.device)) return ModuleOutcome::kAlreadyPresent;
  const std::string path = std::string(dir) + "/" + m.name + ".ko";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    int err = errno;
    return sys_error(err, "open kernel module " + path + " (" +
                              (m.device.empty() ? "" : "needed for " + m.device + "; ") +
                              "the guest image must carry it: rebuild it with "
                              "kernel-image/build-guest-image, or pass --module-dir)");
  }
  // No glibc wrapper for finit_module in Debian 12's headers: the raw system call. Loading from
  // a descriptor (not a buffer) lets the kernel check the file it reads.
  if (::syscall(SYS_finit_module, fd.get(), m.params.c_str(), 0) != 0) {
    if (errno == EEXIST) return ModuleOutcome::kAlreadyPresent;
    return sys_error("load kernel module " + path +
                     (m.params.empty() ? "" : " with parameters '" + m.params + "'") +
                     " (the agent must run as root, and the module must match the running "
                     "kernel `uname -r`)");
  }
  return ModuleOutcome::kLoaded;
}

std::vector<KernelModule> xen_frontend_modules(size_t gntalloc_pages) {
  std::string gntalloc_params;
  if (gntalloc_pages > kGntallocDefaultLimit)
    gntalloc_params = "limit=" + std::to_string(gntalloc_pages);
  return {
      {"xen-evtchn", "/dev/xen/evtchn", ""},
      {"xen-gntalloc", "/dev/xen/gntalloc", gntalloc_params},
      // Not needed by the frontend itself (it only grants); loaded so that anything in the
      // guest mapping pages dom0 grants (the reverse direction) finds the device.
      {"xen-gntdev", "/dev/xen/gntdev", ""},
  };
}

Result<void> load_modules(std::string_view dir, const std::vector<KernelModule>& modules) {
  for (const KernelModule& m : modules) {
    auto r = load_module(dir, m);
    if (!r) return std::move(r.error());
    if (*r == ModuleOutcome::kLoaded)
      log::info("loaded kernel module " + m.name + (m.params.empty() ? "" : " " + m.params));
  }
  return ok();
}

}  // namespace ringbox::guest
