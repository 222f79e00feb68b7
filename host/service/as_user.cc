#include "host/service/as_user.h"

#include <sys/syscall.h>
#include <unistd.h>

#include "shared/util/log.h"

namespace ringbox::host::service {
namespace {

long raw_setgroups(const std::vector<gid_t>& groups) {
  return ::syscall(SYS_setgroups, groups.size(), groups.empty() ? nullptr : groups.data());
}

// The identity an AsUserHandler gave this thread (nullptr: root's).
thread_local const FsIdentity* switched_for = nullptr;

}  // namespace

Result<void> set_thread_fs_identity(const FsIdentity& id) {
  // Groups first: while fsuid is still root the thread surely holds CAP_SETGID.
  if (raw_setgroups(id.groups) != 0) return sys_error("set the job user's groups on a thread");
  ::syscall(SYS_setfsgid, id.gid);
  ::syscall(SYS_setfsuid, id.uid);
  // setfs[ug]id report no error; asking with an invalid id (-1) returns the current one.
  if (static_cast<uid_t>(::syscall(SYS_setfsuid, static_cast<uid_t>(-1))) != id.uid ||
      static_cast<gid_t>(::syscall(SYS_setfsgid, static_cast<gid_t>(-1))) != id.gid)
    return make_error(Errc::kSystem, "could not take the job user's file-system identity " +
                                         std::to_string(id.uid) + ":" + std::to_string(id.gid));
  return ok();
}

Result<ScopedFsIdentity> ScopedFsIdentity::enter(const FsIdentity& id) {
  if (auto r = set_thread_fs_identity(id); !r) return std::move(r.error());
  ScopedFsIdentity s;
  s.active_ = true;
  return s;
}

void restore_root_fs_identity() {
  ::syscall(SYS_setfsuid, 0);
  ::syscall(SYS_setfsgid, 0);
  (void)raw_setgroups({});
  switched_for = nullptr;
}

ScopedFsIdentity::~ScopedFsIdentity() {
  if (active_) restore_root_fs_identity();
}

rpc::Reply AsUserHandler::handle(const rpc::Request& req) {
  if (switched_for != &id_) {
    if (auto r = set_thread_fs_identity(id_); !r) {
      // Never serve a request with root's rights.
      log::error(r.error().message());
      return rpc::Reply::error(proto::WireError::kIo);
    }
    switched_for = &id_;
  }
  return inner_.handle(req);
}

}  // namespace ringbox::host::service
