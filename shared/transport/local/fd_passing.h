// Sending and receiving a small message with file descriptors over a Unix socket.
#pragma once

#include <span>
#include <vector>

#include "shared/util/unique_fd.h"

namespace ringbox::transport {

Result<void> send_with_fds(int sock, std::span<const std::byte> msg, std::span<const int> fds);
// Receives exactly msg.size() bytes and up to max_fds descriptors (all opened O_CLOEXEC).
Result<std::vector<UniqueFd>> recv_with_fds(int sock, std::span<std::byte> msg, size_t max_fds,
                                            int timeout_ms);

}  // namespace ringbox::transport
