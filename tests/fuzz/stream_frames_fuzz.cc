// Fuzzes the TCP transport's server side: arbitrary bytes arrive on the stream. The server
// must answer or drop the connection, never crash or over-read.
#include <sys/socket.h>
#include <unistd.h>

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
  (void)transport::serve_stream(server.get(), h);  // ok or a clean error: both pass
  return 0;
}

std::vector<std::vector<uint8_t>> fuzz_seeds() {
  std::vector<std::vector<uint8_t>> seeds;
  for (uint16_t op : {1, 2, 64, 65}) {
    proto::FrameHeader h{proto::kMagic, 1, 1, 0, 16, 0};
    proto::RequestSlot s{};
    s.id = 9;
    s.opcode = op;
    s.buf_len = 32;
    s.in_len = 16;
    s.arg[0] = op == 64 ? 16 : 1;
    s.arg[1] = 1;
    std::vector<uint8_t> v(sizeof(h) + sizeof(s) + 16, 0x41);
    std::memcpy(v.data(), &h, sizeof(h));
    std::memcpy(v.data() + sizeof(h), &s, sizeof(s));
    seeds.push_back(v);
  }
  return seeds;
}
