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

}  // namespace ringbox::host
