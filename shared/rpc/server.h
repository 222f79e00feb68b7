// Server: what the host serves one guest connection through, whatever the transport.
// RingServer serves a RingChannel (local, Xen); transport::StreamServer serves TCP connections.
// `ringbox-host run` and `serve` hold a Server and do not care which.
#pragma once

#include "shared/util/result.h"

namespace ringbox::rpc {

class Server {
 public:
  virtual ~Server() = default;
  // Serves until the guest went away (ok), stop() was called (ok) or the guest broke the
  // transport's contract (error). Handlers still running when it returns are joined by the
  // destructor, so wake anything they wait on (the job session) before destroying the Server.
  virtual Result<void> serve() = 0;
  // Thread-safe; serve() returns within ~100 ms.
  virtual void stop() = 0;
};

}  // namespace ringbox::rpc
