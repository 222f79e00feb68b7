#include "host/host_handler.h"

namespace ringbox::host {

rpc::Reply HostHandler::handle(const rpc::Request& req) { return rpc::handle_session_opcode(req); }

}  // namespace ringbox::host
