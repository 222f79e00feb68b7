#include "shared/util/file_io.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "shared/util/unique_fd.h"

namespace ringbox {
namespace {

// Calls transfer(done) until all of bytes moved; transfer is one write(2) or send(2) of what is
// left. The error names the call (what).
template <class F>
Result<void> transfer_all(size_t bytes, const char* what, F transfer) {
  size_t done = 0;
  while (done < bytes) {
    ssize_t n = retry_eintr([&] { return transfer(done); });
    if (n < 0) return sys_error(what);
    if (n == 0) return sys_error(EIO, what);
    done += static_cast<size_t>(n);
  }
  return ok();
}

}  // namespace

Result<size_t> read_fully(int fd, std::span<std::byte> out, off_t offset) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = retry_eintr(
        [&] { return ::pread(fd, out.data() + done, out.size() - done, offset + off_t(done)); });
    if (n < 0) {
      if (done > 0) break;  // report what was read; the next call will see the error
      return sys_error("pread");
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Result<size_t> write_fully(int fd, std::span<const std::byte> data, off_t offset) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = retry_eintr(
        [&] { return ::pwrite(fd, data.data() + done, data.size() - done, offset + off_t(done)); });
    if (n < 0) {
      if (done > 0) break;  // a short write is reported as such (val[0])
      return sys_error("pwrite");
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Result<size_t> read_all(int fd, std::span<std::byte> out) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = retry_eintr([&] { return ::read(fd, out.data() + done, out.size() - done); });
    if (n < 0) return sys_error("read");
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Result<void> write_all(int fd, std::span<const std::byte> data) {
  return transfer_all(data.size(), "write", [&](size_t done) {
    return ::write(fd, data.data() + done, data.size() - done);
  });
}

Result<void> send_all(int fd, std::span<const std::byte> data) {
  return transfer_all(data.size(), "send", [&](size_t done) {
    return ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
  });
}

int poll_retry(pollfd* fds, nfds_t count, int timeout_ms) {
  using Clock = std::chrono::steady_clock;
  const auto start = timeout_ms > 0 ? Clock::now() : Clock::time_point();
  for (int ms = timeout_ms;;) {
    int r = ::poll(fds, count, ms);
    if (r != -1 || errno != EINTR) return r;
    if (timeout_ms > 0) {
      // Whole milliseconds spent, rounded down: the retry never ends before the timeout.
      auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      ms = spent.count() >= timeout_ms ? 0 : timeout_ms - static_cast<int>(spent.count());
    }
  }
}

Result<void> replace_file(const std::string& path, std::string_view text, mode_t mode) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());  // a leftover keeps its old owner and mode: never reuse it
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) return sys_error("create " + tmp);
  Result<void> r = ok();
  if (::fchmod(fd.get(), mode) != 0) r = sys_error("set the mode of " + tmp);  // not the umask's
  if (auto w = r ? write_all(fd.get(), std::as_bytes(std::span(text.data(), text.size())))
                 : Result<void>(ok());
      !w)
    r = sys_error(w.error().sys_errno, "write " + tmp);
  if (r && ::fsync(fd.get()) != 0) r = sys_error("sync " + tmp);
  if (r) r = fd.close();
  if (r && ::rename(tmp.c_str(), path.c_str()) != 0) r = sys_error("rename " + tmp + " to " + path);
  if (!r) ::unlink(tmp.c_str());
  return r;
}

}  // namespace ringbox
