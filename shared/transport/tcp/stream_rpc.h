// The TCP transport: ringbox messages framed over a stream socket (FrameHeader + slot +
// payload, see ringbox_proto.h). The network baseline for ringbox-bench, and the shape a
// networked deployment would have. One call at a time runs on a connection: StreamClient opens
// more connections for concurrent calls, StreamServer (stream_server.h) serves each on its own
// thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "shared/rpc/call.h"
#include "shared/rpc/handler.h"
#include "shared/util/unique_fd.h"

namespace ringbox::transport {

class StreamClient final : public rpc::Client {
 public:
  // Opens one more connection, ready for frames (connected, token sent).
  using Dialer = std::function<Result<UniqueFd>()>;
  // One connection: concurrent calls take turns on it.
  explicit StreamClient(UniqueFd fd);
  // Connections dialled on demand, up to max_connections, and kept for the next calls: a call
  // never waits for another one unless all max_connections are busy. A connection that fails
  // mid-call is dropped (the call returns the error) and redialled by a later call.
  StreamClient(Dialer dial, size_t max_connections);
  Result<rpc::Reply> call(const rpc::Call& c) override;
  uint32_t max_payload() const override { return proto::kMaxStreamPayload; }

 private:
  Result<UniqueFd> acquire();
  void release(UniqueFd fd, bool healthy);
  Result<rpc::Reply> call_on(int fd, const rpc::Call& c, uint64_t id);

  Dialer dial_;
  size_t max_connections_;
  std::mutex mu_;
  std::condition_variable idle_cv_;
  std::vector<UniqueFd> idle_;
  size_t open_ = 0;  // idle + busy
  std::atomic<uint64_t> next_id_{1};
};

struct StreamServeOptions {
  const std::atomic<bool>* stop = nullptr;  // checked between requests
  uint64_t features = 0;                    // proto::Feature bits granted to a peer that asks
  std::string peer = "a TCP peer";          // for the log
};

// Serves one connected stream until the peer closes (ok) or breaks the framing (error), each
// request through the same sanitize step as the ring (rpc::Session, request_check.h): kHello
// first, the opcode table, the exception firewall. A bad frame header ends the connection (a
// stream cannot skip a frame it cannot size); a bad slot inside a well-sized frame is answered
// kProto, as on the ring.
Result<void> serve_stream(int fd, rpc::Handler& handler, const StreamServeOptions& opts = {});

}  // namespace ringbox::transport
