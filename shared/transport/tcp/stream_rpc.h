// The TCP transport: ringbox messages framed over a stream socket (FrameHeader + slot +
// payload, see ringbox_proto.h). The network baseline for ringbox-bench, and the shape a
// networked deployment would have. StreamClient runs one call at a time per connection;
// StreamServer serves one connection per thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "shared/rpc/call.h"
#include "shared/rpc/handler.h"
#include "shared/util/unique_fd.h"

namespace ringbox::transport {

class StreamClient final : public rpc::Client {
 public:
  explicit StreamClient(UniqueFd fd) : fd_(std::move(fd)) {}
  Result<rpc::Reply> call(const rpc::Call& c) override;
  uint32_t max_payload() const override { return proto::kMaxStreamPayload; }

 private:
  std::mutex mu_;
  UniqueFd fd_;
  uint64_t next_id_ = 1;
};

// Serves one connected stream until the peer closes (ok) or breaks the framing (error).
// A frame with bad lengths ends the connection: unlike the ring, a stream cannot skip a bad
// frame it cannot size.
Result<void> serve_stream(int fd, rpc::Handler& handler, const std::atomic<bool>* stop = nullptr);

}  // namespace ringbox::transport
