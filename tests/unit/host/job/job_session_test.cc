// JobSession: the host's side of the job opcodes, driven as a hostile guest would: buffers too
// small, values out of range, replays, too many long polls, output past the limit.
#include "host/job/job_session.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <vector>

using namespace ringbox;
using namespace ringbox::host::job;
using proto::Opcode;
using proto::WireError;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/tmp/ringbox-job-session.XXXXXX";
    REQUIRE(::mkdtemp(t));
    path = t;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Fixture {
  TempDir dir;
  std::unique_ptr<JobSession> session;
  explicit Fixture(uint64_t max_output = kDefaultMaxOutputBytes) {
    JobSessionConfig cfg;
    cfg.spec.argv = {"sh", "-c", "true"};
    cfg.spec.mode = proto::JobMode::kLazyFile;
    cfg.spec.inputs = {"in/a"};
    cfg.stdout_path = dir.path + "/out";
    cfg.stderr_path = dir.path + "/err";
    cfg.max_output_bytes = max_output;
    auto s = JobSession::create(cfg);
    REQUIRE(s);
    session = std::move(*s);
  }
  rpc::Reply call(Opcode op, std::array<uint64_t, 4> arg = {}, std::string in = {},
                  size_t out_size = 0, uint16_t flags = 0) {
    in_buf = std::move(in);
    out_buf.assign(out_size, std::byte{0});
    rpc::Request req;
    req.opcode = static_cast<uint16_t>(op);
    req.flags = flags;
    req.arg = arg;
    req.in = rpc::SharedBytes(std::as_bytes(std::span(in_buf)));
    req.out = out_buf;
    return session->handle(req);
  }
  std::string in_buf;
  std::vector<std::byte> out_buf;
};

int32_t status(WireError e) {
  return -static_cast<int32_t>(e);
}
uint64_t exited() {
  return static_cast<uint64_t>(proto::ExitKind::kExited);
}
uint64_t signaled() {
  return static_cast<uint64_t>(proto::ExitKind::kSignaled);
}

}  // namespace

TEST_CASE("kJobGet says how much room the spec needs, then hands it over", "[job_session]") {
  Fixture f;
  auto small = f.call(Opcode::kJobGet, {}, {}, 16);
  CHECK(small.status == status(WireError::kOverflow));
  CHECK(small.out_len == 0);
  uint64_t need = small.val[0];
  REQUIRE(need > 16);
  auto r = f.call(Opcode::kJobGet, {}, {}, need);
  REQUIRE(r.ok());
  CHECK(r.out_len == need);
  auto spec = proto::decode_job_spec(std::span(f.out_buf).first(r.out_len));
  REQUIRE(spec);
  CHECK(spec->argv == std::vector<std::string>{"sh", "-c", "true"});
  CHECK(spec->mode == proto::JobMode::kLazyFile);
  CHECK(f.session->spec_delivered());
}

TEST_CASE("output chunks are appended in order to the stdout and stderr files", "[job_session]") {
  Fixture f;
  CHECK(f.call(Opcode::kJobStdout, {}, "one ").ok());
  CHECK(f.call(Opcode::kJobStderr, {}, "err").ok());
  CHECK(f.call(Opcode::kJobStdout, {}, "").ok());
  CHECK(f.call(Opcode::kJobStdout, {}, "two").ok());
  CHECK(slurp(f.dir.path + "/out") == "one two");
  CHECK(slurp(f.dir.path + "/err") == "err");
}

TEST_CASE("a resumed job's session appends to its output files and counts what is there",
          "[job_session][vacate]") {
  TempDir dir;
  auto make = [&](bool resumed) {
    JobSessionConfig cfg;
    cfg.spec.argv = {"sh", "-c", "true"};
    cfg.stdout_path = dir.path + "/out";
    cfg.stderr_path = dir.path + "/err";
    cfg.max_output_bytes = 10;
    cfg.resumed = resumed;
    auto s = JobSession::create(cfg);
    REQUIRE(s);
    return std::move(*s);
  };
  auto output = [](JobSession& s, const std::string& text) {
    std::string in = text;
    rpc::Request req;
    req.opcode = static_cast<uint16_t>(Opcode::kJobStdout);
    req.in = rpc::SharedBytes(std::as_bytes(std::span(in)));
    return s.handle(req).status;
  };
  {
    auto before = make(false);
    CHECK(output(*before, "123456") == 0);
  }
  {
    auto after = make(true);  // the run after a vacate
    CHECK(output(*after, "789") == 0);
    CHECK(output(*after, "ab") == status(WireError::kFBig));  // 6 + 3 + 2 > 10
  }
  CHECK(slurp(dir.path + "/out") == "123456789");
  {
    auto fresh = make(false);  // a cold start truncates
    CHECK(output(*fresh, "x") == 0);
  }
  CHECK(slurp(dir.path + "/out") == "x");
}

TEST_CASE("output past the limit is refused and what came before is kept", "[job_session]") {
  Fixture f(10);
  CHECK(f.call(Opcode::kJobStdout, {}, "12345678").ok());
  CHECK(f.call(Opcode::kJobStdout, {}, "abc").status == status(WireError::kFBig));
  CHECK(f.call(Opcode::kJobStdout, {}, "ab").ok());
  CHECK(f.call(Opcode::kJobStdout, {}, "x").status == status(WireError::kFBig));
  CHECK(slurp(f.dir.path + "/out") == "12345678ab");
}

TEST_CASE("kJobExit accepts only a real exit status or signal", "[job_session]") {
  Fixture f;
  CHECK(f.call(Opcode::kJobExit, {0, 0}).status == status(WireError::kInval));
  CHECK(f.call(Opcode::kJobExit, {3, 0}).status == status(WireError::kInval));
  CHECK(f.call(Opcode::kJobExit, {exited(), 256}).status == status(WireError::kInval));
  CHECK(f.call(Opcode::kJobExit, {signaled(), 0}).status == status(WireError::kInval));
  CHECK(f.call(Opcode::kJobExit, {signaled(), 128}).status == status(WireError::kInval));
  CHECK(f.call(Opcode::kJobExit, {exited(), 0, UINT64_MAX}).status == status(WireError::kInval));
  CHECK_FALSE(f.session->outcome());
  REQUIRE(f.call(Opcode::kJobExit, {signaled(), 9}).ok());
  REQUIRE(f.session->outcome());
  CHECK(f.session->outcome()->shell_status() == 137);
}

TEST_CASE("kJobExit may be replayed but not changed", "[job_session]") {
  Fixture f;
  REQUIRE(f.call(Opcode::kJobExit, {exited(), 3, 1}).ok());
  CHECK(f.call(Opcode::kJobExit, {exited(), 3, 1}).ok());
  CHECK(f.call(Opcode::kJobExit, {exited(), 0, 0}).status == status(WireError::kInval));
  auto o = f.session->outcome();
  REQUIRE(o);
  CHECK(o->shell_status() == 3);
  CHECK(o->writeback_failures == 1);
}

// What the host logs (stderr) while fn runs.
template <typename Fn>
std::string logged_by(Fn&& fn) {
  TempDir d;
  std::string path = d.path + "/log";
  int saved = ::dup(STDERR_FILENO);
  REQUIRE(saved >= 0);
  FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f);
  ::dup2(::fileno(f), STDERR_FILENO);
  fn();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::fclose(f);
  return slurp(path);
}

TEST_CASE("kJobExit's payload names the lost outputs in the host's log, escaped and bounded",
          "[job_session]") {
  Fixture f;
  std::string log = logged_by([&] {
    REQUIRE(f.call(Opcode::kJobExit, {exited(), 0, 2},
                   "deep/out.txt: the path is 4300 bytes\n\x1b[2Jforged\n")
                .ok());
  });
  CHECK(log.find("the guest could not return an output: deep/out.txt: the path is 4300 bytes") !=
        std::string::npos);
  CHECK(log.find("\\x1b[2Jforged") != std::string::npos);
  CHECK(log.find('\x1b') == std::string::npos);  // no terminal escape reaches the log
  REQUIRE(f.session->outcome());
  CHECK(f.session->outcome()->writeback_failures == 2);

  // A replay logs nothing again; a report without failures logs nothing at all.
  CHECK(logged_by([&] { CHECK(f.call(Opcode::kJobExit, {exited(), 0, 2}, "x\n").ok()); }).empty());
  Fixture g;
  CHECK(logged_by([&] {
          CHECK(g.call(Opcode::kJobExit, {exited(), 0, 0}, "x: y\n").ok());
        }).empty());

  // Thousands of lines: at most 64 logged, then how many more.
  Fixture h;
  std::string many;
  for (int i = 0; i < 1000; ++i) many += "f" + std::to_string(i) + ": refused\n";
  std::string big = logged_by([&] {
    REQUIRE(h.call(Opcode::kJobExit, {exited(), 1, 1000}, many).ok());
  });
  size_t lines = 0;
  for (size_t p = big.find("could not return"); p != std::string::npos;
       p = big.find("could not return", p + 1))
    ++lines;
  CHECK(lines == 64);
  CHECK(big.find("936 more outputs not returned") != std::string::npos);
}

TEST_CASE("flags on a job opcode are a protocol error", "[job_session]") {
  Fixture f;
  CHECK(f.call(Opcode::kJobStdout, {}, "x", 0, 1).status == status(WireError::kProto));
  CHECK(f.call(Opcode::kJobGet, {}, {}, 4096, 0x8000).status == status(WireError::kProto));
  CHECK(f.call(Opcode::kPing).status == status(WireError::kNoSys));
}

TEST_CASE("kWaitEvent times out with kNone, then sees a posted shutdown at once, for good",
          "[job_session]") {
  Fixture f;
  auto t0 = std::chrono::steady_clock::now();
  auto r = f.call(Opcode::kWaitEvent, {30});
  REQUIRE(r.ok());
  CHECK(r.val[0] == static_cast<uint64_t>(proto::Event::kNone));
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(25));
  f.session->post_event(proto::Event::kShutdown);
  for (int i = 0; i < 2; ++i) {
    auto s = f.call(Opcode::kWaitEvent, {60000});
    CHECK(s.val[0] == static_cast<uint64_t>(proto::Event::kShutdown));
  }
}

TEST_CASE("kVacate is delivered once", "[job_session]") {
  Fixture f;
  f.session->post_event(proto::Event::kVacate);
  CHECK(f.call(Opcode::kWaitEvent, {10}).val[0] == static_cast<uint64_t>(proto::Event::kVacate));
  CHECK(f.call(Opcode::kWaitEvent, {10}).val[0] == static_cast<uint64_t>(proto::Event::kNone));
}

TEST_CASE("a blocked poll wakes when the event is posted, the exit recorded or the session closed",
          "[job_session]") {
  Fixture f;
  auto poll = [&] {
    rpc::Request req;
    req.opcode = static_cast<uint16_t>(Opcode::kWaitEvent);
    req.arg = {60000, 0, 0, 0};
    return f.session->handle(req);
  };
  auto waiting = std::async(std::launch::async, poll);
  CHECK(waiting.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout);
  f.session->post_event(proto::Event::kShutdown);
  REQUIRE(waiting.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(waiting.get().val[0] == static_cast<uint64_t>(proto::Event::kShutdown));

  Fixture g;
  auto poll_g = [&] {
    rpc::Request req;
    req.opcode = static_cast<uint16_t>(Opcode::kWaitEvent);
    req.arg = {0, 0, 0, 0};  // "no limit": capped by the host, woken by the exit
    return g.session->handle(req);
  };
  auto w2 = std::async(std::launch::async, poll_g);
  CHECK(w2.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout);
  REQUIRE(g.call(Opcode::kJobExit, {exited(), 0}).ok());
  REQUIRE(w2.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(w2.get().val[0] == static_cast<uint64_t>(proto::Event::kNone));
}

TEST_CASE("at most two polls may wait at once", "[job_session]") {
  Fixture f;
  auto poll = [&] {
    rpc::Request req;
    req.opcode = static_cast<uint16_t>(Opcode::kWaitEvent);
    req.arg = {60000, 0, 0, 0};
    return f.session->handle(req);
  };
  auto a = std::async(std::launch::async, poll);
  auto b = std::async(std::launch::async, poll);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto third = f.call(Opcode::kWaitEvent, {60000});
  CHECK(third.status == status(WireError::kAgain));
  f.session->close();
  REQUIRE(a.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  REQUIRE(b.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(a.get().val[0] == static_cast<uint64_t>(proto::Event::kShutdown));
  CHECK(b.get().val[0] == static_cast<uint64_t>(proto::Event::kShutdown));
}
