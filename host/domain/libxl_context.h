// LibxlContext: the one owner of a libxl_ctx (the Xen toolstack library, libxenlight), with a
// xentoollog logger that routes libxl's messages into ringbox's log.
//
// Who calls it: XenDomain (one context per domain it creates) and the domain reaper process.
// libxl serialises calls on one context with its own lock, so a context may be used from
// several threads; only one thread at a time may wait for events on it (wait_for_exit).
//
// SIGCHLD: libxl is put in "selective reap" mode: it keeps a SIGCHLD handler and reaps only the
// children it forked itself. The rest of ringbox-host may run and waitpid() its own children,
// but must not install a SIGCHLD handler of its own (libxl asserts that it found the default).
#pragma once

extern "C" {
#include <libxl.h>
}

#include <memory>
#include <string>
#include <utility>

#include "shared/util/log.h"
#include "shared/util/result.h"

namespace ringbox::host::domain {

// A xentoollog logger whose messages go to ringbox::log. libxl calls through the vtable, which
// must therefore be the first member (libxl casts the logger pointer back to this struct).
struct RoutedXtlLogger {
  xentoollog_logger vtable;
  xentoollog_level min_level;
};

// Messages below min_level are dropped before formatting. libxl's DEBUG is one line per
// xenstore access; WARN and up are what an operator needs.
std::unique_ptr<RoutedXtlLogger> make_routed_logger(xentoollog_level min_level);

// The xentoollog level that matches ringbox's own log level (debug: everything libxl says).
xentoollog_level xtl_level_for(log::Level level);

// "libxl rc -3 (fail)" for a libxl return code.
std::string libxl_rc_name(int rc);

class LibxlContext {
 public:
  LibxlContext() = default;
  // Connects to the hypervisor and xenstored. Fails with a hint naming the missing piece (not
  // dom0, xenfs not mounted, xen-privcmd not loaded, not root, xenstored not running).
  static Result<LibxlContext> open(xentoollog_level min_level = XTL_WARN);
  LibxlContext(const LibxlContext&) = delete;
  LibxlContext& operator=(const LibxlContext&) = delete;
  LibxlContext(LibxlContext&& o) noexcept
      : logger_(std::move(o.logger_)), ctx_(std::exchange(o.ctx_, nullptr)) {}
  LibxlContext& operator=(LibxlContext&& o) noexcept {
    if (this != &o) {
      reset();
      logger_ = std::move(o.logger_);
      ctx_ = std::exchange(o.ctx_, nullptr);
    }
    return *this;
  }
  ~LibxlContext() { reset(); }

  libxl_ctx* get() const { return ctx_; }
  explicit operator bool() const { return ctx_ != nullptr; }
  void reset() {
    // libxl logs while it tears down: free the context before its logger.
    if (ctx_ != nullptr) libxl_ctx_free(ctx_);
    ctx_ = nullptr;
    logger_.reset();
  }

 private:
  LibxlContext(std::unique_ptr<RoutedXtlLogger> logger, libxl_ctx* ctx)
      : logger_(std::move(logger)), ctx_(ctx) {}
  // Declared first: it must outlive the context that logs into it.
  std::unique_ptr<RoutedXtlLogger> logger_;
  libxl_ctx* ctx_ = nullptr;
};

}  // namespace ringbox::host::domain
