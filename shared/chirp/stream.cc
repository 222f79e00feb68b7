#include "shared/chirp/stream.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>

#include "shared/util/file_io.h"

namespace ringbox::chirp {
namespace {

constexpr size_t kBufferBytes = 64 * 1024;
// Reads at least this large bypass the buffer (straight into the caller's memory).
constexpr size_t kDirectReadBytes = 16 * 1024;
// recv_to_file's pipe: the most one splice(2) moves from the socket (F_SETPIPE_SZ; a smaller
// default pipe is used when the kernel refuses, e.g. above fs.pipe-max-size for non-root).
constexpr int kPipeBytes = 1 << 20;
// The most one splice(2) asks of the socket (it moves what is queued, up to the pipe's room).
constexpr size_t kSpliceStepBytes = static_cast<size_t>(kPipeBytes);
// Uploads at least this large (beyond what is already buffered) are received by two threads.
constexpr uint64_t kThreadedBytes = 8u << 20;

// Writes all of data at off; 0 or the errno of the failed pwrite(2).
int pwrite_all(int fd, const char* data, size_t n, uint64_t off) {
  while (n > 0) {
    ssize_t w = retry_eintr([&] { return ::pwrite(fd, data, n, static_cast<off_t>(off)); });
    if (w < 0) return errno;
    if (w == 0) return EIO;
    data += w;
    n -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
  return 0;
}

// Moves n bytes that are in the pipe rd to file_fd at off: splice(2) while it works, else
// read + pwrite (EINVAL: no splice_write on that file system), and once a write failed
// (*file_errno set) reads and drops them. Errors are only the pipe's own.
Result<void> drain_pipe(int rd, int file_fd, uint64_t off, size_t n, int* file_errno,
                        bool* can_splice) {
  char scratch[16 * 1024];
  while (n > 0) {
    if (*file_errno == 0 && *can_splice) {
      auto o = static_cast<loff_t>(off);
      ssize_t w = retry_eintr([&] { return ::splice(rd, nullptr, file_fd, &o, n, SPLICE_F_MOVE); });
      if (w > 0) {
        n -= static_cast<size_t>(w);
        off += static_cast<uint64_t>(w);
        continue;
      }
      if (w < 0 && errno == EINVAL) {
        *can_splice = false;
        continue;
      }
      *file_errno = w < 0 ? errno : EIO;
      continue;
    }
    ssize_t r = retry_eintr([&] { return ::read(rd, scratch, std::min(n, sizeof(scratch))); });
    if (r <= 0) return sys_error("read from recv_to_file's pipe");
    if (*file_errno == 0) *file_errno = pwrite_all(file_fd, scratch, static_cast<size_t>(r), off);
    n -= static_cast<size_t>(r);
    off += static_cast<uint64_t>(r);
  }
  return ok();
}

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - std::chrono::steady_clock::now())
                  .count();
  return left <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left, INT32_MAX));
}

}  // namespace

Stream::Stream(UniqueFd fd, Timeouts t) : fd_(std::move(fd)), t_(t) {
  buf_.resize(kBufferBytes);
  if (fd_) {
    int fl = ::fcntl(fd_.get(), F_GETFL);
    if (fl >= 0) ::fcntl(fd_.get(), F_SETFL, fl | O_NONBLOCK);
  }
}

Result<void> Stream::wait(short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd_.get(), events, 0};
    int n = retry_eintr([&] { return ::poll(&p, 1, remaining_ms(deadline)); });
    if (n < 0) return sys_error("poll on Chirp connection");
    if (n == 0) return make_error(Errc::kTimeout, "Chirp peer sent nothing within the deadline");
    if (p.revents & events) return ok();
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
      return make_error(Errc::kPeerGone, "Chirp peer closed the connection");
  }
}

Result<size_t> Stream::fill(Clock::time_point deadline) {
  if (!fd_) return make_error(Errc::kPeerGone, "Chirp connection is closed");
  if (rpos_ == wpos_) rpos_ = wpos_ = 0;
  if (wpos_ == buf_.size() && rpos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + rpos_, wpos_ - rpos_);
    wpos_ -= rpos_;
    rpos_ = 0;
  }
  for (;;) {
    ssize_t n =
        retry_eintr([&] { return ::recv(fd_.get(), buf_.data() + wpos_, buf_.size() - wpos_, 0); });
    if (n > 0) {
      wpos_ += static_cast<size_t>(n);
      return static_cast<size_t>(n);
    }
    if (n == 0) return make_error(Errc::kPeerGone, "Chirp peer closed the connection");
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      if (errno == ECONNRESET || errno == EPIPE)
        return make_error(Errc::kPeerGone, "Chirp peer reset the connection");
      return sys_error("recv on Chirp connection");
    }
    RINGBOX_TRY(wait(POLLIN, deadline));
  }
}

Result<std::string> Stream::read_line(size_t max_bytes) {
  auto deadline = Clock::now() + std::chrono::milliseconds(t_.idle_ms);
  bool started = buffered() > 0;
  if (started) deadline = Clock::now() + std::chrono::milliseconds(t_.line_ms);
  size_t scanned = 0;
  for (;;) {
    const char* begin = buf_.data() + rpos_;
    size_t avail = wpos_ - rpos_;
    const void* nl =
        avail > scanned ? std::memchr(begin + scanned, '\n', avail - scanned) : nullptr;
    if (nl) {
      size_t len = static_cast<const char*>(nl) - begin;
      if (len + 1 > max_bytes)
        return make_error(Errc::kTooLarge,
                          "Chirp line longer than " + std::to_string(max_bytes) + " bytes");
      std::string line(begin, len);
      rpos_ += len + 1;
      return line;
    }
    scanned = avail;
    if (avail >= max_bytes || avail >= buf_.size())
      return make_error(Errc::kTooLarge,
                        "Chirp line longer than " + std::to_string(max_bytes) + " bytes");
    // Nothing buffered: the line is still on its way (a reply right after our request, the
    // next request), so wait first rather than try a recv(2) that would say EAGAIN: one
    // syscall less per call.
    if (avail == 0) RINGBOX_TRY(wait(POLLIN, deadline));
    // fill() may move the unread bytes to the front; scanned counts from rpos_, so it holds.
    RINGBOX_TRY(fill(deadline));
    if (!started) {
      started = true;
      deadline = Clock::now() + std::chrono::milliseconds(t_.line_ms);
    }
  }
}

Stream::Clock::time_point Stream::payload_deadline(uint64_t bytes) const {
  int64_t rate = std::max<int64_t>(1, t_.min_rate_bytes_per_s);
  int64_t extra_ms = static_cast<int64_t>(bytes / static_cast<uint64_t>(rate)) * 1000;
  return Clock::now() + std::chrono::milliseconds(t_.io_ms + extra_ms);
}

Result<void> Stream::read_exact(std::span<std::byte> out) {
  auto deadline = payload_deadline(out.size());
  size_t done = 0;
  size_t take = std::min(out.size(), buffered());
  std::memcpy(out.data(), buf_.data() + rpos_, take);
  rpos_ += take;
  done = take;
  while (done < out.size()) {
    size_t want = out.size() - done;
    if (want >= kDirectReadBytes) {
      ssize_t n = retry_eintr([&] { return ::recv(fd_.get(), out.data() + done, want, 0); });
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      if (n == 0)
        return make_error(Errc::kPeerGone, "Chirp peer closed the connection mid-payload");
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        if (errno == ECONNRESET)
          return make_error(Errc::kPeerGone, "Chirp peer reset the connection mid-payload");
        return sys_error("recv payload on Chirp connection");
      }
      RINGBOX_TRY(wait(POLLIN, deadline));
      continue;
    }
    RINGBOX_TRY(fill(deadline));
    take = std::min(want, buffered());
    std::memcpy(out.data() + done, buf_.data() + rpos_, take);
    rpos_ += take;
    done += take;
  }
  return ok();
}

Result<void> Stream::discard(uint64_t n) {
  std::byte scratch[16 * 1024];
  while (n > 0) {
    size_t step = static_cast<size_t>(std::min<uint64_t>(n, sizeof(scratch)));
    RINGBOX_TRY(read_exact(std::span<std::byte>(scratch, step)));
    n -= step;
  }
  return ok();
}

Result<void> Stream::write_all(std::span<const iovec> parts_in) {
  if (!fd_) return make_error(Errc::kPeerGone, "Chirp connection is closed");
  iovec parts[8];
  size_t count = std::min(parts_in.size(), std::size(parts));
  uint64_t total = 0;
  for (size_t i = 0; i < count; ++i) {
    parts[i] = parts_in[i];
    total += parts[i].iov_len;
  }
  auto deadline = payload_deadline(total);
  size_t first = 0;
  while (first < count) {
    if (parts[first].iov_len == 0) {
      ++first;
      continue;
    }
    msghdr msg{};
    msg.msg_iov = parts + first;
    msg.msg_iovlen = count - first;
    ssize_t n = retry_eintr([&] { return ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL); });
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        RINGBOX_TRY(wait(POLLOUT, deadline));
        continue;
      }
      if (errno == EPIPE || errno == ECONNRESET)
        return make_error(Errc::kPeerGone, "Chirp peer closed the connection while we wrote");
      return sys_error("send on Chirp connection");
    }
    auto left = static_cast<size_t>(n);
    while (left > 0 && first < count) {
      size_t step = std::min(left, parts[first].iov_len);
      parts[first].iov_base = static_cast<char*>(parts[first].iov_base) + step;
      parts[first].iov_len -= step;
      left -= step;
      if (parts[first].iov_len == 0) ++first;
    }
  }
  return ok();
}

Result<void> Stream::write_all(std::string_view s) {
  iovec v{const_cast<char*>(s.data()), s.size()};
  return write_all(std::span<const iovec>(&v, 1));
}

Result<void> Stream::splice_to_pipe(int wr, uint64_t len, Clock::time_point deadline,
                                    const std::function<Result<void>(size_t)>& moved) {
  uint64_t done = 0;
  while (done < len) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(len - done, kSpliceStepBytes));
    // The socket is non-blocking (EAGAIN: wait for it below); the pipe's own mode decides
    // whether a full pipe waits (threaded receive) or not (drained right after, inline).
    ssize_t n =
        retry_eintr([&] { return ::splice(fd_.get(), nullptr, wr, nullptr, want, SPLICE_F_MOVE); });
    if (n == 0) return make_error(Errc::kPeerGone, "Chirp peer closed the connection mid-payload");
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        RINGBOX_TRY(wait(POLLIN, deadline));
        continue;
      }
      if (errno == ECONNRESET)
        return make_error(Errc::kPeerGone, "Chirp peer reset the connection mid-payload");
      return sys_error("splice from Chirp connection");
    }
    RINGBOX_TRY(moved(static_cast<size_t>(n)));
    done += static_cast<uint64_t>(n);
  }
  return ok();
}

Result<void> Stream::recv_to_file(int file_fd, uint64_t offset, uint64_t len, int* file_errno) {
  *file_errno = 0;
  if (!fd_) return make_error(Errc::kPeerGone, "Chirp connection is closed");
  auto deadline = payload_deadline(len);
  size_t take = static_cast<size_t>(std::min<uint64_t>(len, buffered()));
  if (take > 0) {
    *file_errno = pwrite_all(file_fd, buf_.data() + rpos_, take, offset);
    rpos_ += take;
  }
  uint64_t done = take;
  if (done == len) return ok();
  offset += done;
  len -= done;
  int p[2];
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return sys_error("pipe for a Chirp upload");
  UniqueFd rd(p[0]), wr(p[1]);
  if (::fcntl(wr.get(), F_SETPIPE_SZ, kPipeBytes) <= 0 && ::fcntl(wr.get(), F_GETPIPE_SZ) <= 0)
    return sys_error("size the pipe for a Chirp upload");
  bool can_splice = true;
  if (len >= kThreadedBytes) {
    // Two threads, the pipe between them: this one moves socket -> pipe (and so runs the TCP
    // receive work), a writer moves pipe -> file (page allocation and the one copy). Blocking
    // pipe ends: a full pipe waits for the writer, an empty one for us; closing our end is
    // the writer's EOF when we stop early.
    if (::fcntl(rd.get(), F_SETFL, 0) == 0 && ::fcntl(wr.get(), F_SETFL, 0) == 0) {
      Result<void> written = ok();
      std::optional<std::thread> writer;
      try {
        writer.emplace([&, rfd = std::move(rd)] {
          written = drain_pipe(rfd.get(), file_fd, offset, len, file_errno, &can_splice);
        });
      } catch (const std::system_error&) {
        // No thread to be had: fall through to the inline loop below with a fresh pipe.
      }
      if (writer) {
        auto r = splice_to_pipe(wr.get(), len, deadline, [](size_t) { return ok(); });
        wr.reset();  // EOF for the writer if we stopped early
        writer->join();
        if (!r) return r;
        return written;
      }
      if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return sys_error("pipe for a Chirp upload");
      rd = UniqueFd(p[0]);
      wr = UniqueFd(p[1]);
      (void)::fcntl(wr.get(), F_SETPIPE_SZ, kPipeBytes);
    }
  }
  // One thread: each splice into the (non-blocking) pipe is drained to the file at once.
  uint64_t at = offset;
  return splice_to_pipe(wr.get(), len, deadline, [&](size_t n) -> Result<void> {
    RINGBOX_TRY(drain_pipe(rd.get(), file_fd, at, n, file_errno, &can_splice));
    at += n;
    return ok();
  });
}

Result<void> Stream::send_file(int file_fd, uint64_t offset, uint64_t len) {
  if (!fd_) return make_error(Errc::kPeerGone, "Chirp connection is closed");
  auto deadline = payload_deadline(len);
  auto off = static_cast<off_t>(offset);
  while (len > 0) {
    size_t step = static_cast<size_t>(std::min<uint64_t>(len, 1u << 30));
    ssize_t n = retry_eintr([&] { return ::sendfile(fd_.get(), file_fd, &off, step); });
    if (n > 0) {
      len -= static_cast<uint64_t>(n);
      continue;
    }
    if (n == 0) return make_error(Errc::kPeerBroken, "file ended before the promised size");
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      RINGBOX_TRY(wait(POLLOUT, deadline));
      continue;
    }
    if (errno == EPIPE || errno == ECONNRESET)
      return make_error(Errc::kPeerGone, "Chirp peer closed the connection while we sent a file");
    return sys_error("sendfile to Chirp connection");
  }
  return ok();
}

Result<UniqueFd> tcp_connect_timeout(const std::string& host, uint16_t port, int timeout_ms) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port_s = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), port_s.c_str(), &hints, &res);
  if (rc != 0)
    return make_error(Errc::kInvalidArgument,
                      "resolve Chirp server " + host + ": " + ::gai_strerror(rc));
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, ::freeaddrinfo);
  Error last = make_error(Errc::kPeerGone, "connect to Chirp server " + host + ":" + port_s);
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) {
      last = sys_error("socket for Chirp server " + host);
      continue;
    }
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last = sys_error(errno, "connect to Chirp server " + host + ":" + port_s);
        last.code = Errc::kPeerGone;
        continue;
      }
      pollfd p{fd.get(), POLLOUT, 0};
      int n = poll_retry(&p, 1, timeout_ms);
      if (n == 0) {
        last = make_error(Errc::kTimeout, "connect to Chirp server " + host + ":" + port_s +
                                              ": no answer within " + std::to_string(timeout_ms) +
                                              " ms");
        continue;
      }
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        last = sys_error(err, "connect to Chirp server " + host + ":" + port_s);
        last.code = Errc::kPeerGone;
        continue;
      }
    }
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
  }
  return last;
}

}  // namespace ringbox::chirp
