// The one sanitize step (shared/rpc/request_check.h) on its own: the opcode table against the
// contract, the session's state machine, the slot conversions. The transports' tests
// (ring_rpc_test, stream_rpc_test) show both apply it.
#include "shared/rpc/request_check.h"

#include <catch2/catch.hpp>
#include <vector>

#include "shared/protocol/codec.h"

using namespace ringbox;
using proto::Opcode;
using proto::WireError;

namespace {

rpc::Request request(Opcode op, std::span<const std::byte> in = {}, uint16_t flags = 0,
                     std::array<uint64_t, 4> arg = {}) {
  rpc::Request r;
  r.id = 1;
  r.opcode = static_cast<uint16_t>(op);
  r.flags = flags;
  r.arg = arg;
  r.in = rpc::SharedBytes(in);
  return r;
}

WireError refusal(rpc::Session& s, const rpc::Request& r) {
  auto a = s.admit(r);
  REQUIRE(a.has_value());
  return static_cast<WireError>(-a->status);
}

}  // namespace

TEST_CASE("every opcode of the contract has a rule and nothing else has one", "[rpc][sanitize]") {
  int defined = 0;
  for (uint32_t op = 0; op <= 0xffff; ++op) {
    const rpc::OpcodeRule* r = rpc::opcode_rule(static_cast<uint16_t>(op));
    if (r == nullptr) continue;
    ++defined;
    CHECK(static_cast<uint16_t>(r->opcode) == op);
  }
  // kHello..kHeartbeat, five job opcodes, 32..54, the two bulk opcodes.
  CHECK(defined == 3 + 5 + 23 + 2);
  CHECK(rpc::opcode_rule(static_cast<uint16_t>(Opcode::kPutfile))->flags == proto::kPutfileFinal);
  CHECK(rpc::opcode_rule(static_cast<uint16_t>(Opcode::kBulkRead))->feature == proto::kFeatureBulk);
}

TEST_CASE("a session admits nothing before kHello and one kHello only", "[rpc][sanitize]") {
  rpc::Session s(proto::kFeatureBulk);
  CHECK(refusal(s, request(Opcode::kPing)) == WireError::kProto);
  CHECK(refusal(s, request(static_cast<Opcode>(999))) == WireError::kProto);
  // No common version: refused, and still not ready.
  CHECK(refusal(s, request(Opcode::kHello, {}, 0, {1, 1, 0, 0})) == WireError::kProto);
  CHECK_FALSE(s.ready());
  // Flags on kHello: refused.
  CHECK(refusal(s, request(Opcode::kHello, {}, 1, {2, 2, 0, 0})) == WireError::kProto);
  auto hello = s.admit(request(Opcode::kHello, {}, 0, {1, 9, ~uint64_t{0}, 0}));
  REQUIRE(hello);
  CHECK(hello->ok());
  CHECK(hello->val[0] == proto::kVersionMax);
  CHECK(hello->val[1] == proto::kFeatureBulk);  // unknown bits asked for are not granted
  CHECK(s.ready());
  CHECK(s.features() == proto::kFeatureBulk);
  CHECK_FALSE(s.admit(request(Opcode::kPing)).has_value());  // the handler runs it
  CHECK_FALSE(s.admit(request(Opcode::kBulkRead, {}, proto::kBulkCopyOnly)).has_value());
  CHECK(refusal(s, request(Opcode::kHello, {}, 0, {2, 2, 0, 0})) == WireError::kProto);
  CHECK(refusal(s, request(static_cast<Opcode>(999))) == WireError::kNoSys);
  CHECK(s.refused() == 6);
}

TEST_CASE("the opcode table bounds payloads and flags", "[rpc][sanitize]") {
  rpc::Session s;  // offers nothing
  REQUIRE(s.admit(request(Opcode::kHello, {}, 0, {2, 2, proto::kFeatureBulk, 0})));
  CHECK(s.features() == 0);
  CHECK(refusal(s, request(Opcode::kBulkWrite)) == WireError::kNoSys);
  std::vector<std::byte> path(proto::kMaxPathBytes, std::byte{'a'});
  CHECK_FALSE(s.admit(request(Opcode::kStat, path)).has_value());  // the decoder's turn
  path.push_back(std::byte{'a'});
  CHECK(refusal(s, request(Opcode::kStat, path)) == WireError::kNameTooLong);
  CHECK(refusal(s, request(Opcode::kClose, std::span(path).first(1))) == WireError::kProto);
  CHECK(refusal(s, request(Opcode::kStat, std::span(path).first(3), 4)) == WireError::kProto);
  CHECK_FALSE(s.admit(request(Opcode::kPutfile, path, proto::kPutfileFinal)).has_value());
  CHECK(refusal(s, request(Opcode::kPutfile, path, 2)) == WireError::kProto);
}

TEST_CASE("slot conversions: one reply rule for every transport", "[rpc][sanitize]") {
  rpc::Call c;
  c.opcode = Opcode::kPread;
  c.flags = 0;
  c.arg = {1, 2, 3, 4};
  std::vector<std::byte> in(5);
  c.in = in;
  auto slot = rpc::encode_request(c, 77, 128, 256);
  CHECK(slot.id == 77);
  CHECK(slot.buf_off == 128);
  CHECK(slot.buf_len == 256);
  CHECK(slot.in_len == 5);
  CHECK(slot.reserved0 == 0);
  CHECK(slot.arg[3] == 4);
  CHECK(rpc::check_slot_fields(slot));
  slot.reserved1 = 1;
  CHECK_FALSE(rpc::check_slot_fields(slot));

  // An error reply never carries payload bytes, whatever the handler said.
  auto rsp = rpc::encode_response(5, rpc::Reply{-5, 100, {7, 8}});
  CHECK(rsp.out_len == 0);
  CHECK(rsp.val[0] == 7);
  // The client refuses a reply longer than its buffer.
  rsp = rpc::encode_response(5, rpc::Reply{0, 100, {}});
  CHECK_FALSE(rpc::decode_response(rsp, 99, 2));
  auto fine = rpc::decode_response(rsp, 100, 2);
  REQUIRE(fine);
  CHECK(fine->out_len == 100);
}

TEST_CASE("the firewall answers exceptions and oversized replies", "[rpc][firewall]") {
  struct Thrower final : rpc::Handler {
    int mode = 0;
    rpc::Reply handle(const rpc::Request& req) override {
      if (mode == 1) throw std::bad_alloc();
      if (mode == 2) throw std::logic_error("bug");
      if (mode == 3) throw "a C string";
      rpc::Reply r;
      r.out_len = static_cast<uint32_t>(req.out.size()) + (mode == 4 ? 1 : 0);
      return r;
    }
  } h;
  std::vector<std::byte> out(16);
  auto req = request(Opcode::kPing);
  req.out = out;
  h.mode = 1;
  CHECK(rpc::invoke_handler(h, req, "test").status == -static_cast<int32_t>(WireError::kNoMem));
  h.mode = 2;
  CHECK(rpc::invoke_handler(h, req, "test").status == -static_cast<int32_t>(WireError::kIo));
  h.mode = 3;
  CHECK(rpc::invoke_handler(h, req, "test").status == -static_cast<int32_t>(WireError::kIo));
  h.mode = 4;
  CHECK(rpc::invoke_handler(h, req, "test").status == -static_cast<int32_t>(WireError::kIo));
  h.mode = 0;
  auto fine = rpc::invoke_handler(h, req, "test");
  CHECK(fine.ok());
  CHECK(fine.out_len == 16);
}

TEST_CASE("wire errors and errno map both ways through one table", "[protocol][errors]") {
  for (int32_t v = 0; v <= 200; ++v) {
    const int32_t status = -v;
    const bool defined = proto::is_wire_status(status);
    const int err = proto::errno_from_wire_status(status);
    if (defined) {
      CAPTURE(v);
      CHECK(proto::wire_error_from_errno(err) == static_cast<WireError>(v));
    } else {
      CHECK(err == EIO);
    }
  }
  CHECK(proto::is_wire_status(-static_cast<int32_t>(WireError::kStale)));
  CHECK_FALSE(proto::is_wire_status(-3));
  CHECK_FALSE(proto::is_wire_status(5));
  CHECK(proto::wire_error_from_errno(ENFILE) == WireError::kMFile);
  CHECK(proto::wire_error_from_errno(EDQUOT) == WireError::kNoSpc);
  CHECK(proto::wire_error_from_errno(EHWPOISON) == WireError::kIo);
}
