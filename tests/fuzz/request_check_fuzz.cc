// Fuzzes the ring request sanitizer: any slot bytes and any geometry. An accepted request's
// payload and reply buffer must lie inside the data area (every byte is touched, so ASan would
// catch a lie).
#include <cstring>

#include "shared/rpc/request_check.h"
#include "tests/fuzz/fuzz_target.h"

using namespace ringbox;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < sizeof(proto::RequestSlot) + 2) return 0;
  proto::RequestSlot slot;
  std::memcpy(&slot, data, sizeof(slot));
  auto g = ring::validate_geometry(2 + data[sizeof(slot)] % 11, 16 + data[sizeof(slot) + 1] % 64);
  if (!g) return 0;
  // One buffer for every input (a fresh 300 KiB vector each time was most of the cost). The
  // area ends where the buffer ends, so a span past it is still an ASan report.
  static std::vector<std::byte> buffer(size_t{16 + 63} * proto::kPageSize);
  std::span<std::byte> area(buffer.data() + buffer.size() - g->data_bytes(), g->data_bytes());
  auto req = rpc::check_ring_request(slot, area, *g);
  if (!req) return 0;
  FUZZ_CHECK(req->in.size() <= req->out.size());
  FUZZ_CHECK(req->out.data() >= area.data());
  FUZZ_CHECK(req->out.data() + req->out.size() <= area.data() + area.size());
  FUZZ_CHECK(req->out.size() <= g->max_message_bytes());
  std::memset(req->out.data(), 0xab, req->out.size());
  std::vector<std::byte> copy(req->in.size());
  req->in.copy_to(copy, 0);
  return 0;
}

std::vector<std::vector<uint8_t>> fuzz_seeds() {
  std::vector<std::vector<uint8_t>> seeds;
  for (uint32_t off : {0u, 64u, 4096u}) {
    proto::RequestSlot s{};
    s.id = 1;
    s.opcode = static_cast<uint16_t>(proto::Opcode::kPing);
    s.buf_off = off;
    s.buf_len = 128;
    s.in_len = 64;
    std::vector<uint8_t> v(sizeof(s) + 2);
    std::memcpy(v.data(), &s, sizeof(s));
    v[sizeof(s)] = 6;
    v[sizeof(s) + 1] = 10;
    seeds.push_back(v);
  }
  return seeds;
}
