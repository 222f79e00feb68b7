// The kernel side of the confined file service (docs/file-service.md, "The confined service"): what
// a process gives up before it decodes a single guest request. virtiofsd's sandbox is the anchor:
// namespaces so that only the export is visible, an unprivileged uid with no capabilities,
// no_new_privs, and a seccomp allow-list.
//
// The order is fixed by the kernel: unshare() before the fork that makes pid 1 of the new pid
// namespace (a process never enters a pid namespace it unshared, its children do); the mounts
// while still root; the uid change before the filter (setresuid is not on the allow-list).
#pragma once

#include <sys/types.h>

#include <string>

#include "shared/util/result.h"

namespace ringbox::host::confine {

// Where the export appears inside the sandbox, and procfs (the export's files are reopened
// through /proc/self/fd: host/files/export_root.cc).
inline constexpr const char* kSandboxExport = "/export";

// New mount, pid, network, IPC and UTS namespaces for the calling process's future children.
// The network namespace is empty (not even an up loopback). Needs root, a single thread.
// Errors: the unshare(2) that failed (EPERM without CAP_SYS_ADMIN, EINVAL with threads).
Result<void> unshare_namespaces();

// In pid 1 of the new namespaces: makes a read-only tmpfs the root, holding only the export
// (bound, with any mounts below it, at kSandboxExport) and a procfs of the new pid namespace at
// /proc, and detaches everything else. Errors: the mount step that failed, and on what.
Result<void> enter_export_root(const std::string& export_dir);

// Becomes uid:gid with no supplementary groups and no capabilities (none permitted, none in the
// bounding set, none ambient), with no_new_privs set and a parent-death SIGKILL. uid 0 is
// refused: the point is a uid that owns nothing but the job's files. Errors: the step.
Result<void> drop_privileges(uid_t uid, gid_t gid);

// Installs the seccomp allow-list (libseccomp) for every thread of the process: the system
// calls the file service, the ring and the job channel use; anything else fails with EPERM
// (not a kill: a missed call is a clear error in the log, not a lost job). No socket(2),
// connect(2), mount(2), ptrace(2), setuid(2), unshare(2) or bpf(2); clone(2) only without
// CLONE_NEW* bits (threads); ioctl(2) only with FIONREAD, TCGETS, IOCTL_EVTCHN_NOTIFY and the
// releases of its own port and grant mappings (EVTCHN_UNBIND, GNTDEV_GET_OFFSET_FOR_VADDR,
// GNTDEV_UNMAP_GRANT_REF). Errors: libseccomp's.
Result<void> install_syscall_filter();

}  // namespace ringbox::host::confine
