// A hostile guest for the host's real request path: the frontend end of a local (memfd +
// eventfd) channel whose ring this test writes BY HAND, raw RequestSlots and payload bytes in the
// shared region, with nothing of FrontendRing or RingClient in between. Whatever the script
// writes (bad indexes, buffers outside the data area, slots or paths rewritten after they were
// published) reaches the real rpc::RingServer, running the real HostHandler and FileService on
// its own thread, exactly as a malicious agent's writes would.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "shared/protocol/ringbox_proto.h"
#include "shared/ring/layout.h"
#include "shared/rpc/handler.h"
#include "shared/rpc/ring_server.h"
#include "shared/transport/channel.h"

namespace ringbox::test {

class ScriptedPeer {
 public:
  // 16 slots, 64 data pages (256 KiB): each slot owns a fixed 16 KiB buffer.
  static constexpr uint32_t kRingOrder = 4;
  static constexpr uint32_t kDataPages = 64;
  static constexpr uint32_t kSlotBufferBytes = 16 * 1024;

  // With `hello` the peer opens the connection as the contract says (kHello, version 2, no
  // features) before the test's script runs; without, the script's first request is the first.
  explicit ScriptedPeer(rpc::Handler& handler, rpc::ServerOptions opts = {}, bool hello = true);
  ~ScriptedPeer();
  ScriptedPeer(const ScriptedPeer&) = delete;
  ScriptedPeer& operator=(const ScriptedPeer&) = delete;

  // Raw views of the shared region (the peer may write anything anywhere).
  proto::ControlPage& control() { return *view_.control; }
  proto::RequestSlot& request_slot(uint32_t index) { return view_.requests[index & mask()]; }
  std::span<std::byte> data() { return view_.data; }
  uint32_t slots() const { return geometry_.slots(); }
  uint32_t mask() const { return geometry_.slots() - 1; }
  // The buffer the well-behaved helpers use for request number `index`.
  static uint32_t buffer_of(uint32_t index) { return (index & 15) * kSlotBufferBytes; }
  uint32_t next_index() const { return req_prod_; }

  // Writes slot (and payload at slot.buf_off, if it fits the data area) for the next request
  // without publishing it; returns the request's index.
  uint32_t stage(const proto::RequestSlot& slot, std::string_view payload);
  // Publishes requests up to (not including) index `prod`, as raw req_prod, and kicks.
  void publish(uint32_t prod);
  // The next response, in publication order, or nothing after timeout_ms.
  std::optional<proto::ResponseSlot> next_response(int timeout_ms = 10000);
  // One well-formed request (its own buffer) and its response. REQUIREs a response.
  proto::ResponseSlot call(proto::Opcode op, std::string_view payload,
                           std::array<uint64_t, 4> arg = {}, uint16_t flags = 0,
                           uint32_t buf_len = kSlotBufferBytes);
  // The reply payload of a response to a request that used buffer buf_off.
  std::string payload(const proto::ResponseSlot& r, uint32_t buf_off);
  // Pings with a fresh pattern and checks the echo: proof the host still serves.
  bool host_answers();

  // True while RingServer::serve() runs.
  bool serving() const { return !server_done_; }
  // Waits up to timeout_ms for serve() to return; its result (an error if it never returned).
  Result<void> wait_server(int timeout_ms);
  // Closes the frontend end: the host sees the peer gone.
  void disconnect();

 private:
  ring::Geometry geometry_{kRingOrder, kDataPages};
  std::unique_ptr<transport::RingChannel> frontend_;
  ring::RegionView view_;
  std::unique_ptr<rpc::RingServer> server_;
  std::thread server_thread_;
  std::atomic<bool> server_done_{false};
  Result<void> server_result_;
  uint32_t req_prod_ = 0;
  uint32_t rsp_cons_ = 0;
  uint64_t next_id_ = 1;
};

}  // namespace ringbox::test
