// Fuzzes the TCP transport's server side: arbitrary bytes arrive on the stream. The server
// must answer or drop the connection, never crash or over-read.
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>

#include "shared/transport/tcp/stream_rpc.h"
#include "shared/transport/tcp/tcp_socket.h"
#include "tests/fuzz/fuzz_target.h"

using namespace ringbox;

namespace {
class SessionHandler final : public rpc::Handler {
 public:
  rpc::Reply handle(const rpc::Request& r) override { return rpc::handle_session_opcode(r); }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;  // must fit the socket buffer: we write all before serving
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 0;
  UniqueFd client(sv[0]), server(sv[1]);
  int big = 1 << 20;
  ::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
  ::setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
  if (size > 0 && !transport::write_all(client.get(), data, size)) return 0;
  ::shutdown(client.get(), SHUT_WR);
  SessionHandler h;
  // Bulk granted when asked, so the fuzzer reaches every session opcode.
  (void)transport::serve_stream(server.get(), h, {.features = proto::kFeatureBulk});
  return 0;
}

namespace {
// One request frame: header, slot, payload_len bytes of 'A'.
void append_frame(std::vector<uint8_t>& v, uint16_t op, std::array<uint64_t, 4> arg,
                  uint32_t payload_len, uint32_t buf_len) {
  proto::FrameHeader h{proto::kMagic, proto::kVersionMax, 1, 0, payload_len, 0};
  proto::RequestSlot s{};
  s.id = 9;
  s.opcode = op;
  s.buf_len = buf_len;
  s.in_len = payload_len;
  for (int i = 0; i < 4; ++i) s.arg[i] = arg[i];
  size_t at = v.size();
  v.resize(at + sizeof(h) + sizeof(s) + payload_len, 0x41);
  std::memcpy(v.data() + at, &h, sizeof(h));
  std::memcpy(v.data() + at + sizeof(h), &s, sizeof(s));
}
}  // namespace

std::vector<std::vector<uint8_t>> fuzz_seeds() {
  std::vector<std::vector<uint8_t>> seeds;
  // A kHello (asking for bulk), then each session opcode: the path a real client takes.
  for (uint16_t op : {2, 3, 64, 65}) {
    std::vector<uint8_t> v;
    append_frame(v, 1, {2, 2, proto::kFeatureBulk, 0}, 0, 0);
    append_frame(v, op, {op == 64 ? 16u : 1u, 1, 0, 0}, op == 64 ? 0 : 16, 32);
    seeds.push_back(v);
  }
  // An opcode before kHello, and a second kHello.
  std::vector<uint8_t> early;
  append_frame(early, 2, {}, 16, 32);
  append_frame(early, 1, {2, 2, 0, 0}, 0, 0);
  append_frame(early, 1, {2, 2, 0, 0}, 0, 0);
  seeds.push_back(early);
  return seeds;
}
