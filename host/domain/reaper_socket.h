// Line I/O on the owner<->reaper socket pair (the lines are in reaper_protocol.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "shared/util/result.h"

namespace ringbox::host::domain {

// Writes all of `line`; never raises SIGPIPE (MSG_NOSIGNAL): a dead peer is Errc::kPeerGone.
Result<void> send_line(int fd, std::string_view line);

// The next line (without its newline), reading into `buffer` as needed. nullopt: the peer
// closed the socket. timeout_ms < 0 waits forever; expiry is Errc::kTimeout.
Result<std::optional<std::string>> read_line(int fd, std::string& buffer, int timeout_ms);

}  // namespace ringbox::host::domain
