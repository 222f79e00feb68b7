#include "shared/rpc/request_check.h"

#include <algorithm>
#include <array>
#include <limits>
#include <new>
#include <string>

#include "shared/util/log.h"

namespace ringbox::rpc {
namespace {

using proto::Opcode;
using proto::WireError;

constexpr uint32_t kAny = std::numeric_limits<uint32_t>::max();  // the transport bounds it
constexpr uint32_t kPath = proto::kMaxPathBytes;
constexpr uint32_t kTwoPaths = 2 * proto::kMaxPathBytes;
constexpr WireError kP = WireError::kProto;
constexpr WireError kLong = WireError::kNameTooLong;

// The per-opcode rules of ringbox_proto.h. Payloads the table calls kAny are bounded by the
// transport (one ring message, kMaxStreamPayload); the handler's decoder checks their shape.
constexpr std::array kRules{
    OpcodeRule{Opcode::kHello, 0, kP, 0, 0, 1},
    OpcodeRule{Opcode::kPing, kAny, kP, 0, 0, 1},
    OpcodeRule{Opcode::kHeartbeat, 0, kP, 0, 0, 1},
    OpcodeRule{Opcode::kJobGet, 0, kP, 0, 0, 1},
    OpcodeRule{Opcode::kJobStdout, kAny, kP, 0, 0, 1},
    OpcodeRule{Opcode::kJobStderr, kAny, kP, 0, 0, 1},
    OpcodeRule{Opcode::kJobExit, kAny, kP, 0, 0, 1},  // the report is cut at its bound
    OpcodeRule{Opcode::kWaitEvent, 0, kP, 0, 0, 1},
    OpcodeRule{Opcode::kOpen, kPath, kLong, 0, 0, 1},
    OpcodeRule{Opcode::kClose, 0, kP, 0, 0, 1},
    OpcodeRule{Opcode::kPread, 0, kP, 0, 0, 1},
    OpcodeRule{Opcode::kPwrite, kAny, kP, 0, 0, 1},
    OpcodeRule{Opcode::kFstat, 0, kP, 0, 0, 1},
    OpcodeRule{Opcode::kStat, kPath, kLong, 0, 0, 1},
    OpcodeRule{Opcode::kLstat, kPath, kLong, 0, 0, 1},
    OpcodeRule{Opcode::kReaddir, kPath, kLong, 0, 0, 1},
    OpcodeRule{Opcode::kMkdir, kPath, kLong, 0, 0, 1},
    OpcodeRule{Opcode::kRmdir, kPath, kLong, 0, 0, 1},
    OpcodeRule{Opcode::kUnlink, kPath, kLong, 0, 0, 1},
    OpcodeRule{Opcode::kRename, kTwoPaths, kLong, 0, 0, 1},
    OpcodeRule{Opcode::kTruncate, kPath, kLong, 0, 0, 1},
    OpcodeRule{Opcode::kFsync, 0, kP, 0, 0, 1},
    OpcodeRule{Opcode::kReadlink, kPath, kLong, 0, 0, 1},
    OpcodeRule{Opcode::kSymlink, kTwoPaths, kLong, 0, 0, 1},
    OpcodeRule{Opcode::kGetfile, kPath, kLong, 0, 0, 1},
    OpcodeRule{Opcode::kPutfile, kAny, kP, proto::kPutfileFinal, 0, 1},
    OpcodeRule{Opcode::kFtruncate, 0, kP, 0, 0, 1},
    OpcodeRule{Opcode::kSetattr, sizeof(proto::WireSetattr) + kPath, kLong, 0, 0, 2},
    OpcodeRule{Opcode::kLink, kTwoPaths, kLong, 0, 0, 2},
    OpcodeRule{Opcode::kStatfs, kPath, kLong, 0, 0, 2},
    OpcodeRule{Opcode::kFallocate, 0, kP, 0, 0, 2},
    OpcodeRule{Opcode::kBulkRead, 0, kP, proto::kBulkCopyOnly, proto::kFeatureBulk, 1},
    OpcodeRule{Opcode::kBulkWrite, kAny, kP, proto::kBulkCopyOnly, proto::kFeatureBulk, 1},
};

std::atomic<testing::HandlerFault> g_handler_fault{nullptr};

std::string describe(const Request& req) {
  return "request " + std::to_string(req.id) + " (opcode " + std::to_string(req.opcode) + ")";
}

}  // namespace

const OpcodeRule* opcode_rule(uint16_t opcode) {
  for (const OpcodeRule& r : kRules)
    if (static_cast<uint16_t>(r.opcode) == opcode) return &r;
  return nullptr;
}

proto::RequestSlot encode_request(const Call& c, uint64_t id, uint32_t buf_off, uint32_t buf_len) {
  proto::RequestSlot s{};
  s.id = id;
  s.opcode = static_cast<uint16_t>(c.opcode);
  s.flags = c.flags;
  s.buf_off = buf_off;
  s.buf_len = buf_len;
  s.in_len = static_cast<uint32_t>(c.in.size());
  for (int i = 0; i < 4; ++i) s.arg[i] = c.arg[i];
  return s;
}

proto::ResponseSlot encode_response(uint64_t id, const Reply& r) {
  proto::ResponseSlot rsp{};
  rsp.id = id;
  rsp.status = r.status;
  rsp.out_len = r.status == 0 ? r.out_len : 0;
  rsp.val[0] = r.val[0];
  rsp.val[1] = r.val[1];
  return rsp;
}

Result<Reply> decode_response(const proto::ResponseSlot& rsp, size_t out_capacity,
                              uint16_t opcode) {
  if (rsp.out_len > out_capacity)
    return make_error(Errc::kPeerBroken, "host answered opcode " + std::to_string(opcode) +
                                             " with " + std::to_string(rsp.out_len) +
                                             " bytes for a " + std::to_string(out_capacity) +
                                             "-byte buffer");
  return Reply{rsp.status, rsp.out_len, {rsp.val[0], rsp.val[1]}};
}

Request make_request(const proto::RequestSlot& slot, std::span<const std::byte> in,
                     std::span<std::byte> out) {
  Request req;
  req.id = slot.id;
  req.opcode = slot.opcode;
  req.flags = slot.flags;
  for (int i = 0; i < 4; ++i) req.arg[i] = slot.arg[i];
  req.in = SharedBytes(in);
  req.out = out;
  return req;
}

Result<void> check_slot_fields(const proto::RequestSlot& s) {
  if (s.reserved0 != 0 || s.reserved1 != 0)
    return make_error(Errc::kProtocol, "reserved field is not zero (request id " +
                                           std::to_string(s.id) + ", opcode " +
                                           std::to_string(s.opcode) + ")");
  return ok();
}

Result<Request> check_ring_request(const proto::RequestSlot& untrusted_slot,
                                   std::span<std::byte> data_area, const ring::Geometry& g) {
  const proto::RequestSlot& s = untrusted_slot;
  RINGBOX_TRY(check_slot_fields(s));
  auto refuse = [&](const char* rule) {
    return make_error(Errc::kProtocol,
                      std::string(rule) + " (request id " + std::to_string(s.id) + ", opcode " +
                          std::to_string(s.opcode) + ", buffer " + std::to_string(s.buf_off) + "+" +
                          std::to_string(s.buf_len) + ", in_len " + std::to_string(s.in_len) + ")");
  };
  if (s.buf_off % proto::kBufferAlign != 0) return refuse("buffer is not 64-byte aligned");
  if (uint64_t{s.buf_off} + s.buf_len > g.data_bytes() || g.data_bytes() > data_area.size())
    return refuse("buffer lies outside the data area");
  if (s.buf_len > g.max_message_bytes()) return refuse("buffer is larger than one message");
  if (s.in_len > s.buf_len) return refuse("payload is longer than its buffer");
  auto buffer = data_area.subspan(s.buf_off, s.buf_len);
  return make_request(s, buffer.first(s.in_len), buffer);
}

std::optional<Reply> Session::admit(const Request& req) {
  auto refuse = [&](WireError e, const std::string& why) -> std::optional<Reply> {
    ++refused_;
    log::debug("refused " + describe(req) + ": " + why);
    return Reply::error(e);
  };
  const OpcodeRule* rule = opcode_rule(req.opcode);
  if (!ready() && req.opcode != static_cast<uint16_t>(Opcode::kHello))
    return refuse(WireError::kProto, "kHello must come first on a connection");
  if (rule == nullptr) return refuse(WireError::kNoSys, "unknown opcode");
  if ((req.flags & ~rule->flags) != 0) return refuse(WireError::kProto, "flags not allowed");
  if (req.in.size() > rule->max_in)
    return refuse(rule->too_long, "payload of " + std::to_string(req.in.size()) +
                                      " bytes is above the opcode's " +
                                      std::to_string(rule->max_in));
  if (rule->opcode == Opcode::kHello) {
    if (ready()) return refuse(WireError::kProto, "a second kHello");
    uint64_t lo = req.arg[0], hi = req.arg[1];
    if (lo > hi || hi < proto::kVersionMin || lo > proto::kVersionMax)
      return refuse(WireError::kProto, "no common protocol version");
    version_ = static_cast<uint16_t>(std::min<uint64_t>(hi, proto::kVersionMax));
    features_ = req.arg[2] & offered_ & proto::kKnownFeatures;
    Reply r;
    r.val[0] = version_;
    r.val[1] = features_;
    return r;
  }
  if ((rule->feature & ~features_) != 0)
    return refuse(WireError::kNoSys, "feature not granted on this connection");
  if (version_ < rule->min_version)
    return refuse(WireError::kNoSys, "opcode needs a later protocol version");
  return std::nullopt;
}

Reply invoke_handler(Handler& handler, const Request& req, std::string_view peer) {
  auto report = [&](const char* what) noexcept {
    try {
      log::error("handler failed on " + describe(req) + " from " + std::string(peer) + ": " + what +
                 "; answered with an error, serving on");
    } catch (...) {  // no memory even for the message: the answer still goes out
    }
  };
  Reply r;
  try {
    if (auto fault = g_handler_fault.load()) fault(req);
    r = handler.handle(req);
  } catch (const std::bad_alloc&) {
    report("out of memory");
    return Reply::error(WireError::kNoMem);
  } catch (const std::exception& e) {
    report(e.what());
    return Reply::error(WireError::kIo);
  } catch (...) {
    report("an exception of unknown type");
    return Reply::error(WireError::kIo);
  }
  if (r.status == 0 && r.out_len > req.out.size()) {
    report(("handler bug: " + std::to_string(r.out_len) + " reply bytes for a " +
            std::to_string(req.out.size()) + "-byte buffer")
               .c_str());
    return Reply::error(WireError::kIo);
  }
  return r;
}

namespace testing {
void set_handler_fault(HandlerFault fault) {
  g_handler_fault.store(fault);
}
}  // namespace testing

}  // namespace ringbox::rpc
