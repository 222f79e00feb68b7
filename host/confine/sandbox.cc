#include "host/confine/sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

// Linux's Xen device ioctls; they use Xen's domid_t.
#include <xen/xen.h>

#include <xen/sys/evtchn.h>
#include <xen/sys/gntdev.h>

#include <memory>

#include "shared/util/unique_fd.h"
#include "shared/util/unique_handle.h"

namespace ringbox::host::confine {
namespace {

// The staging directory the new root is built in before pivot_root(2). /tmp exists on every
// Debian system; what was there stays untouched (the tmpfs covers it in this namespace only).
constexpr const char* kStaging = "/tmp";

Result<void> mount_or(const char* src, const char* dst, const char* type, unsigned long flags,
                      const char* data, const std::string& what) {
  if (::mount(src, dst, type, flags, data) != 0) return sys_error(what);
  return ok();
}

}  // namespace

Result<void> unshare_namespaces() {
  if (::unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) != 0)
    return sys_error("create the confined service's namespaces (unshare; needs root)");
  return ok();
}

Result<void> enter_export_root(const std::string& export_dir) {
  // Held before the tmpfs hides anything: the export may itself lie under the staging path.
  UniqueFd exp(::open(export_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!exp) return sys_error("open the export directory '" + export_dir + "'");
  RINGBOX_TRY(mount_or(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr,
                       "make the sandbox's mounts private"));
  RINGBOX_TRY(mount_or("ringbox-sandbox", kStaging, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                       "size=64k,mode=0755", "mount the sandbox's root tmpfs"));
  const std::string root = kStaging;
  for (const char* d : {"/export", "/proc"})
    if (::mkdir((root + d).c_str(), 0755) != 0) return sys_error("create " + root + d);
  const std::string src = "/proc/self/fd/" + std::to_string(exp.get());
  RINGBOX_TRY(mount_or(src.c_str(), (root + kSandboxExport).c_str(), nullptr, MS_BIND | MS_REC,
                       nullptr, "bind the export '" + export_dir + "' into the sandbox"));
  exp.reset();
  // This process is pid 1 of the new pid namespace: the procfs shows only the sandbox.
  RINGBOX_TRY(mount_or("proc", (root + "/proc").c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                       "hidepid=invisible", "mount the sandbox's procfs"));
  if (::chdir(root.c_str()) != 0) return sys_error("enter the sandbox's root");
  // pivot_root(".", "."): the old root lands on top of the new one and is detached at once.
  if (::syscall(SYS_pivot_root, ".", ".") == 0) {
    if (::umount2(".", MNT_DETACH) != 0) return sys_error("detach the old root");
  } else if (errno == EINVAL) {
    // The old root is the initramfs (the nested harness's dom0), which cannot be pivoted away
    // (pivot_root(2)): move the new root over it, as switch_root does, and chroot into it. The
    // old root stays below, out of reach: no directory descriptor into it is left open (the
    // service keeps Xen's devices at most), and chroot(2) needs a capability and is not on the
    // filter's list.
    RINGBOX_TRY(mount_or(".", "/", nullptr, MS_MOVE, nullptr,
                         "move the sandbox's root over the initramfs"));
    if (::chroot(".") != 0) return sys_error("chroot into the sandbox");
  } else {
    return sys_error("pivot_root into the sandbox");
  }
  if (::chdir("/") != 0) return sys_error("enter the sandbox's root");
  RINGBOX_TRY(mount_or(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr,
                       "make the sandbox's root read-only"));
  return ok();
}

Result<void> drop_privileges(uid_t uid, gid_t gid) {
  if (uid == 0 || gid == 0)
    return make_error(Errc::kInvalidArgument,
                      "the confined service cannot run as root or group root; name the user who "
                      "owns the export");
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap)
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      return sys_error("drop capability " + std::to_string(cap) + " from the bounding set");
  if (::setgroups(0, nullptr) != 0) return sys_error("drop the supplementary groups");
  if (::setresgid(gid, gid, gid) != 0) return sys_error("become gid " + std::to_string(gid));
  if (::setresuid(uid, uid, uid) != 0) return sys_error("become uid " + std::to_string(uid));
  // A change of every uid away from 0 clears the permitted and effective sets (capabilities(7)).
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
    return sys_error("clear the ambient capabilities");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return sys_error("set no_new_privs");
  // Changing credentials cleared the parent-death signal (prctl(2)): set it once more.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return sys_error("set the parent-death signal");
  return ok();
}

Result<void> install_syscall_filter() {
  UniqueHandle<void, seccomp_release> ctx(seccomp_init(SCMP_ACT_ERRNO(EPERM)));
  if (!ctx) return sys_error(ENOMEM, "libseccomp: create a filter");
  static constexpr int kAllowed[] = {
      // file data and metadata, beneath the export (host/files)
      SCMP_SYS(read),
      SCMP_SYS(write),
      SCMP_SYS(readv),
      SCMP_SYS(writev),
      SCMP_SYS(pread64),
      SCMP_SYS(pwrite64),
      SCMP_SYS(preadv),
      SCMP_SYS(pwritev),
      SCMP_SYS(lseek),
      SCMP_SYS(close),
      SCMP_SYS(openat),
      SCMP_SYS(openat2),
      SCMP_SYS(fstat),
      SCMP_SYS(newfstatat),
      SCMP_SYS(statx),
      SCMP_SYS(getdents64),
      SCMP_SYS(mkdirat),
      SCMP_SYS(unlinkat),
      SCMP_SYS(renameat),
      SCMP_SYS(renameat2),
      SCMP_SYS(linkat),
      SCMP_SYS(symlinkat),
      SCMP_SYS(readlinkat),
      SCMP_SYS(fchmod),
      SCMP_SYS(fchmodat),
      SCMP_SYS(fchown),
      SCMP_SYS(fchownat),
      SCMP_SYS(utimensat),
      SCMP_SYS(ftruncate),
      SCMP_SYS(fallocate),
      SCMP_SYS(fsync),
      SCMP_SYS(fdatasync),
      SCMP_SYS(fstatfs),
      SCMP_SYS(statfs),
      SCMP_SYS(fcntl),
      SCMP_SYS(dup),
      SCMP_SYS(dup3),
      SCMP_SYS(umask),
      // the ring's doorbell and the job channel: descriptors opened before the filter
      SCMP_SYS(poll),
      SCMP_SYS(ppoll),
      SCMP_SYS(sendmsg),
      SCMP_SYS(recvmsg),
      SCMP_SYS(sendto),
      SCMP_SYS(recvfrom),
      SCMP_SYS(shutdown),
      // memory, threads, time, signals: the C++ runtime
      SCMP_SYS(mmap),
      SCMP_SYS(munmap),
      SCMP_SYS(mprotect),
      SCMP_SYS(mremap),
      SCMP_SYS(madvise),
      SCMP_SYS(brk),
      SCMP_SYS(futex),
      SCMP_SYS(set_robust_list),
      SCMP_SYS(rseq),
      SCMP_SYS(exit),
      SCMP_SYS(exit_group),
      SCMP_SYS(gettid),
      SCMP_SYS(getpid),
      SCMP_SYS(tgkill),
      SCMP_SYS(rt_sigaction),
      SCMP_SYS(rt_sigprocmask),
      SCMP_SYS(rt_sigreturn),
      SCMP_SYS(sigaltstack),
      SCMP_SYS(clock_gettime),
      SCMP_SYS(clock_nanosleep),
      SCMP_SYS(nanosleep),
      SCMP_SYS(gettimeofday),
      SCMP_SYS(sched_yield),
      SCMP_SYS(sched_getaffinity),
      SCMP_SYS(getrandom),
      SCMP_SYS(prlimit64),
      SCMP_SYS(getrlimit),
      SCMP_SYS(restart_syscall),
      SCMP_SYS(getuid),
      SCMP_SYS(geteuid),
      SCMP_SYS(getgid),
      SCMP_SYS(getegid),
      SCMP_SYS(membarrier),
      SCMP_SYS(getppid),
      // harmless, and what the sanitizers' runtime uses to test memory and name the program
      SCMP_SYS(pipe),
      SCMP_SYS(pipe2),
      SCMP_SYS(readlink),
  };
  for (int nr : kAllowed)
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 0); rc != 0)
      return sys_error(-rc, "libseccomp: allow system call " + std::to_string(nr));
  // ioctl: the two questions the C++ and sanitizer runtimes ask of a descriptor, a kick of an
  // event channel already bound (xen), and the releases of the service's own port and grant
  // mappings (libxengnttab looks the mapping up first); never a bind or a grant mapping:
  // whoever holds an evtchn or gntdev descriptor could reach any domain with those (Linux
  // drivers/xen/evtchn.c, gntdev.c).
  for (unsigned long request : {static_cast<unsigned long>(FIONREAD), 0x5401ul /* TCGETS */,
                                static_cast<unsigned long>(IOCTL_EVTCHN_NOTIFY),
                                static_cast<unsigned long>(IOCTL_EVTCHN_UNBIND),
                                static_cast<unsigned long>(IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR),
                                static_cast<unsigned long>(IOCTL_GNTDEV_UNMAP_GRANT_REF)})
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                                  SCMP_A1(SCMP_CMP_EQ, request));
        rc != 0)
      return sys_error(-rc, "libseccomp: allow ioctl " + std::to_string(request));
  // Threads, never namespaces: clone(2) without any CLONE_NEW* bit (a new user namespace would
  // hand the process every capability inside it). clone3(2) passes its flags in memory, where a
  // filter cannot look: ENOSYS makes glibc fall back to clone(2).
  constexpr uint64_t kNewNamespaces = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                      CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;
  if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                                SCMP_A0(SCMP_CMP_MASKED_EQ, kNewNamespaces, 0));
      rc != 0)
    return sys_error(-rc, "libseccomp: allow clone for threads");
  if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0); rc != 0)
    return sys_error(-rc, "libseccomp: answer clone3 with ENOSYS");
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_TSYNC, 1); rc != 0)
    return sys_error(-rc, "libseccomp: apply the filter to every thread");
  if (int rc = seccomp_load(ctx.get()); rc != 0)
    return sys_error(-rc, "libseccomp: load the system-call filter");
  return ok();
}

}  // namespace ringbox::host::confine
