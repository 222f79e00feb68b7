// HostHandler: the host's answer to every opcode a guest may send. Routes each opcode group to
// the service that owns it; anything unknown is refused with kNoSys.
#pragma once

#include "shared/rpc/handler.h"

namespace ringbox::host {

namespace files {
class FileService;
}

class HostHandler final : public rpc::Handler {
 public:
  HostHandler() = default;
  // File opcodes (32..54) go to `files`, which must outlive the handler. Without a file
  // service they are refused with kNoSys.
  explicit HostHandler(files::FileService& files) : files_(&files) {}
  // Also job opcodes (16..20) to `job` (`ringbox-host run`: the JobSession, or in the confined
  // file service its forwarder to run); without one they are kNoSys.
  HostHandler(files::FileService& files, rpc::Handler& job) : files_(&files), job_(&job) {}
  rpc::Reply handle(const rpc::Request& req) override;
  // Everything but the event poll (waits for the host's events), whole-file transfers and
  // fsync (long disk work) runs on the ring thread: a per-request worker hand-off would cost
  // more than the metadata or 4 KiB I/O it carries.
  bool runs_inline(uint16_t opcode) const override;
  // Closes the file service's handles and discards its unfinished uploads.
  void connection_ended() override;

 private:
  files::FileService* files_ = nullptr;
  rpc::Handler* job_ = nullptr;
};

}  // namespace ringbox::host
