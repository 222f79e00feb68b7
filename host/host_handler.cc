#include "host/host_handler.h"

#include "host/files/file_service.h"
#include "host/job/job_session.h"

namespace ringbox::host {

rpc::Reply HostHandler::handle(const rpc::Request& req) {
  if (files::FileService::owns_opcode(req.opcode)) {
    if (files_ == nullptr) return rpc::Reply::error(proto::WireError::kNoSys);
    return files_->handle(req);
  }
  if (job::JobSession::owns(req.opcode)) {
    if (job_ == nullptr) return rpc::Reply::error(proto::WireError::kNoSys);
    return job_->handle(req);
  }
  return rpc::handle_session_opcode(req);
}

void HostHandler::connection_ended() {
  if (files_ != nullptr) files_->end_connection();
}

bool HostHandler::runs_inline(uint16_t opcode) const {
  using proto::Opcode;
  switch (static_cast<Opcode>(opcode)) {
    case Opcode::kWaitEvent:
    case Opcode::kGetfile:
    case Opcode::kPutfile:
    case Opcode::kFsync:
    case Opcode::kFallocate:  // may allocate gigabytes
      return false;
    default:
      return true;
  }
}

}  // namespace ringbox::host
