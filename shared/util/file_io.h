// The one EINTR-safe I/O helper of ringbox: whole-buffer transfers that retry EINTR and short
// transfers, and retry_eintr/poll_retry for single calls. Code elsewhere does not write its own
// `if (errno == EINTR) continue;` loop; only a loop that must do more on EINTR keeps its own
// (re-check a stop flag between slices, hand libxl its poll results, wake a signal waiter).
//
// Positional (read_fully/write_fully): files at an offset. Used by the file service, whose
// buffers may be the ring's data area (file bytes are opaque: never interpreted, so they move
// between the data area and the file with no staging copy), by the HTCondor wrapper's saved
// streams, by ringbox-submitd and by the agent's local cache.
// Stream (read_all/write_all/send_all): pipes, sockets, and files at their current offset.
// Blocking descriptors: EAGAIN from a non-blocking one is returned as an error.
//
// Sizes are bytes. Errors are Errc::kSystem with the errno of the failed call; callers rewrap
// them with what they were doing (sys_error(e.sys_errno, "write the transfer log ...")).
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <cerrno>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "shared/util/result.h"

namespace ringbox {

// Reads until out is full or end of file; returns the bytes read. An error after some bytes
// were read ends the read short (the next call sees the error).
Result<size_t> read_fully(int fd, std::span<std::byte> out, off_t offset);
// Writes all of data unless an error stops it; returns the bytes written. An error after some
// bytes were written is a short write, reported as such.
Result<size_t> write_fully(int fd, std::span<const std::byte> data, off_t offset);

// read(2) until out is full or end of file; returns the bytes read (fewer than out.size()
// only at end of file). An error is returned even after some bytes were read: on a stream
// those bytes are consumed, and a caller cannot resume a half-read message.
Result<size_t> read_all(int fd, std::span<std::byte> out);
// write(2) until all of data is written. An error is returned even after some bytes were
// written; a write(2) that returns 0 is EIO.
Result<void> write_all(int fd, std::span<const std::byte> data);
// write_all for sockets: send(2) with MSG_NOSIGNAL, so a peer that went away is EPIPE (or
// ECONNRESET) to handle, not a SIGPIPE that kills the process.
Result<void> send_all(int fd, std::span<const std::byte> data);

// Replaces the file at path with text, whole or not at all, also across a crash: writes a new
// path.tmp (exactly mode, whatever the umask; a leftover or a symlink there is removed, never
// followed), syncs and closes it and renames it over path. For small state files that
// another program polls (a port, a domain id, a .chirp.config). Errors name the step and file;
// a failed replace removes path.tmp.
Result<void> replace_file(const std::string& path, std::string_view text, mode_t mode);

// Calls f() again while it returns -1 with errno EINTR; returns its last result, with errno as
// that call left it. For one system call that returns -1 on error (waitpid, read, accept4,
// openat, fallocate, sendmsg ...):
//   pid_t r = retry_eintr([&] { return ::waitpid(pid, &status, 0); });
// f runs again whole, so a wait with a deadline computes its timeout inside f (or uses
// poll_retry): retrying with the first timeout would stretch the wait at every signal.
template <class F>
auto retry_eintr(F&& f) -> decltype(f()) {
  static_assert(std::is_signed_v<decltype(f())>, "retry_eintr: f returns -1 on error");
  for (;;) {
    auto r = f();
    if (r != -1 || errno != EINTR) return r;
  }
}

// poll(2) that retries EINTR with what is left of timeout_ms (negative: no timeout), so a
// signal neither ends the wait early nor stretches it. Returns what poll returns: the number of
// ready entries, 0 when timeout_ms passed, -1 with errno on another error.
int poll_retry(pollfd* fds, nfds_t count, int timeout_ms);

}  // namespace ringbox
