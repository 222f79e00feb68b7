// The RPC vocabulary both transports share: a Call going out, a Reply coming back, and the
// Client interface the guest (and the benchmark) program against. The ring client and the
// stream (TCP) client implement it identically from the caller's point of view.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
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

  // What kHello settled (negotiate_version): the version, 0 before; the proto::Feature bits
  // the host granted.
  uint16_t version() const { return version_.load(); }
  uint64_t features() const { return features_.load(); }
  // Records a successful kHello. The host refuses everything before kHello on each
  // connection, so a transport that opens another one (a TCP pool dialling, a ring re-attached
  // by a restarted host) repeats this kHello on it first (hello_args()).
  void note_hello(const std::array<uint64_t, 4>& args, uint16_t version, uint64_t features);

 protected:
  // The arguments of the recorded kHello; nullopt before one succeeded.
  std::optional<std::array<uint64_t, 4>> hello_args() const;

 private:
  mutable std::mutex hello_mu_;
  std::optional<std::array<uint64_t, 4>> hello_args_;
  std::atomic<uint16_t> version_{0};
  std::atomic<uint64_t> features_{0};
};

// Sends kHello asking for want_features (proto::Feature bits) and checks the peer agreed on a
// version we speak. Returns the version; client.features() holds the bits granted.
Result<uint16_t> negotiate_version(Client& client, uint64_t want_features = 0);
// A repeated kHello on a new connection of the same client: Errc::kProtocol when the host no
// longer grants what it granted (a different host behind the address).
Result<void> check_repeated_hello(const Client& client, const Reply& reply);

}  // namespace ringbox::rpc
