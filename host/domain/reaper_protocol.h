// The few lines the domain's owner and its reaper exchange over their socket pair. Pure
// parsing and formatting, unit-tested; the processes are in reaper.h (owner side) and
// reaper_main.h (reaper side). docs/domain-lifecycle.md describes the ownership model.
//
//   reaper -> owner   "ready <pid>"      libxl context open, armed
//                     "error <text>"     could not start (then it exits)
//                     "released"         acknowledges "release"; it exits without acting
//   owner  -> reaper  "domid <n>"        the domain got this id (for the reaper's log)
//                     "release"          the owner has dealt with the domain: stand down
//   end of file, no "release" first      the owner died: destroy every domain with the uuid
//
// Both ends are the same binary, so the reaper's parser is strict but never fatal: a line it
// does not understand is logged and ignored, because the only safe reading of a confused
// owner is "still alive"; its death (EOF) is what matters.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shared/util/result.h"

namespace ringbox::host::domain::reaper_protocol {

// A line is at most this long, newline included; error texts are cut to fit.
inline constexpr size_t kMaxLineBytes = 512;

struct OwnerMessage {
  enum class Kind { kDomid, kRelease } kind;
  uint32_t domid = 0;  // kDomid
};

struct ReaperMessage {
  enum class Kind { kReady, kError, kReleased } kind;
  int pid = 0;        // kReady
  std::string error;  // kError
};

std::string format_domid(uint32_t domid);
std::string format_release();
std::string format_ready(int pid);
std::string format_error(std::string_view text);  // newlines become spaces, cut to fit
std::string format_released();

// `line` without its newline.
Result<OwnerMessage> parse_owner_message(std::string_view line);
Result<ReaperMessage> parse_reaper_message(std::string_view line);

// Splits complete lines off the front of `buffer` (bytes read so far). Returns the next line
// without its newline, or nullopt when no complete line is buffered yet; fails when more than
// kMaxLineBytes arrive without a newline.
Result<std::optional<std::string>> take_line(std::string& buffer);

}  // namespace ringbox::host::domain::reaper_protocol
