#include "guest/fs/mount.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <chrono>
#include <vector>

#include "shared/util/log.h"

namespace ringbox::guest::fs {

Result<std::unique_ptr<FuseMount>> FuseMount::mount(const std::string& mountpoint, View& view) {
  // No default_permissions: the host's policy decides, and every file is shown as the job's.
  std::vector<std::string> argv_s = {"ringbox-agent", "-o",
                                     "allow_other,fsname=ringbox,subtype=ringbox"};
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  fuse_session* se = fuse_session_new(&args, &View::operations(), sizeof(fuse_lowlevel_ops), &view);
  fuse_opt_free_args(&args);
  if (!se) return make_error(Errc::kSystem, "create the FUSE session (is /dev/fuse there?)");
  std::unique_ptr<FuseMount> m(new FuseMount(se, mountpoint));
  if (fuse_session_mount(se, mountpoint.c_str()) != 0)
    return make_error(Errc::kSystem, "mount the job's view at " + mountpoint +
                                         " (needs root and the fuse module)");
  m->mounted_ = true;
  // The loop shares only the session and loop_done_ with us, so it can outlive this object if
  // it ever has to be left behind (see unmount()).
  // Below 3.12 the macro picks the 3.2 loop, which misreads this config (guest/fs/view.h).
  static_assert(FUSE_USE_VERSION >= FUSE_MAKE_VERSION(3, 12),
                "fuse_session_loop_mt() must be the 3.12 entry point for fuse_loop_config");
  m->loop_ = std::thread([se, done = m->loop_done_] {
    fuse_loop_config* cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_clone_fd(cfg, 0);
    fuse_loop_cfg_set_max_threads(cfg, kMaxFuseThreads);
    // Idle threads are kept (libfuse's default): ending and starting threads per request
    // burst costs more than the threads do.
    int r = fuse_session_loop_mt(se, cfg);
    fuse_loop_cfg_destroy(cfg);
    if (r != 0) log::warn("the FUSE loop ended with " + std::to_string(r));
    *done = true;
  });
  // Only now: a stat of the mount waits for the kernel's INIT, which the loop answers.
  struct stat st;
  if (::stat(mountpoint.c_str(), &st) == 0) m->dev_ = st.st_dev;
  return m;
}

void FuseMount::abort_connection() {
  if (dev_ == 0) return;
  std::string path = "/sys/fs/fuse/connections/" + std::to_string(minor(dev_)) + "/abort";
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    log::warn("cannot abort the FUSE connection through " + path + " (is fusectl mounted?)");
    return;
  }
  if (::write(fd, "1", 1) != 1) log::warn("abort the FUSE connection through " + path + " failed");
  ::close(fd);
}

Result<void> FuseMount::unmount() {
  if (!mounted_) return ok();
  mounted_ = false;
  Result<void> result;
  // Detach: the mount leaves the namespace now; the connection ends with its last user, which
  // makes the loop's read return ENODEV and the loop return.
  if (::umount2(mountpoint_.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    result = sys_error("unmount the job's view at " + mountpoint_);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kUnmountGraceMs);
  while (!*loop_done_ && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (!*loop_done_) {
    log::warn("the job's view at " + mountpoint_ + " is still in use; aborting its connection");
    abort_connection();
    deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kUnmountGraceMs);
    while (!*loop_done_ && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!*loop_done_) {
    // Joining would hang the agent for good. Leave the loop (and its session) behind; the
    // domain is about to end anyway.
    loop_.detach();
    leaked_ = true;
    return make_error(Errc::kTimeout, "the FUSE loop for " + mountpoint_ + " did not stop");
  }
  if (loop_.joinable()) loop_.join();
  // The mount is gone already; this only closes the session's /dev/fuse descriptor.
  fuse_session_unmount(se_);
  return result;
}

FuseMount::~FuseMount() {
  if (auto r = unmount(); !r) log::warn(r.error().message());
  if (!leaked_) fuse_session_destroy(se_);
}

}  // namespace ringbox::guest::fs
