#include <algorithm>
#include <cstring>
#include <vector>

#include "shared/rpc/call.h"
#include "shared/rpc/handler.h"

namespace ringbox::rpc {

using proto::Opcode;
using proto::WireError;

uint64_t fnv1a64(std::span<const std::byte> bytes, uint64_t h) {
  for (std::byte b : bytes) {
    h ^= static_cast<uint8_t>(b);
    h *= 0x100000001b3ull;
  }
  return h;
}

void fill_pattern(std::span<std::byte> out, uint64_t seed) {
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  size_t i = 0;
  for (; i + 8 <= out.size(); i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(out.data() + i, &x, 8);
  }
  for (; i < out.size(); ++i) out[i] = static_cast<std::byte>(x >> (8 * (i % 8)));
}

namespace {
// Source bytes for kBulkRead + kBulkCopyOnly (16 MiB: more than the benchmark's messages).
std::span<const std::byte> bulk_source() {
  static const std::vector<std::byte> bytes = [] {
    std::vector<std::byte> b(size_t{16} << 20);
    fill_pattern(b, 1);
    return b;
  }();
  return bytes;
}
}  // namespace

Reply handle_session_opcode(const Request& req) {
  Reply r;
  switch (static_cast<Opcode>(req.opcode)) {
    case Opcode::kPing: {
      size_t n = std::min(req.in.size(), req.out.size());
      // Opaque: echoed, never interpreted. In-place on the ring (in and out share the buffer).
      if (n > 0 && req.out.data() != req.in.opaque().data())
        std::memmove(req.out.data(), req.in.opaque().data(), n);
      r.out_len = static_cast<uint32_t>(n);
      return r;
    }
    case Opcode::kHeartbeat:
      return r;
    case Opcode::kBulkRead: {
      if (req.arg[0] > req.out.size()) return Reply::error(WireError::kInval);
      auto out = req.out.first(req.arg[0]);
      if (req.flags & proto::kBulkCopyOnly) {
        if (out.size() > bulk_source().size()) return Reply::error(WireError::kInval);
        if (!out.empty()) std::memcpy(out.data(), bulk_source().data(), out.size());
        r.out_len = static_cast<uint32_t>(out.size());
        return r;
      }
      fill_pattern(out, req.arg[1]);
      r.out_len = static_cast<uint32_t>(out.size());
      r.val[0] = fnv1a64(out);  // checksum of what we wrote, computed before the guest can touch it
      return r;
    }
    case Opcode::kBulkWrite:
      if (req.flags & proto::kBulkCopyOnly) {
        thread_local std::vector<std::byte> sink;
        sink.resize(req.in.size());
        req.in.copy_to(sink, 0);
        return r;
      }
      r.val[0] = fnv1a64(req.in.opaque());
      return r;
    default:
      return Reply::error(WireError::kNoSys);
  }
}

void Client::note_hello(const std::array<uint64_t, 4>& args, uint16_t version, uint64_t features) {
  std::lock_guard lk(hello_mu_);
  hello_args_ = args;
  version_ = version;
  features_ = features;
}

std::optional<std::array<uint64_t, 4>> Client::hello_args() const {
  std::lock_guard lk(hello_mu_);
  return hello_args_;
}

Result<uint16_t> negotiate_version(Client& client, uint64_t want_features) {
  Call c;
  c.opcode = Opcode::kHello;
  c.arg = {proto::kVersionMin, proto::kVersionMax, want_features, 0};
  auto r = client.call(c);
  if (!r) return std::move(r.error());
  if (!r->ok())
    return Error{Errc::kProtocol, -r->status,
                 "peer refused protocol versions " + std::to_string(proto::kVersionMin) + ".." +
                     std::to_string(proto::kVersionMax)};
  uint64_t v = r->val[0];
  if (v < proto::kVersionMin || v > proto::kVersionMax)
    return make_error(Errc::kProtocol, "peer chose protocol version " + std::to_string(v) +
                                           " which we never offered");
  if ((r->val[1] & ~want_features) != 0)
    return make_error(Errc::kProtocol, "peer granted feature bits " + std::to_string(r->val[1]) +
                                           " which we never asked for");
  client.note_hello(c.arg, static_cast<uint16_t>(v), r->val[1]);
  return static_cast<uint16_t>(v);
}

Result<void> check_repeated_hello(const Client& client, const Reply& reply) {
  if (!reply.ok() || reply.val[0] != client.version() || reply.val[1] != client.features())
    return make_error(
        Errc::kProtocol,
        "the host answered kHello on a new connection with status " + std::to_string(reply.status) +
            ", version " + std::to_string(reply.val[0]) + ", features " +
            std::to_string(reply.val[1]) + "; the first connection agreed on " +
            std::to_string(client.version()) + " and " + std::to_string(client.features()));
  return ok();
}

}  // namespace ringbox::rpc
