// The RPC vocabulary both transports share: a Call going out, a Reply coming back, and the
// Client interface the guest (and the benchmark) program against. The ring client and the
// stream (TCP) client implement it identically from the caller's point of view.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "shared/protocol/ringbox_proto.h"
#include "shared/util/result.h"

namespace ringbox::rpc {

struct Call {
  proto::Opcode opcode = proto::Opcode::kPing;
  uint16_t flags = 0;
  std::array<uint64_t, 4> arg{};
  std::span<const std::byte> in;  // request payload
  std::span<std::byte> out;       // response payload lands here; its size is the capacity
  // The answer may take arbitrarily long (kWaitEvent). A client must not let such a call delay
  // the others: the ring client never makes its thread the response poller while quick calls
  // are in flight, the stream client gives it a connection of its own.
  bool long_poll = false;
};

struct Reply {
  int32_t status = 0;  // 0 or -WireError
  uint32_t out_len = 0;
  std::array<uint64_t, 2> val{};
  bool ok() const { return status == 0; }
  static Reply error(proto::WireError e) { return Reply{-static_cast<int32_t>(e), 0, {}}; }
};

class Client {
 public:
  virtual ~Client() = default;
  // Sends one request and waits for its reply. Safe to call from many threads at once.
  // A transport failure is an Error; a refusal by the peer is a Reply with status < 0.
  virtual Result<Reply> call(const Call& c) = 0;
  // Largest in or out payload of one call; bigger transfers are split by the caller.
  virtual uint32_t max_payload() const = 0;
};

// Sends kHello and checks the peer agreed on a version we speak. Returns the version.
Result<uint16_t> negotiate_version(Client& client);

}  // namespace ringbox::rpc
