// FuseMount: one mounted FUSE session serving a View, with its multithreaded request loop.
//
// mount() creates the session (allow_other: the job runs under another uid than the agent),
// mounts it and starts the loop on a thread of its own. unmount() detaches the mount, waits
// for the loop to see the connection end, and, if something still holds the mount open after
// kUnmountGraceMs, aborts the connection through fusectl so the agent never hangs on exit.
// Must be called by root (the agent is root in the domain).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "guest/fs/view.h"

namespace ringbox::guest::fs {

inline constexpr int kUnmountGraceMs = 3000;
inline constexpr unsigned kMaxFuseThreads = 16;

class FuseMount {
 public:
  static Result<std::unique_ptr<FuseMount>> mount(const std::string& mountpoint, View& view);
  ~FuseMount();
  Result<void> unmount();
  const std::string& mountpoint() const { return mountpoint_; }

 private:
  FuseMount(fuse_session* se, std::string mountpoint)
      : se_(se), mountpoint_(std::move(mountpoint)) {}
  void abort_connection();

  fuse_session* se_;
  std::string mountpoint_;
  dev_t dev_ = 0;  // the mount's device: names its fusectl connection directory
  bool mounted_ = false;
  bool leaked_ = false;
  std::shared_ptr<std::atomic<bool>> loop_done_ = std::make_shared<std::atomic<bool>>(false);
  std::thread loop_;
};

}  // namespace ringbox::guest::fs
