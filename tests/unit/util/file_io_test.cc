// shared/util/file_io: the EINTR-safe helpers, against real signals. A SIGUSR1 handler installed
// without SA_RESTART makes a blocked read, write, send or poll fail with EINTR (or end short
// after moving some bytes), as a signal does in the agent or the host; the helpers must carry on.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "shared/util/file_io.h"
#include "shared/util/unique_fd.h"

using namespace ringbox;
using namespace std::chrono_literals;

namespace {

std::atomic<int> g_signals{0};

// SIGUSR1 with a handler and no SA_RESTART, for the test's lifetime: system calls it
// interrupts fail with EINTR instead of being restarted by the kernel.
class SignalsInterrupt {
 public:
  SignalsInterrupt() {
    g_signals = 0;
    struct sigaction sa {};
    sa.sa_handler = [](int) { g_signals.fetch_add(1, std::memory_order_relaxed); };
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART
    ::sigaction(SIGUSR1, &sa, &old_);
  }
  ~SignalsInterrupt() { ::sigaction(SIGUSR1, &old_, nullptr); }
  SignalsInterrupt(const SignalsInterrupt&) = delete;
  SignalsInterrupt& operator=(const SignalsInterrupt&) = delete;

 private:
  struct sigaction old_ {};
};

// Runs body on its own thread and sends that thread SIGUSR1 (pthread_kill) every
// gap until body returns, or until stop_after signals when stop_after > 0 (then waits for body
// without signalling it again). Returns how many signals the handler caught.
template <class F>
int run_under_signals(F body, std::chrono::microseconds gap = 2ms, int stop_after = 0) {
  SignalsInterrupt handler;
  std::atomic<bool> done{false};
  std::thread t([&] {
    body();
    done = true;
  });
  for (int sent = 0; !done && (stop_after == 0 || sent < stop_after); ++sent) {
    ::pthread_kill(t.native_handle(), SIGUSR1);
    std::this_thread::sleep_for(gap);
  }
  t.join();
  return g_signals.load();
}

struct Pipe {
  UniqueFd r, w;
};
Pipe make_pipe(int flags = O_CLOEXEC) {
  int p[2];
  REQUIRE(::pipe2(p, flags) == 0);
  return {UniqueFd(p[0]), UniqueFd(p[1])};
}

std::vector<std::byte> pattern(size_t n) {
  std::vector<std::byte> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131 + i / 4096) & 0xff);
  return v;
}

// Drains fd to its end in small reads with a pause between them, so a writer stays blocked on a
// full buffer most of the time (where a signal makes its write(2) end short).
std::vector<std::byte> drain_slowly(int fd) {
  std::vector<std::byte> got;
  std::byte chunk[1000];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) break;
    got.insert(got.end(), chunk, chunk + n);
    std::this_thread::sleep_for(200us);
  }
  return got;
}

}  // namespace

TEST_CASE("retry_eintr calls again after a signal interrupted a blocking read", "[util]") {
  Pipe p = make_pipe();
  std::atomic<int> calls{0};
  ssize_t n = 0, fed = 0;
  char c = 0;
  // The data comes only once the read has been interrupted at least once.
  std::thread feeder([&] {
    while (calls.load() < 2) std::this_thread::sleep_for(1ms);
    fed = ::write(p.w.get(), "x", 1);
  });
  int caught = run_under_signals([&] {
    n = retry_eintr([&] {
      calls.fetch_add(1);
      return ::read(p.r.get(), &c, 1);
    });
  });
  feeder.join();
  REQUIRE(fed == 1);
  CHECK(caught >= 1);
  CHECK(calls.load() >= 2);  // each call after the first followed an EINTR
  CHECK(n == 1);
  CHECK(c == 'x');
}

TEST_CASE("retry_eintr returns any other failure at once, errno intact", "[util]") {
  int calls = 0;
  errno = 0;
  ssize_t n = retry_eintr([&] {
    ++calls;
    return ::read(-1, nullptr, 0);
  });
  CHECK(n == -1);
  CHECK(errno == EBADF);
  CHECK(calls == 1);
}

TEST_CASE("read_all fills the buffer across interrupted and partial reads", "[util]") {
  Pipe p = make_pipe();
  const auto want = pattern(64 * 1024);
  std::vector<std::byte> got(want.size());
  // The writer sends 4 KiB at a time with pauses: the reader blocks in between, where the
  // signals reach it.
  size_t fed = 0;
  std::thread writer([&] {
    for (size_t off = 0; off < want.size(); off += 4096) {
      std::this_thread::sleep_for(3ms);
      if (::write(p.w.get(), want.data() + off, 4096) != 4096) break;
      fed += 4096;
    }
  });
  Result<size_t> n = size_t{0};
  int caught = run_under_signals([&] { n = read_all(p.r.get(), got); }, 500us);
  writer.join();
  REQUIRE(fed == want.size());
  CHECK(caught >= 1);
  REQUIRE(n);
  CHECK(*n == want.size());
  CHECK(got == want);
}

TEST_CASE("read_all stops short at end of file", "[util]") {
  Pipe p = make_pipe();
  REQUIRE(::write(p.w.get(), "hello", 5) == 5);
  p.w.reset();
  std::byte buf[64];
  auto n = read_all(p.r.get(), buf);
  REQUIRE(n);
  CHECK(*n == 5);
  CHECK(std::memcmp(buf, "hello", 5) == 0);
  auto again = read_all(p.r.get(), buf);
  REQUIRE(again);
  CHECK(*again == 0);
}

TEST_CASE("read_all returns an error that follows some bytes, not the short count", "[util]") {
  Pipe p = make_pipe(O_CLOEXEC | O_NONBLOCK);
  REQUIRE(::write(p.w.get(), "abc", 3) == 3);
  std::byte buf[8];
  auto n = read_all(p.r.get(), buf);  // 3 bytes, then EAGAIN: the pipe is still open
  REQUIRE_FALSE(n);
  CHECK(n.error().code == Errc::kSystem);
  CHECK(n.error().sys_errno == EAGAIN);
}

TEST_CASE("write_all writes everything through short writes into a small pipe", "[util]") {
  Pipe p = make_pipe();
  REQUIRE(::fcntl(p.w.get(), F_SETPIPE_SZ, 4096) >= 4096);  // far less than the message
  const auto data = pattern(1 << 20);
  std::vector<std::byte> got;
  std::thread reader([&] { got = drain_slowly(p.r.get()); });
  // The writer blocks on the full pipe; each signal ends its write(2) short (or with EINTR).
  Result<void> w = ok();
  int caught = run_under_signals([&] {
    w = write_all(p.w.get(), data);
    p.w.reset();  // end of file for the reader
  });
  reader.join();
  CHECK(caught >= 1);
  REQUIRE(w);
  CHECK(got.size() == data.size());
  CHECK(got == data);
}

TEST_CASE("send_all sends everything through short sends on a small socket buffer", "[util]") {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  UniqueFd a(sv[0]), b(sv[1]);
  int small = 4096;
  REQUIRE(::setsockopt(a.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
  const auto data = pattern(1 << 20);
  std::vector<std::byte> got;
  std::thread reader([&] { got = drain_slowly(b.get()); });
  Result<void> w = ok();
  int caught = run_under_signals([&] {
    w = send_all(a.get(), data);
    ::shutdown(a.get(), SHUT_WR);  // end of file for the reader
  });
  reader.join();
  CHECK(caught >= 1);
  REQUIRE(w);
  CHECK(got == data);
}

TEST_CASE("send_all reports a peer that went away as EPIPE, not a SIGPIPE", "[util]") {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  UniqueFd a(sv[0]), b(sv[1]);
  b.reset();
  const auto data = pattern(16);
  auto w = send_all(a.get(), data);  // a SIGPIPE would end this test process here
  REQUIRE_FALSE(w);
  CHECK(w.error().sys_errno == EPIPE);
}

TEST_CASE("write_all returns the error of a failed write", "[util]") {
  const auto data = pattern(16);
  auto w = write_all(-1, data);
  REQUIRE_FALSE(w);
  CHECK(w.error().sys_errno == EBADF);
}

TEST_CASE("poll_retry waits its whole timeout although signals interrupt it", "[util]") {
  Pipe p = make_pipe();
  pollfd pfd{p.r.get(), POLLIN, 0};
  int r = -2;
  const auto start = std::chrono::steady_clock::now();
  // A 1,000 ms timeout; signals 100 ms apart, none after the first 9 (the last sent at 800 ms
  // or later): a retry that waited the whole timeout again would end 1,800 ms or more after the
  // start. The bound between leaves a loaded machine 800 ms of slack (no wall-clock race).
  int caught = run_under_signals([&] { r = poll_retry(&pfd, 1, 1000); }, 100ms, 9);
  const auto waited_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - start)
                             .count();
  CHECK(caught >= 1);
  CHECK(r == 0);
  CHECK(waited_ms >= 1000);
  CHECK(waited_ms < 1800);
}

TEST_CASE("poll_retry returns readiness that comes after signals", "[util]") {
  Pipe p = make_pipe();
  pollfd pfd{p.r.get(), POLLIN, 0};
  int r = -2;
  ssize_t fed = 0;
  std::thread writer([&] {
    std::this_thread::sleep_for(50ms);
    fed = ::write(p.w.get(), "x", 1);
  });
  int caught = run_under_signals([&] { r = poll_retry(&pfd, 1, -1); }, 5ms);
  writer.join();
  REQUIRE(fed == 1);
  CHECK(caught >= 1);
  CHECK(r == 1);
  CHECK((pfd.revents & POLLIN) != 0);
}

TEST_CASE("read_fully and write_fully move whole buffers at an offset", "[util]") {
  UniqueFd f(::memfd_create("file_io_test", MFD_CLOEXEC));
  REQUIRE(f);
  const auto data = pattern(100000);
  auto w = write_fully(f.get(), data, 4096);
  REQUIRE(w);
  CHECK(*w == data.size());
  std::vector<std::byte> got(data.size() + 10);
  auto n = read_fully(f.get(), got, 4096);  // stops at end of file
  REQUIRE(n);
  CHECK(*n == data.size());
  got.resize(*n);
  CHECK(got == data);
}

TEST_CASE("replace_file puts a whole new file in place and never writes through a link", "[util]") {
  char dir_template[] = "/tmp/ringbox-replace-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  const std::string path = dir + "/port";
  auto slurp = [](const std::string& p) {
    std::string out(64, '\0');
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return std::string("<none>");
    ssize_t n = ::read(fd.get(), out.data(), out.size());
    out.resize(n < 0 ? 0 : static_cast<size_t>(n));
    return out;
  };
  REQUIRE(replace_file(path, "9094\n", 0640));
  CHECK(slurp(path) == "9094\n");
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
  REQUIRE(replace_file(path, "12\n", 0640));
  CHECK(slurp(path) == "12\n");
  CHECK(::access((path + ".tmp").c_str(), F_OK) != 0);
  // Someone planted path.tmp as a link to a file of theirs: the link goes, their file is
  // untouched, and the new file is made afresh with exactly the mode asked for.
  const std::string victim = dir + "/victim";
  REQUIRE(replace_file(victim, "mine\n", 0600));
  REQUIRE(::symlink(victim.c_str(), (path + ".tmp").c_str()) == 0);
  const mode_t old_umask = ::umask(077);
  auto r = replace_file(path, "77\n", 0644);
  ::umask(old_umask);
  REQUIRE(r);
  CHECK(slurp(victim) == "mine\n");
  CHECK(slurp(path) == "77\n");
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK((st.st_mode & 0777) == 0644);
  (void)std::system(("rm -rf '" + dir + "'").c_str());
}
