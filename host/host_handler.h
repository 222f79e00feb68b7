// HostHandler: the host's answer to every opcode a guest may send. Routes each opcode group to
// the service that owns it; anything unknown is refused with kNoSys.
#pragma once

#include "shared/rpc/handler.h"

namespace ringbox::host {

class HostHandler final : public rpc::Handler {
 public:
  rpc::Reply handle(const rpc::Request& req) override;
};

}  // namespace ringbox::host
