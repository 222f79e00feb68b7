// Acting with a client's file-system rights inside the root service.
//
// Linux keeps credentials per thread; the file-system uid and gid (setfsuid(2), setfsgid(2))
// and the supplementary groups decide every permission check of open, create, unlink, ...,
// and a non-zero fsuid drops CAP_DAC_OVERRIDE and the other file capabilities
// (capabilities(7), "Effect of user ID changes on capabilities"), while the thread keeps its
// other root powers (killing its guest, unmounting, libxl). The raw system calls are used on
// purpose: glibc's setgroups() would change every thread of the process (nptl's setxid
// broadcast), and only the threads that touch the job's files must lose root's rights.
//
// Who calls it: the service's job runner, around opening the job's export and output files,
// and the handler decorator below on each worker thread before it serves a guest request.
#pragma once

#include <sys/types.h>

#include <vector>

#include "shared/rpc/handler.h"
#include "shared/util/result.h"

namespace ringbox::host::service {

struct FsIdentity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

// Sets the calling thread's fsuid, fsgid and supplementary groups; checks they took.
Result<void> set_thread_fs_identity(const FsIdentity& id);

// Gives the calling thread root's file-system rights back, also after an AsUserHandler
// switched it. The thread that serves the guest's ring handles some requests inline (as the
// job's user); after serving it saves the domain and tears it down through libxl, whose lock
// files only root may open (a save under the job's fsuid fails with EACCES).
void restore_root_fs_identity();

// While alive, the calling thread acts with id's file-system rights; restores root's after.
class ScopedFsIdentity {
 public:
  static Result<ScopedFsIdentity> enter(const FsIdentity& id);
  ScopedFsIdentity(ScopedFsIdentity&& o) noexcept : active_(o.active_) { o.active_ = false; }
  ScopedFsIdentity(const ScopedFsIdentity&) = delete;
  ScopedFsIdentity& operator=(const ScopedFsIdentity&) = delete;
  ScopedFsIdentity& operator=(ScopedFsIdentity&&) = delete;
  ~ScopedFsIdentity();

 private:
  ScopedFsIdentity() = default;
  bool active_ = false;
};

// Serves every request through `inner` with the client's file-system rights: the first request
// a thread handles switches that thread for good (worker threads serve only this job).
class AsUserHandler final : public rpc::Handler {
 public:
  AsUserHandler(rpc::Handler& inner, FsIdentity id) : inner_(inner), id_(std::move(id)) {}
  rpc::Reply handle(const rpc::Request& req) override;
  bool runs_inline(uint16_t opcode) const override { return inner_.runs_inline(opcode); }

 private:
  rpc::Handler& inner_;
  FsIdentity id_;
};

}  // namespace ringbox::host::service
