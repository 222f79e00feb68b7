// Stream: one Chirp connection's byte stream (a non-blocking TCP socket) with a read buffer,
// bounded line reads and deadlines. Used by the client and the server alike.
//
// Every wait is bounded: a line must arrive whole before its deadline (so a peer sending one
// byte a second is cut off, not served forever), and a payload must keep a minimum rate
// (Timeouts::min_rate_bytes_per_s). A peer that closes is Errc::kPeerGone, a deadline is
// Errc::kTimeout, a line longer than asked for is Errc::kTooLarge; after any of these the
// stream is unusable (the caller drops the connection: Chirp has no resynchronisation).
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <span>
#include <string>

#include "shared/util/unique_fd.h"

namespace ringbox::chirp {

struct Timeouts {
  int idle_ms = 60'000;  // waiting for the first byte of a line (a request or a response)
  int line_ms = 10'000;  // the rest of a line once its first byte arrived
  int io_ms = 10'000;    // any payload: at least this long...
  int64_t min_rate_bytes_per_s = 1 << 20;  // ...plus size / this rate
};

class Stream {
 public:
  Stream() = default;
  Stream(UniqueFd fd, Timeouts t);  // makes fd non-blocking

  int fd() const { return fd_.get(); }
  explicit operator bool() const { return static_cast<bool>(fd_); }
  const Timeouts& timeouts() const { return t_; }
  void set_timeouts(const Timeouts& t) { t_ = t; }
  // Bytes already received and not yet consumed.
  size_t buffered() const { return wpos_ - rpos_; }

  // One line without its LF (a trailing CR is kept; the codec strips it). kTooLarge when no LF
  // comes within max_bytes.
  Result<std::string> read_line(size_t max_bytes);
  // Exactly out.size() bytes.
  Result<void> read_exact(std::span<std::byte> out);
  // Reads and drops n bytes.
  Result<void> discard(uint64_t n);
  // Writes every byte of every part.
  Result<void> write_all(std::span<const iovec> parts);
  Result<void> write_all(std::string_view s);
  // Receives exactly len payload bytes into the regular file file_fd at offset: the bytes
  // already buffered with pwrite(2), the rest socket -> pipe -> file with splice(2), so no byte
  // is copied through user space (recv + pwrite when the file system cannot splice). Large
  // uploads (8 MiB and more) use a second thread for pipe -> file, so the TCP receive and the
  // file write run on two cores at once (docs/benchmarks.md). A failed
  // write to the file does not stop the receive: the rest is read and dropped, so the stream
  // stays in step, and *file_errno holds the write's errno (0 when every byte was written).
  // Errors are the stream's own (kPeerGone, kTimeout, ...): then the stream is unusable.
  Result<void> recv_to_file(int file_fd, uint64_t offset, uint64_t len, int* file_errno);
  // Sends len bytes of file_fd from offset (sendfile(2), no copy through user space). kPeerBroken
  // if the file ends early: the peer was promised len bytes, so the stream is unusable.
  Result<void> send_file(int file_fd, uint64_t offset, uint64_t len);

  // Closes the socket (the peer sees EOF).
  void close() { fd_.reset(); }

 private:
  using Clock = std::chrono::steady_clock;
  // Waits for events until deadline: kTimeout after it, kPeerGone on HUP/ERR without data.
  Result<void> wait(short events, Clock::time_point deadline);
  Result<size_t> fill(Clock::time_point deadline);  // reads once into the buffer
  Clock::time_point payload_deadline(uint64_t bytes) const;
  // Moves len bytes socket -> pipe wr with splice(2), calling moved(n) after each splice.
  Result<void> splice_to_pipe(int wr, uint64_t len, Clock::time_point deadline,
                              const std::function<Result<void>(size_t)>& moved);

  UniqueFd fd_;
  Timeouts t_;
  std::string buf_;  // capacity kBufferBytes, [rpos_, wpos_) unread
  size_t rpos_ = 0;
  size_t wpos_ = 0;
};

// Connects to host:port (numeric or resolvable name) within timeout_ms; TCP_NODELAY on.
Result<UniqueFd> tcp_connect_timeout(const std::string& host, uint16_t port, int timeout_ms);

}  // namespace ringbox::chirp
