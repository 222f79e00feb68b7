#include "shared/rpc/request_check.h"

#include <string>

namespace ringbox::rpc {

Result<Request> check_ring_request(const proto::RequestSlot& untrusted_slot,
                                   std::span<std::byte> data_area, const ring::Geometry& g) {
  const proto::RequestSlot& s = untrusted_slot;
  auto refuse = [&](const char* rule) {
    return make_error(Errc::kProtocol,
                      std::string(rule) + " (request id " + std::to_string(s.id) + ", opcode " +
                          std::to_string(s.opcode) + ", buffer " + std::to_string(s.buf_off) + "+" +
                          std::to_string(s.buf_len) + ", in_len " + std::to_string(s.in_len) + ")");
  };
  // sanitize start
  if (s.reserved0 != 0 || s.reserved1 != 0) return refuse("reserved field is not zero");
  if (s.buf_off % proto::kBufferAlign != 0) return refuse("buffer is not 64-byte aligned");
  if (uint64_t{s.buf_off} + s.buf_len > g.data_bytes() || g.data_bytes() > data_area.size())
    return refuse("buffer lies outside the data area");
  if (s.buf_len > g.max_message_bytes()) return refuse("buffer is larger than one message");
  if (s.in_len > s.buf_len) return refuse("payload is longer than its buffer");
  // sanitize end
  auto buffer = data_area.subspan(s.buf_off, s.buf_len);
  Request req;
  req.id = s.id;
  req.opcode = s.opcode;
  req.flags = s.flags;
  for (int i = 0; i < 4; ++i) req.arg[i] = s.arg[i];
  req.in = SharedBytes(buffer.first(s.in_len));
  req.out = buffer;
  return req;
}

}  // namespace ringbox::rpc
