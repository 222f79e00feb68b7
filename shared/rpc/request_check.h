// The one sanitize step every transport applies to a guest's request (the role qrexec's
// sanitizer plays in Qubes), and the slot <-> message conversions both transports share.
//
//   transport                 this file                                   handler
//   ring slot / TCP frame --> check_slot_fields + locate the buffer
//                             Session::admit: kHello first, per-opcode
//                             table (payload bound, flags, feature,
//                             version)                               --> invoke_handler: firewall,
//                             encode_response (out_len bounded)     <--   out_len <= buffer
//
// Only the buffer's location differs between transports: check_ring_request (data area) and
// the stream's frame (stream_rpc.cc). Everything after that is here, once.
#pragma once

#include <atomic>
#include <optional>
#include <span>
#include <string>

#include "shared/ring/layout.h"
#include "shared/rpc/handler.h"

namespace ringbox::rpc {

// What one opcode may carry (ringbox_proto.h states each rule next to its opcode).
struct OpcodeRule {
  proto::Opcode opcode;
  uint32_t max_in;            // most payload bytes; more is answered with too_long
  proto::WireError too_long;  // kProto, or kNameTooLong where the payload is path text
  uint16_t flags;             // allowed flag bits; any other bit is kProto
  uint64_t feature;           // proto::Feature the connection must hold (else kNoSys); 0 = none
  uint16_t min_version;       // lowest negotiated Version that has the opcode (else kNoSys)
};
// The rule of `opcode`, or nullptr for a number the protocol does not define.
const OpcodeRule* opcode_rule(uint16_t opcode);

// --- slot conversions (both transports, both directions) ------------------------------------
// The request slot of a call whose buffer is [buf_off, buf_off + buf_len).
proto::RequestSlot encode_request(const Call& c, uint64_t id, uint32_t buf_off, uint32_t buf_len);
// The response slot of a reply: zero-initialised (no stale bytes reach the guest), out_len 0
// unless the reply succeeded. invoke_handler has already bounded out_len by the buffer.
proto::ResponseSlot encode_response(uint64_t id, const Reply& r);
// A response slot (a private copy) as the caller's Reply; Errc::kPeerBroken when the host
// claims more than out_capacity payload bytes.
Result<Reply> decode_response(const proto::ResponseSlot& rsp, size_t out_capacity, uint16_t opcode);
// A Request over checked buffers: in is the payload, out the reply buffer (may alias in).
Request make_request(const proto::RequestSlot& slot, std::span<const std::byte> in,
                     std::span<std::byte> out);

// Reserved slot fields must be zero (both transports). The error says which.
Result<void> check_slot_fields(const proto::RequestSlot& slot);

// The ring's buffer rule: untrusted_slot must already be a private copy
// (BackendRing::take_request). Checks the reserved fields, then: buffer aligned, inside the data
// area (64-bit arithmetic, no wrap), no larger than one message, in_len <= buf_len. The error's
// `what` says which rule was broken.
Result<Request> check_ring_request(const proto::RequestSlot& untrusted_slot,
                                   std::span<std::byte> data_area, const ring::Geometry& g);

// One connection's protocol state: refuses everything until kHello (which it answers itself),
// then applies the opcode table. Not thread-safe: call admit() in request order, from the
// thread that takes requests off the transport.
class Session {
 public:
  // offered: the proto::Feature bits this host grants when asked (kFeatureBulk only on a
  // benchmark host).
  explicit Session(uint64_t offered_features = 0) : offered_(offered_features) {}
  // nullopt: run the handler. Otherwise the reply to send without running it: the answer to
  // kHello, or a refusal (kProto before kHello / bad flags / payload, kNoSys for an opcode
  // unknown, not negotiated or from a later version, kNameTooLong for an overlong path).
  std::optional<Reply> admit(const Request& req);
  bool ready() const { return version_ != 0; }
  uint16_t version() const { return version_; }
  uint64_t features() const { return features_; }
  uint64_t refused() const { return refused_; }

 private:
  uint64_t offered_;
  uint16_t version_ = 0;  // 0 until kHello succeeded
  uint64_t features_ = 0;
  uint64_t refused_ = 0;
};

// Runs handler.handle(req) behind the exception firewall: std::bad_alloc is answered kNoMem,
// any other exception kIo, each logged with the opcode and `peer`; the server goes on serving.
// A reply claiming more than req.out.size() bytes (a handler bug) becomes kIo.
Reply invoke_handler(Handler& handler, const Request& req, std::string_view peer);

namespace testing {
// Test hook: when set, invoke_handler calls it inside the firewall just before the handler, so
// a test can throw from any opcode group. Only tests set it (nothing reads it from the
// environment or the command line); production leaves it null.
using HandlerFault = void (*)(const Request& req);
void set_handler_fault(HandlerFault fault);
}  // namespace testing

}  // namespace ringbox::rpc
