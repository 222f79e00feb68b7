// XenDomain: one ringbox guest domain, created through libxl and owned by this process.
//
// create() builds a PV domain (direct kernel boot: the uncompressed guest vmlinux, the guest
// initramfs, "console=hvc0 ... ringbox.args=<agent arguments>"), with no NIC and no disk,
// proves the latter against xenstore (device_check.h), and unpauses it. The domain is owned:
// the destructor destroys it unless release() handed it over, and a reaper process (reaper.h)
// destroys it if this process dies without doing either, even by SIGKILL.
//
// Ownership (docs/domain-lifecycle.md): the process that created a domain owns it and is the
// only one that destroys it in normal operation. A process that merely serves it
// (`ringbox-host serve --transport xen --domid N`) attaches and never owns, so killing and
// restarting the server leaves the domain running.
//
// Threads: destroy(), release() and wait_for_exit() may be called from any thread (destroy()
// is how a signal-watching thread kills a guest that another thread serves). Moving the object
// is for its owner alone, while no other thread uses it.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "host/domain/domain_config.h"
#include "host/domain/domain_exit.h"
#include "host/domain/libxl_context.h"
#include "host/domain/reaper.h"
#include "shared/util/result.h"

namespace ringbox::host::domain {

inline constexpr uint32_t kNoDomid = ~0u;

struct CreateOptions {
  // The ringbox-host binary the reaper runs (it must route the reaper command).
  std::string reaper_exe = kSelfExe;
};

class XenDomain {
 public:
  XenDomain() = default;
  static Result<XenDomain> create(const DomainConfig& cfg, const CreateOptions& opts = {});
  // As create(), but the domain's memory and vCPU state come from a libxl save stream read from
  // restore_fd (XenDomain::save wrote it; cfg must give the same memory). The domain gets a NEW
  // UUID, so the reaper of the run that saved it can never mistake the restored copy for its own
  // (docs/vacate.md). Unpaused once proven device-free, like create().
  static Result<XenDomain> restore(const DomainConfig& cfg, int restore_fd,
                                   const CreateOptions& opts = {});
  XenDomain(const XenDomain&) = delete;
  XenDomain& operator=(const XenDomain&) = delete;
  XenDomain(XenDomain&& o) noexcept;
  XenDomain& operator=(XenDomain&& o) noexcept;
  // Destroys the domain if this object still owns it; errors are logged (never thrown).
  ~XenDomain();

  // True while this object owns a domain (created, not destroyed, not released).
  explicit operator bool() const;
  uint32_t domid() const { return domid_; }
  const std::string& name() const { return name_; }
  std::string uuid() const;
  // Where xenconsoled writes the guest's console (the harness dom0 runs it with --log=guest).
  std::string console_log_hint() const;

  // See wait_for_domain_exit() (domain_exit.h). Does not destroy the domain.
  Result<ExitReason> wait_for_exit(int timeout_ms, int cancel_fd = -1) const;
  // Destroys the domain (no-op when already destroyed or released); then stands the reaper
  // down. On failure the object still owns the domain and the reaper stays armed.
  Result<void> destroy();
  // Saves the domain into fd through libxl_domain_suspend (the guest kernel must cooperate:
  // docs/vacate.md), then destroys what is left of it and stands the reaper down. On failure
  // the suspend is cancelled (libxl_domain_resume) and the domain runs on, still owned.
  Result<void> save(int fd);
  // After a save that failed: true when the domain runs on (its suspend was cancelled and the
  // domain resumed, or the failure came before the suspend) and its agent reconnects in
  // place; false when the domain is gone (the suspend went through and what failed came
  // after) or could not be resumed.
  bool resumed_after_failed_save() const;
  // Sets the domain's memory target (libxl_set_memory_target, enforced) and waits up to
  // wait_s seconds for its balloon driver to get there. Errors say which step failed.
  Result<void> set_memory_target(uint64_t target_kib, int wait_s);
  // Hands the domain over: it keeps running, this process stops owning it and the reaper
  // stands down. Whoever takes it over must destroy it.
  Result<void> release();

 private:
  XenDomain(LibxlContext ctx, DomainReaper reaper, uint32_t domid, std::string name,
            libxl_uuid uuid);

  static Result<XenDomain> build(const DomainConfig& cfg, const CreateOptions& opts,
                                 int restore_fd);
  Result<void> destroy_locked();

  // Declared in setup order. The destructor's body destroys the domain (through ctx_) and
  // stands the reaper down before any member goes.
  LibxlContext ctx_;
  DomainReaper reaper_;
  uint32_t domid_ = kNoDomid;
  std::string name_;
  libxl_uuid uuid_{};
  bool owned_ = false;
  bool resumed_ = true;  // runs on: no suspend tried yet, or the last one was cancelled
  // Guards owned_, resumed_ and reaper_: destroy() and release() may race (a kill from a signal
  // thread against the owner's own teardown). Never moved: a moved-to object gets a fresh one.
  mutable std::mutex mu_;
};

}  // namespace ringbox::host::domain
