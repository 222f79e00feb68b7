// The xenstore handshake's values: paths, key names, and the parsers that turn what a hostile
// guest wrote into checked numbers (the key contract itself is in
// shared/protocol/ringbox_proto.h, "Xen handshake"). Pure functions, no Xen calls, so every
// hostile value can be tried in a unit test.
//
// Trust: every string handed to a parse_* or validate_* function is untrusted. They accept only
// canonical decimal (digits, no sign, no spaces, no leading zeros) within the protocol's ranges,
// and their error messages quote the offending value escaped and truncated.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/protocol/ringbox_proto.h"
#include "shared/ring/layout.h"
#include "shared/util/result.h"

namespace ringbox::transport::xen {

// A vacate nonce: 1..proto::kMaxVacateNonce lowercase hex digits.
Result<std::string> parse_vacate_nonce(std::string_view untrusted);
// The frontend's budget (ms) for a vacate, from the backend's vacate-wait-ms (nullopt: absent):
// proto::kDefaultVacateWaitMs when absent or not a decimal in [0, proto::kMaxVacateWaitMs].
uint64_t vacate_wait_ms(const std::optional<std::string>& raw);

// /local/domain/<domid>/data/ringbox: written by the guest (proto::kXenFrontendDir*).
std::string frontend_dir(uint32_t domid);
// /local/domain/0/backend/ringbox/<domid>: written by dom0, readable by the guest
// (proto::kXenBackendDirParent).
std::string backend_dir(uint32_t domid);

// Directory pages needed to list one grant ref (u32) per region page.
size_t dir_pages_for(size_t region_pages);

// `untrusted` quoted for a log line: at most 40 bytes, non-printable bytes as \xNN.
std::string quote_untrusted(std::string_view untrusted);

// Canonical decimal in [min, max]. `what` names the value in the error.
Result<uint64_t> parse_decimal(std::string_view untrusted, uint64_t min, uint64_t max,
                               std::string_view what);
// A XenbusState other than Unknown.
Result<proto::XenbusState> parse_state(std::string_view untrusted, std::string_view what);
// Exactly `expected` grant refs, separated by single spaces.
Result<std::vector<uint32_t>> parse_dir_refs(std::string_view untrusted, size_t expected);
std::string format_dir_refs(std::span<const uint32_t> refs);

// The frontend's keys as read from xenstore (nullopt: the node was missing).
struct RawFrontendKeys {
  std::optional<std::string> protocol_version;
  std::optional<std::string> ring_order;
  std::optional<std::string> data_pages;
  std::optional<std::string> dir_refs;
  std::optional<std::string> event_channel;
  std::optional<std::string> state;
};

// What the backend may use after validate_frontend_keys().
struct FrontendParams {
  uint16_t version = 0;  // the frontend's highest protocol version
  ring::Geometry geometry;
  std::vector<uint32_t> dir_refs;
  uint32_t event_channel = 0;
  proto::XenbusState state = proto::XenbusState::kUnknown;
};

Result<FrontendParams> validate_frontend_keys(const RawFrontendKeys& untrusted);

// Writes refs into directory pages as packed little-endian u32 (the guest's side).
void pack_region_refs(std::span<std::byte> dir, std::span<const uint32_t> refs);
// Reads `region_pages` refs from a PRIVATE copy of the directory pages (the host's side) and
// rejects a list that names one grant twice: a legitimate frontend never aliases two region
// pages, and refusing it keeps "one ref, one page" true for everything after.
Result<std::vector<uint32_t>> unpack_region_refs(std::span<const std::byte> dir_copy,
                                                 size_t region_pages);

}  // namespace ringbox::transport::xen
