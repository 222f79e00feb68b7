// How a domain ended, and waiting for it through libxl's domain-death events (a xenstore
// @releaseDomain watch inside libxl), with a timeout and an optional cancel descriptor.
//
// A PV domain that powers off, reboots or crashes is not gone: Xen keeps it in the "shutdown"
// state until the toolstack destroys it. on_poweroff/on_crash = destroy in the libxl config is
// only a note for the toolstack; xl's background process acts on it, libxl itself does not.
// So the owner waits here, then calls XenDomain::destroy().
#pragma once

#include <cstdint>
#include <string>

#include "host/domain/libxl_context.h"
#include "shared/util/result.h"

namespace ringbox::host::domain {

enum class ExitReason {
  kPoweroff,   // the guest shut itself down (the agent finished and /init powered off)
  kReboot,     // the guest asked to reboot; ringbox never restarts a job domain
  kCrash,      // the guest kernel crashed (panic, or a fatal fault Xen reported)
  kWatchdog,   // the Xen watchdog fired
  kSuspend,    // suspended for save (xl save); not expected while ringbox owns the domain
  kSoftReset,  // kexec-style soft reset
  kUnknown,    // a shutdown code this libxl does not name
  kDestroyed,  // the domain vanished without a shutdown we saw: somebody destroyed it
};

const char* exit_reason_name(ExitReason r);

// Maps the shutdown code of a libxl DOMAIN_SHUTDOWN event (Xen's SHUTDOWN_* values).
ExitReason exit_reason_from_shutdown_code(int code);

// Waits until domain `domid` shuts down or disappears. timeout_ms < 0: no limit. cancel_fd
// (-1: none) ends the wait with Errc::kCancelled once it is readable (an eventfd, a pipe).
// Errors: Errc::kTimeout, Errc::kCancelled, Errc::kSystem (libxl failed). One waiter per
// context at a time: libxl's poll interface is not for concurrent pollers.
Result<ExitReason> wait_for_domain_exit(const LibxlContext& ctx, uint32_t domid, int timeout_ms,
                                        int cancel_fd = -1);

}  // namespace ringbox::host::domain
