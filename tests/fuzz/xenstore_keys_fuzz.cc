// Fuzzes the xenstore handshake values dom0 reads from a guest (shared/transport/xen/
// handshake_keys.h): the six frontend keys (protocol-version, ring-order, data-pages, dir-refs,
// event-channel, state) as arbitrary strings, each possibly missing, and the directory pages'
// grant refs. Input: the keys separated by '\n' ("\x7f" alone stands for a missing node); after
// a NUL byte, the directory page bytes. Whatever validate_frontend_keys() accepts must lie in
// the protocol's ranges and print back to the very strings it read.
#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include "shared/transport/xen/handshake_keys.h"
#include "tests/fuzz/fuzz_target.h"

using namespace ringbox;
using namespace ringbox::transport::xen;

namespace {

std::optional<std::string> key(std::string_view v) {
  if (v == "\x7f") return std::nullopt;
  return std::string(v);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  std::string_view text = in.substr(0, nul);
  std::string_view dir = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);

  std::string_view field[6];
  for (auto& f : field) {
    size_t nl = text.find('\n');
    f = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  RawFrontendKeys raw{key(field[0]), key(field[1]), key(field[2]),
                      key(field[3]), key(field[4]), key(field[5])};

  // Each parser alone, on every field.
  for (std::string_view f : field) {
    if (auto v = parse_decimal(f, 0, std::numeric_limits<uint64_t>::max(), "fuzz")) {
      FUZZ_CHECK(std::to_string(*v) == f);  // canonical decimal only
    }
    if (auto s = parse_state(f, "fuzz")) {
      FUZZ_CHECK(*s >= proto::XenbusState::kInitialising && *s <= proto::XenbusState::kClosed);
    }
    if (auto n = parse_vacate_nonce(f)) FUZZ_CHECK(*n == f && n->size() <= proto::kMaxVacateNonce);
    FUZZ_CHECK(vacate_wait_ms(std::string(f)) <= proto::kMaxVacateWaitMs);
    std::string q = quote_untrusted(f);
    FUZZ_CHECK(q.size() <= 2 + 4 * 40 + 40);
    for (char c : q) FUZZ_CHECK(c >= 0x20 && c < 0x7f);
  }
  const size_t expected = size > 0 ? data[size - 1] % 8 : 1;
  if (auto refs = parse_dir_refs(field[3], expected)) {
    FUZZ_CHECK(refs->size() == expected);
    FUZZ_CHECK(format_dir_refs(*refs) == field[3]);
  }

  // The whole handshake as the backend reads it.
  if (auto p = validate_frontend_keys(raw)) {
    FUZZ_CHECK(p->version >= proto::kVersionMin);
    FUZZ_CHECK(std::to_string(p->version) == field[0]);
    FUZZ_CHECK(std::to_string(p->geometry.ring_order) == field[1]);
    FUZZ_CHECK(std::to_string(p->geometry.data_pages) == field[2]);
    FUZZ_CHECK(p->dir_refs.size() == dir_pages_for(p->geometry.total_pages()));
    FUZZ_CHECK(format_dir_refs(p->dir_refs) == field[3]);
    FUZZ_CHECK(p->event_channel >= 1 && p->event_channel <= proto::kXenMaxEventChannelPort);
    FUZZ_CHECK(std::to_string(p->event_channel) == field[4]);
    FUZZ_CHECK(std::to_string(static_cast<int>(p->state)) == field[5]);
    FUZZ_CHECK(ring::validate_geometry(p->geometry.ring_order, p->geometry.data_pages));

    // The directory pages the refs name: a private copy of hostile bytes.
    std::span<const std::byte> pages(reinterpret_cast<const std::byte*>(dir.data()), dir.size());
    const size_t region_pages = p->geometry.total_pages();
    if (auto region = unpack_region_refs(pages, region_pages)) {
      FUZZ_CHECK(region->size() == region_pages);
      std::vector<std::byte> packed(region_pages * sizeof(uint32_t));
      pack_region_refs(packed, *region);
      FUZZ_CHECK(std::memcmp(packed.data(), pages.data(), packed.size()) == 0);
      std::vector<uint32_t> sorted = *region;  // pairwise distinct: unpack refuses aliases
      std::sort(sorted.begin(), sorted.end());
      FUZZ_CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
    }
  }
  return 0;
}

std::vector<std::vector<uint8_t>> fuzz_seeds() {
  std::vector<std::vector<uint8_t>> seeds;
  auto add = [&](std::string keys, std::string_view dir) {
    if (!dir.empty()) {
      keys += '\0';
      keys += dir;
    }
    seeds.emplace_back(keys.begin(), keys.end());
  };
  // A real frontend: ring order 4, 16 data pages, one directory page, port 7, Initialised.
  auto g = ring::validate_geometry(4, 16);
  FUZZ_CHECK(g.has_value());
  std::string dir(g->total_pages() * 4, '\0');
  for (uint32_t i = 0; i < g->total_pages(); ++i) {
    uint32_t ref = 8 + i;
    std::memcpy(dir.data() + 4 * i, &ref, 4);
  }
  add(std::to_string(proto::kVersionMax) + "\n4\n16\n12\n7\n3", dir);
  add("1\n4\n16\n12\n7\n4", dir);
  add("2\n2\n16\n4294967295\n1\n1", "");
  add("2\n4\n16\n\x7f\n7\n3", "");                    // dir-refs missing
  add("02\n4\n16\n12 13\n-1\n0", "");                 // non-canonical, too many, negative
  add("18446744073709551616\n 4\n16\n12\n7\n6", "");  // one past u64, a space
  add("0123456789abcdef\nffffffff\n", "");            // vacate nonces
  return seeds;
}
