#include "host/domain/reaper_protocol.h"

#include <charconv>

namespace ringbox::host::domain::reaper_protocol {
namespace {

// Canonical decimal (no sign, no leading zero) in [min, max].
std::optional<uint64_t> parse_number(std::string_view s, uint64_t min, uint64_t max) {
  if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < min || v > max) return std::nullopt;
  return v;
}

Error bad_line(std::string_view who, std::string_view line) {
  std::string shown(line.substr(0, 60));
  for (char& c : shown)
    if (c < 0x20 || c > 0x7e) c = '?';
  return make_error(Errc::kProtocol,
                    "unexpected line from the " + std::string(who) + ": '" + shown + "'");
}

}  // namespace

std::string format_domid(uint32_t domid) {
  return "domid " + std::to_string(domid) + "\n";
}
std::string format_release() {
  return "release\n";
}
std::string format_ready(int pid) {
  return "ready " + std::to_string(pid) + "\n";
}
std::string format_released() {
  return "released\n";
}

std::string format_error(std::string_view text) {
  std::string line = "error ";
  for (char c : text) line.push_back(c == '\n' || c == '\r' ? ' ' : c);
  if (line.size() > kMaxLineBytes - 1) line.resize(kMaxLineBytes - 1);
  line.push_back('\n');
  return line;
}

Result<OwnerMessage> parse_owner_message(std::string_view line) {
  if (line == "release") return OwnerMessage{OwnerMessage::Kind::kRelease, 0};
  if (line.starts_with("domid ")) {
    // Guest domain ids are 1..0x7fef (DOMID_FIRST_RESERVED - 1).
    auto v = parse_number(line.substr(6), 1, 0x7fef);
    if (v) return OwnerMessage{OwnerMessage::Kind::kDomid, static_cast<uint32_t>(*v)};
  }
  return bad_line("domain owner", line);
}

Result<ReaperMessage> parse_reaper_message(std::string_view line) {
  if (line == "released") return ReaperMessage{ReaperMessage::Kind::kReleased, 0, {}};
  if (line.starts_with("ready ")) {
    auto v = parse_number(line.substr(6), 1, 0x7fffffff);
    if (v) return ReaperMessage{ReaperMessage::Kind::kReady, static_cast<int>(*v), {}};
  }
  if (line.starts_with("error "))
    return ReaperMessage{ReaperMessage::Kind::kError, 0, std::string(line.substr(6))};
  return bad_line("domain reaper", line);
}

Result<std::optional<std::string>> take_line(std::string& buffer) {
  auto nl = buffer.find('\n');
  if (nl == std::string::npos) {
    if (buffer.size() >= kMaxLineBytes)
      return make_error(Errc::kTooLarge, "a line of more than " + std::to_string(kMaxLineBytes) +
                                             " bytes on the reaper socket");
    return std::optional<std::string>();
  }
  if (nl + 1 > kMaxLineBytes)
    return make_error(Errc::kTooLarge, "a line of more than " + std::to_string(kMaxLineBytes) +
                                           " bytes on the reaper socket");
  std::string line = buffer.substr(0, nl);
  buffer.erase(0, nl + 1);
  return std::optional<std::string>(std::move(line));
}

}  // namespace ringbox::host::domain::reaper_protocol
