// Fuzzes protocol v2's payload decoders (shared/protocol/codec.h): kSetattr (by path and by
// handle), kLink, the WireStatfs reply, rename and fallocate flags and modes. Byte 0 picks the
// decoder, bytes 1..8 are an untrusted u64 argument (split length or flags), the rest the
// payload. Whatever a decoder accepts must satisfy the contract and re-encode to the very bytes
// it came from.
#include <cstring>
#include <string>
#include <string_view>

#include "shared/protocol/codec.h"
#include "tests/fuzz/fuzz_target.h"

using namespace ringbox;
using namespace ringbox::proto;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto in = parse_selector_input(data, size);
  if (!in) return 0;
  const uint64_t arg = in->arg;
  const std::string_view payload = in->payload;
  std::vector<std::byte> out(payload.size() + 64);
  switch (in->which % 5) {
    case 0:
    case 1: {
      const bool by_handle = in->which % 5 == 1;
      auto sa = decode_setattr(payload, by_handle);
      if (!sa) return 0;
      FUZZ_CHECK((sa->attr.valid & ~uint32_t{kSetKnownBits}) == 0);
      FUZZ_CHECK(sa->attr.mode <= 07777);
      FUZZ_CHECK(sa->attr.reserved == 0);
      FUZZ_CHECK(by_handle ? sa->path.empty() : is_canonical_path(sa->path));
      auto n = encode_setattr(sa->attr, sa->path, out);
      FUZZ_CHECK(n && *n == payload.size());
      FUZZ_CHECK(std::memcmp(out.data(), payload.data(), payload.size()) == 0);
      return 0;
    }
    case 2: {
      auto l = decode_link(payload, arg);
      if (!l) return 0;
      FUZZ_CHECK(is_canonical_path(l->from) && is_canonical_path(l->to));
      FUZZ_CHECK(l->from.size() == arg);
      auto n = encode_link(l->from, l->to, out);
      FUZZ_CHECK(n && *n == payload.size());
      FUZZ_CHECK(std::memcmp(out.data(), payload.data(), payload.size()) == 0);
      return 0;
    }
    case 3: {
      auto s = decode_wire_statfs(std::as_bytes(std::span(payload.data(), payload.size())));
      FUZZ_CHECK(s.has_value() == (payload.size() == sizeof(WireStatfs)));
      if (!s) return 0;
      auto n = encode_wire_statfs(*s, out);
      FUZZ_CHECK(n && *n == payload.size());
      FUZZ_CHECK(std::memcmp(out.data(), payload.data(), payload.size()) == 0);
      return 0;
    }
    default: {
      if (auto r = posix_rename_flags_from_wire(arg); r) {
        auto back = wire_rename_flags_from_posix(*r);
        FUZZ_CHECK(back && *back == arg);
      }
      if (auto f = posix_fallocate_mode_from_wire(arg); f) {
        auto back = wire_fallocate_flags_from_posix(*f);
        FUZZ_CHECK(back && *back == arg);
      }
      if (auto m = decode_mode(arg); m) FUZZ_CHECK(*m == arg && arg <= 07777);
      auto o = decode_open_flags(arg);
      if (o) FUZZ_CHECK(o->read || o->write);
      return 0;
    }
  }
}

std::vector<std::vector<uint8_t>> fuzz_seeds() {
  std::vector<std::vector<uint8_t>> seeds;
  auto seed = [&](uint8_t which, uint64_t arg, std::string_view payload) {
    seeds.push_back(selector_seed(which, arg, payload));
  };
  WireSetattr sa{};
  sa.valid = kSetMode | kSetMtime;
  sa.mode = 0755;
  sa.mtime_ns = 981173106000000000;
  std::string head(reinterpret_cast<const char*>(&sa), sizeof(sa));
  seed(0, 0, head + "out/prog");
  seed(1, 0, head);
  seed(2, 8, "in/a.txtout/b");
  WireStatfs s{4096, 4096, 1000, 500, 400, 100, 50, 255};
  seed(3, 0, std::string_view(reinterpret_cast<const char*>(&s), sizeof(s)));
  seed(4, kRenameExchange, "");
  seed(4, kFallocPunchHole | kFallocKeepSize, "");
  return seeds;
}
