// ringbox-submitd under attack: one test per hostile client, each against a real Server on a
// loopback port with a real export directory. Each checks the answer (an error code, a closed
// connection), that the server still serves another client, and that nothing outside the
// export changed.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "host/submitd/server.h"
#include "shared/chirp/codec.h"
#include "shared/chirp/connection.h"

using namespace ringbox;
using namespace ringbox::submitd;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/ringbox-submitd-test.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

struct RunningServer {
  TempDir base;
  fs::path root, outside;
  std::unique_ptr<Server> server;
  std::thread thread;

  // line_ms is also the deadline of an unauthenticated client: generous by default, so a test
  // thread descheduled on a loaded machine is not mistaken for a slow client.
  explicit RunningServer(int line_ms = 5000, int max_open = 8) {
    root = base.path / "root";
    outside = base.path / "outside";
    fs::create_directories(root / "dir");
    fs::create_directories(outside);
    std::ofstream(outside / "secret") << "secret";
    std::ofstream(root / "file") << "hello";
    fs::create_symlink(outside, root / "escape");
    fs::create_symlink("/etc/passwd", root / "abs");
    ServerConfig cfg;
    cfg.port = 0;
    cfg.limits.max_open_files = max_open;
    cfg.limits.max_io_bytes = 1 << 20;
    cfg.timeouts.idle_ms = 5000;
    cfg.timeouts.line_ms = line_ms;
    cfg.timeouts.io_ms = line_ms;
    cfg.auth.cookie_fail_delay_ms = 0;
    auto dir = ConfinedDir::open(root.string());
    REQUIRE(dir);
    cfg.auth.tenants.push_back(
        Tenant{"root", std::make_shared<ConfinedDir>(std::move(*dir)), "rootcookie"});
    cfg.auth.has_default = true;
    auto other = ConfinedDir::open(outside.string());
    REQUIRE(other);
    cfg.auth.tenants.push_back(
        Tenant{"other", std::make_shared<ConfinedDir>(std::move(*other)), "othercookie"});
    auto s = Server::listen(cfg);
    REQUIRE(s);
    server = std::move(*s);
    thread = std::thread([this] { server->run(); });
  }
  ~RunningServer() {
    server->stop();
    thread.join();
    server.reset();
  }
  uint16_t port() const { return server->port(); }
};

// A raw client: sends bytes, reads lines, knows whether the server hung up.
struct Raw {
  chirp::Stream s;
  explicit Raw(uint16_t port, bool auth = true) {
    auto fd = chirp::tcp_connect_timeout("127.0.0.1", port, 2000);
    REQUIRE(fd);
    chirp::Timeouts t;
    t.idle_ms = t.line_ms = t.io_ms = 5000;
    s = chirp::Stream(std::move(*fd), t);
    if (auth) {
      send("cookie rootcookie\n");
      REQUIRE(line() == "0");
    }
  }
  void send(std::string_view b) { REQUIRE(s.write_all(b)); }
  std::string line() {
    auto l = s.read_line(65536);
    return l ? *l : std::string("<") + errc_name(l.error().code) + ">";
  }
  bool closed_by_server() {
    auto l = s.read_line(65536);
    return !l && l.error().code == Errc::kPeerGone;
  }
};

// Another client still gets a correct answer.
void still_serves(uint16_t port) {
  Raw r(port);
  r.send("stat /file\n");
  CHECK(r.line() == "0");
  auto st = chirp::parse_stat_line(r.line());
  REQUIRE(st);
  CHECK(st->size == 5);
}

void outside_unchanged(const RunningServer& srv) {
  std::ifstream f(srv.outside / "secret");
  std::string s;
  f >> s;
  CHECK(s == "secret");
  CHECK(std::distance(fs::directory_iterator(srv.outside), fs::directory_iterator()) == 1);
}

}  // namespace

TEST_CASE("a malformed request line gets -8 and a closed connection", "[submitd][hostile]") {
  RunningServer srv;
  for (const char* bad :
       {"stat /x\\\n", "STAT /x\n", "stat %00\n", "a b c d e f g h i j\n", "\x01\x02\x03\n"}) {
    CAPTURE(bad);
    Raw r(srv.port());
    r.send(bad);
    CHECK(r.line() == "-8");
    CHECK(r.closed_by_server());
  }
  still_serves(srv.port());
}

TEST_CASE("an unknown command gets -8 and the connection goes on", "[submitd][hostile]") {
  RunningServer srv;
  Raw r(srv.port());
  r.send("frobnicate /x\nversion\n");
  CHECK(r.line() == "-8");
  CHECK(r.line() == "-8");
  r.send("stat /file\n");
  CHECK(r.line() == "0");
}

TEST_CASE("an oversized request line gets -5 and a closed connection", "[submitd][hostile]") {
  RunningServer srv;
  Raw r(srv.port());
  r.send("stat /" + std::string(3 * chirp::kMaxRequestLineBytes, 'a'));
  CHECK(r.line() == "-5");
  CHECK(r.closed_by_server());
  still_serves(srv.port());
}

TEST_CASE("a truncated request is dropped when the client leaves", "[submitd][hostile]") {
  RunningServer srv;
  {
    Raw r(srv.port());
    r.send("pwrite 0 100 0\nabc");  // promised 100 bytes, sent 3, then gone
  }
  {
    Raw r(srv.port());
    r.send("putfile /partial 420 1000\n");
    CHECK(r.line() == "0");
    r.send("only a little");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK_FALSE(fs::exists(srv.root / "partial"));  // no half file left behind
  still_serves(srv.port());
}

TEST_CASE("putfile bytes sent with the request line, then in odd pieces, land exactly",
          "[submitd][hostile]") {
  // The server's putfile takes what its read buffer already holds, then splices the rest from
  // the socket: both parts, and the next request on the same connection, must stay in step.
  RunningServer srv;
  Raw r(srv.port());
  std::string data;
  for (int i = 0; data.size() < 3'000'000; ++i) data += "line " + std::to_string(i) + "\n";
  data.resize(3'000'017);
  // The first 100 bytes ride with the request line (so they sit in the server's buffer).
  r.send("putfile /spliced 420 " + std::to_string(data.size()) + "\n" + data.substr(0, 100));
  CHECK(r.line() == "0");
  for (size_t at = 100; at < data.size();) {
    size_t n = std::min<size_t>(data.size() - at, 70'001);
    r.send(std::string_view(data).substr(at, n));
    at += n;
  }
  r.send("stat /spliced\n");  // pipelined right behind the payload
  CHECK(r.line() == std::to_string(data.size()));
  CHECK(r.line() == "0");
  auto st = chirp::parse_stat_line(r.line());
  REQUIRE(st);
  CHECK(st->size == static_cast<int64_t>(data.size()));
  std::ifstream f(srv.root / "spliced", std::ios::binary);
  std::string got((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CHECK(got == data);
}

// Sizes on both sides of the server's threaded receive (8 MiB beyond what it has buffered).
constexpr size_t kLargePut = 12u << 20;

std::string pattern_bytes(size_t n) {
  std::string d;
  d.reserve(n + 32);
  for (int i = 0; d.size() < n; ++i) d += "row " + std::to_string(i) + "\n";
  d.resize(n);
  return d;
}

TEST_CASE("a large putfile (two-thread receive) lands exactly and stays in step",
          "[submitd][hostile]") {
  RunningServer srv;
  Raw r(srv.port());
  std::string data = pattern_bytes(kLargePut + 4321);
  r.send("putfile /large 420 " + std::to_string(data.size()) + "\n" + data.substr(0, 100));
  CHECK(r.line() == "0");
  for (size_t at = 100; at < data.size();) {
    size_t n = std::min<size_t>(data.size() - at, 700'001);
    r.send(std::string_view(data).substr(at, n));
    at += n;
  }
  r.send("stat /large\n");
  CHECK(r.line() == std::to_string(data.size()));
  CHECK(r.line() == "0");
  auto st = chirp::parse_stat_line(r.line());
  REQUIRE(st);
  CHECK(st->size == static_cast<int64_t>(data.size()));
  std::ifstream f(srv.root / "large", std::ios::binary);
  std::string got((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CHECK(got == data);
}

TEST_CASE("a client that leaves mid-way through a large putfile leaves no file",
          "[submitd][hostile]") {
  RunningServer srv;
  {
    Raw r(srv.port());
    r.send("putfile /half 420 " + std::to_string(4 * kLargePut) + "\n");
    CHECK(r.line() == "0");
    r.send(pattern_bytes(kLargePut));  // a quarter, then gone
  }
  for (int i = 0; i < 100 && fs::exists(srv.root / "half"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_FALSE(fs::exists(srv.root / "half"));
  still_serves(srv.port());
}

TEST_CASE("a putfile whose write fails drains the payload, answers the error, keeps no file",
          "[submitd][hostile]") {
  // RLIMIT_FSIZE makes the server's writes past 2 MiB fail with EFBIG (SIGXFSZ ignored), in
  // the one-thread receive (3 MB) and the two-thread one (12 MiB alike).
  struct FsizeLimit {
    rlimit old{};
    void (*old_handler)(int) = SIG_DFL;
    FsizeLimit() {
      ::getrlimit(RLIMIT_FSIZE, &old);
      old_handler = ::signal(SIGXFSZ, SIG_IGN);
      rlimit lim = old;
      lim.rlim_cur = 2u << 20;
      REQUIRE(::setrlimit(RLIMIT_FSIZE, &lim) == 0);
    }
    ~FsizeLimit() {
      ::setrlimit(RLIMIT_FSIZE, &old);
      ::signal(SIGXFSZ, old_handler);
    }
  };
  RunningServer srv;
  Raw r(srv.port());
  for (size_t size : {size_t{3'000'000}, kLargePut}) {
    std::string data = pattern_bytes(size);
    {
      FsizeLimit limit;
      r.send("putfile /toobig 420 " + std::to_string(size) + "\n");
      CHECK(r.line() == "0");
      r.send(data);
      CHECK(r.line() == std::to_string(static_cast<int64_t>(chirp::status_from_errno(EFBIG))));
    }
    CHECK_FALSE(fs::exists(srv.root / "toobig"));
    r.send("stat /file\n");  // the same connection is still in step
    CHECK(r.line() == "0");
    auto st = chirp::parse_stat_line(r.line());
    REQUIRE(st);
    CHECK(st->size == 5);
  }
}

TEST_CASE("a slow client (one byte at a time) is cut off while others are served",
          "[submitd][hostile]") {
  RunningServer srv(/*line_ms=*/800);
  Raw slow(srv.port());
  std::atomic<bool> cut{false};
  std::thread t([&] {
    std::string req = "stat /file\n";
    for (char c : req) {
      if (!slow.s.write_all(std::string_view(&c, 1))) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      still_serves(srv.port());
    }
    cut = slow.closed_by_server();
  });
  t.join();
  CHECK(cut.load());
}

TEST_CASE("a payload promised beyond the per-call bound is refused and closed",
          "[submitd][hostile]") {
  RunningServer srv;
  Raw r(srv.port());
  r.send("open /file rw 0\n");
  CHECK(r.line() == "0");
  (void)r.line();
  r.send("pwrite 0 9223372036854775807 0\n");
  CHECK(r.line() == "-5");
  CHECK(r.closed_by_server());
  still_serves(srv.port());
}

TEST_CASE("numbers out of range and bad fds are clean errors", "[submitd][hostile]") {
  RunningServer srv;
  Raw r(srv.port());
  r.send("pread 0 10 0\n");
  CHECK(r.line() == "-12");
  r.send("close 99999999999999999999\n");
  CHECK(r.line() == "-12");
  r.send("mkdir /d2 -5\n");
  CHECK(r.line() == "-8");
  r.send("lseek 0 1 7\n");
  CHECK(r.line() == "-8");
  r.send("open /file rq 0\n");
  CHECK(r.line() == "-8");
  r.send("stat\n");
  CHECK(r.line() == "-8");
}

TEST_CASE("paths never leave the export", "[submitd][hostile]") {
  RunningServer srv;
  Raw r(srv.port());
  for (const char* req :
       {"stat /../outside/secret\n", "getfile /escape/secret\n", "getfile /abs\n",
        "open /../../../../etc/passwd r 0\n", "putfile /escape/planted 420 1\n",
        "mkdir /escape/newdir 493\n", "unlink /escape/secret\n", "rename /escape/secret /stolen\n",
        "link /escape/secret /hardstolen\n", "rmall /escape/..\n", "chmod /escape/secret 511\n",
        "truncate /escape/secret 0\n", "getdir /escape\n", "stat /proc/self/root/etc/passwd\n"}) {
    CAPTURE(req);
    r.send(req);
    std::string l = r.line();
    CHECK(l.size() > 1);
    CHECK(l[0] == '-');  // refused (-2 not authorized, -3 missing, -8 invalid)
  }
  outside_unchanged(srv);
  CHECK_FALSE(fs::exists(srv.root / "stolen"));
  CHECK_FALSE(fs::exists(srv.root / "hardstolen"));
  // The symlink itself is visible and readable as a link (lstat, readlink), like on disk.
  r.send("lstat /escape\n");
  CHECK(r.line() == "0");
  (void)r.line();
}

TEST_CASE("before authentication nothing is served", "[submitd][hostile]") {
  RunningServer srv;
  Raw r(srv.port(), /*auth=*/false);
  r.send("stat /file\n");
  CHECK(r.line() == "-1");
  r.send("cookie wrong\n");
  CHECK(r.line() == "-1");
  r.send("kerberos\n");
  CHECK(r.line() == "no");
  // One write: the server may hang up part-way through these, and a later write would fail.
  std::string many;
  for (int i = 0; i < kMaxAuthAttempts; ++i) many += "stat /file\n";
  r.send(many);
  int answers = 0;
  while (r.line() == "-1") ++answers;
  CHECK(answers < kMaxAuthAttempts);  // cut off after too many failures
}

TEST_CASE("one tenant's cookie never reaches another tenant's files", "[submitd][hostile]") {
  RunningServer srv;
  Raw r(srv.port(), /*auth=*/false);
  r.send("cookie othercookie\n");
  CHECK(r.line() == "0");
  r.send("stat /secret\n");
  CHECK(r.line() == "0");  // its own root is `outside`
  (void)r.line();
  r.send("stat /../root/file\n");
  CHECK(r.line() == "-2");
  r.send("stat /file\n");
  CHECK(r.line() == "-3");
}

TEST_CASE("open files per client are bounded", "[submitd][hostile]") {
  RunningServer srv(5000, /*max_open=*/4);
  Raw r(srv.port());
  for (int i = 0; i < 4; ++i) {
    r.send("open /file r 0\n");
    CHECK(r.line() == std::to_string(i));
    (void)r.line();
  }
  r.send("open /file r 0\n");
  CHECK(r.line() == "-9");
  r.send("close 2\nopen /file r 0\n");
  CHECK(r.line() == "0");
  CHECK(r.line() == "2");  // the freed number is reused
}

TEST_CASE("many clients at once are all served", "[submitd]") {
  RunningServer srv;
  std::atomic<int> good{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 32; ++i) {
    ts.emplace_back([&] {
      auto fd = chirp::tcp_connect_timeout("127.0.0.1", srv.port(), 2000);
      if (!fd) return;
      chirp::Stream s(std::move(*fd), chirp::Timeouts{});
      if (!s.write_all("cookie rootcookie\n")) return;
      if (auto l = s.read_line(100); !l || *l != "0") return;
      for (int k = 0; k < 50; ++k) {
        if (!s.write_all("stat /file\n")) return;
        auto a = s.read_line(100);
        auto b = s.read_line(1000);
        if (!a || *a != "0" || !b) return;
      }
      ++good;
    });
  }
  for (auto& t : ts) t.join();
  CHECK(good.load() == 32);
}
