#include "host/domain/libxl_context.h"

#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ringbox::host::domain {
namespace {

// One log line at most this long; libxl's debug output can dump whole JSON configs.
constexpr size_t kMaxLogLineBytes = 2048;

RoutedXtlLogger* self(xentoollog_logger* l) {
  return reinterpret_cast<RoutedXtlLogger*>(l);
}

log::Level ringbox_level(xentoollog_level l) {
  if (l >= XTL_ERROR) return log::Level::kError;
  if (l >= XTL_WARN) return log::Level::kWarn;
  // libxl's INFO and NOTICE are toolstack chatter ("qemu-xen is unavailable" and the like).
  return log::Level::kDebug;
}

void routed_vmessage(xentoollog_logger* logger, xentoollog_level level, int errnoval,
                     const char* context, const char* format, va_list al) {
  if (level < self(logger)->min_level) return;
  char text[kMaxLogLineBytes];
  std::vsnprintf(text, sizeof text, format, al);
  std::string line = context != nullptr ? std::string(context) + ": " : std::string("libxl: ");
  line += text;
  if (errnoval >= 0) {
    line += ": ";
    line += std::strerror(errnoval);
  }
  log::write(ringbox_level(level), line);
}

void routed_progress(xentoollog_logger*, const char*, const char*, int, unsigned long,
                     unsigned long) {
  // Progress reports (save/restore percentages) have no place in a one-line-per-event log.
}

void routed_destroy(xentoollog_logger*) {
  // The logger belongs to its LibxlContext (a unique_ptr), never to libxl.
}

std::string read_small_file(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Why libxl_ctx_alloc most likely failed, checked in the order a dom0 comes up.
std::string ctx_alloc_hint() {
  if (::access("/proc/xen/capabilities", F_OK) != 0)
    return "this is not a Xen domain, or xenfs is not mounted (mount -t xenfs xenfs /proc/xen)";
  if (read_small_file("/proc/xen/capabilities").find("control_d") == std::string::npos)
    return "this is a Xen guest, not dom0; ringbox domains are created from dom0";
  if (::geteuid() != 0) return "creating domains needs root; run ringbox-host as root";
  if (::access("/dev/xen/privcmd", F_OK) != 0)
    return "/dev/xen/privcmd is missing; load the xen-privcmd module";
  return "is xenstored running (xenstored --pid-file ...; see the libxl messages above)?";
}

}  // namespace

std::unique_ptr<RoutedXtlLogger> make_routed_logger(xentoollog_level min_level) {
  auto l = std::make_unique<RoutedXtlLogger>();
  l->vtable.vmessage = routed_vmessage;
  l->vtable.progress = routed_progress;
  l->vtable.destroy = routed_destroy;
  l->min_level = min_level;
  return l;
}

xentoollog_level xtl_level_for(log::Level level) {
  switch (level) {
    case log::Level::kDebug:
      return XTL_DEBUG;
    case log::Level::kInfo:
      return XTL_WARN;
    case log::Level::kWarn:
      return XTL_WARN;
    case log::Level::kError:
      return XTL_ERROR;
  }
  return XTL_WARN;
}

std::string libxl_rc_name(int rc) {
  const char* name = libxl_error_to_string(static_cast<libxl_error>(rc));
  return "libxl rc " + std::to_string(rc) + " (" + (name != nullptr ? name : "unknown") + ")";
}

Result<LibxlContext> LibxlContext::open(xentoollog_level min_level) {
  auto logger = make_routed_logger(min_level);
  libxl_ctx* ctx = nullptr;
  int rc = libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, &logger->vtable);
  if (rc != 0 || ctx == nullptr)
    return make_error(Errc::kSystem,
                      "libxl_ctx_alloc failed (" + libxl_rc_name(rc) + "): " + ctx_alloc_hint());
  LibxlContext owned(std::move(logger), ctx);
  // Before anything can fork: libxl keeps its SIGCHLD handler and reaps only its own
  // children, so the domain reaper and any helper ringbox-host runs are left alone.
  static const libxl_childproc_hooks hooks = {libxl_sigchld_owner_libxl_always_selective_reap,
                                              nullptr, nullptr};
  libxl_childproc_setmode(ctx, &hooks, nullptr);
  return owned;
}

}  // namespace ringbox::host::domain
