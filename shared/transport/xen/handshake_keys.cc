#include "shared/transport/xen/handshake_keys.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace ringbox::transport::xen {
namespace {

constexpr size_t kQuoteMaxBytes = 40;
// Longest canonical decimal of a u64.
constexpr size_t kMaxDecimalDigits = 20;

Error bad_key(std::string_view what, std::string_view untrusted, std::string_view why) {
  return make_error(Errc::kPeerBroken, std::string(what) + " is " + quote_untrusted(untrusted) +
                                           ": " + std::string(why));
}

void put_le32(std::byte* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}

uint32_t get_le32(const std::byte* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

}  // namespace

std::string frontend_dir(uint32_t domid) {
  return proto::kXenFrontendDirParent + std::to_string(domid) + proto::kXenFrontendDirLeaf;
}

std::string backend_dir(uint32_t domid) {
  return proto::kXenBackendDirParent + std::to_string(domid);
}

size_t dir_pages_for(size_t region_pages) {
  return (region_pages * sizeof(uint32_t) + proto::kPageSize - 1) / proto::kPageSize;
}

std::string quote_untrusted(std::string_view untrusted) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (size_t i = 0; i < untrusted.size() && i < kQuoteMaxBytes; ++i) {
    auto c = static_cast<unsigned char>(untrusted[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  out += '\'';
  if (untrusted.size() > kQuoteMaxBytes)
    out += " (" + std::to_string(untrusted.size()) + " bytes, truncated)";
  return out;
}

Result<uint64_t> parse_decimal(std::string_view untrusted, uint64_t min, uint64_t max,
                               std::string_view what) {
  // sanitize start
  if (untrusted.empty()) return bad_key(what, untrusted, "empty");
  if (untrusted.size() > kMaxDecimalDigits)
    return bad_key(what, untrusted, "longer than any number we accept");
  if (untrusted.size() > 1 && untrusted[0] == '0')
    return bad_key(what, untrusted, "leading zero (not canonical decimal)");
  uint64_t v = 0;
  for (char c : untrusted) {
    if (c < '0' || c > '9') return bad_key(what, untrusted, "not a decimal number");
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10)
      return bad_key(what, untrusted, "too large");
    v = v * 10 + digit;
  }
  if (v < min || v > max)
    return bad_key(what, untrusted, "outside " + std::to_string(min) + ".." + std::to_string(max));
  // sanitize end
  return v;
}

Result<proto::XenbusState> parse_state(std::string_view untrusted, std::string_view what) {
  auto v = parse_decimal(untrusted, static_cast<uint64_t>(proto::XenbusState::kInitialising),
                         static_cast<uint64_t>(proto::XenbusState::kClosed), what);
  if (!v) return std::move(v.error());
  return static_cast<proto::XenbusState>(*v);
}

Result<std::vector<uint32_t>> parse_dir_refs(std::string_view untrusted, size_t expected) {
  std::vector<uint32_t> refs;
  size_t pos = 0;
  // sanitize start
  while (pos <= untrusted.size()) {
    size_t space = untrusted.find(' ', pos);
    std::string_view token = untrusted.substr(
        pos, space == std::string_view::npos ? std::string_view::npos : space - pos);
    if (refs.size() == expected)
      return bad_key(
          "frontend key dir-refs", untrusted,
          "more than the " + std::to_string(expected) + " directory refs its geometry needs");
    auto ref = parse_decimal(token, 0, std::numeric_limits<uint32_t>::max(),
                             "grant ref " + std::to_string(refs.size()) + " of dir-refs");
    if (!ref) return std::move(ref.error());
    refs.push_back(static_cast<uint32_t>(*ref));
    if (space == std::string_view::npos) break;
    pos = space + 1;
  }
  if (refs.size() != expected)
    return bad_key("frontend key dir-refs", untrusted,
                   "lists " + std::to_string(refs.size()) + " refs, its geometry needs " +
                       std::to_string(expected));
  // sanitize end
  return refs;
}

std::string format_dir_refs(std::span<const uint32_t> refs) {
  std::string out;
  for (uint32_t r : refs) {
    if (!out.empty()) out += ' ';
    out += std::to_string(r);
  }
  return out;
}

Result<FrontendParams> validate_frontend_keys(const RawFrontendKeys& untrusted) {
  struct Field {
    const std::optional<std::string>& value;
    const char* key;
  };
  for (const Field& f : {Field{untrusted.protocol_version, proto::kKeyProtocolVersion},
                         Field{untrusted.ring_order, proto::kKeyRingOrder},
                         Field{untrusted.data_pages, proto::kKeyDataPages},
                         Field{untrusted.dir_refs, proto::kKeyDirRefs},
                         Field{untrusted.event_channel, proto::kKeyEventChannel},
                         Field{untrusted.state, proto::kKeyState}}) {
    if (!f.value)
      return make_error(Errc::kPeerBroken, std::string("frontend key ") + f.key + " is missing");
  }
  FrontendParams p;
  // sanitize start
  auto version = parse_decimal(*untrusted.protocol_version, 1, std::numeric_limits<uint16_t>::max(),
                               "frontend key protocol-version");
  if (!version) return std::move(version.error());
  if (*version < proto::kVersionMin)
    return make_error(Errc::kProtocol, "the frontend speaks protocol versions up to " +
                                           std::to_string(*version) + ", we need at least " +
                                           std::to_string(proto::kVersionMin) +
                                           ": update ringbox-agent in the guest image");
  p.version = static_cast<uint16_t>(*version);
  auto order = parse_decimal(*untrusted.ring_order, proto::kMinRingOrder, proto::kMaxRingOrder,
                             "frontend key ring-order");
  if (!order) return std::move(order.error());
  auto pages = parse_decimal(*untrusted.data_pages, proto::kMinDataPages, proto::kMaxDataPages,
                             "frontend key data-pages");
  if (!pages) return std::move(pages.error());
  auto g = ring::validate_geometry(static_cast<uint32_t>(*order), static_cast<uint32_t>(*pages));
  if (!g) return std::move(g.error());
  p.geometry = *g;
  auto dir = parse_dir_refs(*untrusted.dir_refs, dir_pages_for(g->total_pages()));
  if (!dir) return std::move(dir.error());
  p.dir_refs = std::move(*dir);
  auto port = parse_decimal(*untrusted.event_channel, 1, proto::kXenMaxEventChannelPort,
                            "frontend key event-channel");
  if (!port) return std::move(port.error());
  p.event_channel = static_cast<uint32_t>(*port);
  auto state = parse_state(*untrusted.state, "frontend key state");
  if (!state) return std::move(state.error());
  p.state = *state;
  // sanitize end
  return p;
}

void pack_region_refs(std::span<std::byte> dir, std::span<const uint32_t> refs) {
  std::fill(dir.begin(), dir.end(), std::byte{0});
  for (size_t i = 0; i < refs.size() && (i + 1) * 4 <= dir.size(); ++i)
    put_le32(dir.data() + i * 4, refs[i]);
}

Result<std::vector<uint32_t>> unpack_region_refs(std::span<const std::byte> dir_copy,
                                                 size_t region_pages) {
  if (dir_copy.size() < region_pages * sizeof(uint32_t))
    return make_error(Errc::kInvalidArgument,
                      "directory copy of " + std::to_string(dir_copy.size()) +
                          " bytes cannot hold " + std::to_string(region_pages) + " grant refs");
  std::vector<uint32_t> refs(region_pages);
  for (size_t i = 0; i < region_pages; ++i) refs[i] = get_le32(dir_copy.data() + i * 4);
  // sanitize start
  std::vector<uint32_t> sorted = refs;
  std::sort(sorted.begin(), sorted.end());
  auto dup = std::adjacent_find(sorted.begin(), sorted.end());
  if (dup != sorted.end())
    return make_error(Errc::kPeerBroken, "the frontend's directory pages list grant ref " +
                                             std::to_string(*dup) +
                                             " for more than one region page");
  // sanitize end
  return refs;
}

Result<std::string> parse_vacate_nonce(std::string_view untrusted) {
  bool ok_chars = !untrusted.empty() && untrusted.size() <= proto::kMaxVacateNonce;
  for (char c : untrusted)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) ok_chars = false;
  if (!ok_chars)
    return make_error(Errc::kInvalidArgument,
                      "vacate nonce " + quote_untrusted(untrusted) + " is not 1.." +
                          std::to_string(proto::kMaxVacateNonce) + " lowercase hex digits");
  return std::string(untrusted);
}

uint64_t vacate_wait_ms(const std::optional<std::string>& raw) {
  if (!raw) return proto::kDefaultVacateWaitMs;
  auto ms = parse_decimal(*raw, 0, proto::kMaxVacateWaitMs, proto::kKeyVacateWaitMs);
  return ms ? *ms : proto::kDefaultVacateWaitMs;
}

}  // namespace ringbox::transport::xen
