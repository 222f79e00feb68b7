#include "host/domain/reaper_socket.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>

#include "host/domain/reaper_protocol.h"
#include "shared/util/file_io.h"

namespace ringbox::host::domain {

Result<void> send_line(int fd, std::string_view line) {
  auto w = send_all(fd, std::as_bytes(std::span(line)));
  if (w) return ok();
  int err = w.error().sys_errno;
  return Error{err == EPIPE || err == ECONNRESET ? Errc::kPeerGone : Errc::kSystem, err,
               "write to the domain reaper socket"};
}

Result<std::optional<std::string>> read_line(int fd, std::string& buffer, int timeout_ms) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
  for (;;) {
    auto line = reaper_protocol::take_line(buffer);
    if (!line) return std::move(line.error());
    if (*line) return line;
    int wait_ms = -1;
    if (timeout_ms >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0)
        return make_error(Errc::kTimeout, "no answer on the domain reaper socket within " +
                                              std::to_string(timeout_ms) + " ms");
      wait_ms = static_cast<int>(left.count());
    }
    pollfd p{fd, POLLIN, 0};
    int r = poll_retry(&p, 1, wait_ms);
    if (r < 0) return sys_error("poll the domain reaper socket");
    if (r == 0) continue;  // the deadline check above reports the timeout
    char chunk[256];
    ssize_t n = retry_eintr([&] { return ::recv(fd, chunk, sizeof chunk, 0); });
    if (n < 0) {
      if (errno == EAGAIN) continue;
      if (errno == ECONNRESET) return std::optional<std::string>();
      return sys_error("read the domain reaper socket");
    }
    if (n == 0) return std::optional<std::string>();
    buffer.append(chunk, static_cast<size_t>(n));
  }
}

}  // namespace ringbox::host::domain
