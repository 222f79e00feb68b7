// TransferLog (host/run/transfer_log.h): what it records from the requests it passes on, and
// that a guest rewriting its request while it is served cannot make the log lie.
#include "host/run/transfer_log.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "shared/protocol/ringbox_proto.h"

namespace ringbox::host::run {
namespace {

using proto::Opcode;

// Answers with a scripted reply and remembers the payload it was given.
class ScriptedHandler final : public rpc::Handler {
 public:
  std::function<rpc::Reply(const rpc::Request&)> answer = [](const rpc::Request&) {
    return rpc::Reply{};
  };
  std::string seen_payload;
  const std::byte* seen_address = nullptr;
  int ended = 0;
  bool runs_inline(uint16_t opcode) const override {
    return opcode == static_cast<uint16_t>(Opcode::kPread);
  }
  void connection_ended() override { ++ended; }
  rpc::Reply handle(const rpc::Request& req) override {
    seen_address = req.in.opaque().data();
    rpc::Reply r = answer(req);  // may rewrite the "shared" buffer, as a racing guest would
    seen_payload = req.in.copy_string(0, req.in.size());
    return r;
  }
};

struct Call {
  std::vector<std::byte> shared;  // stands for the guest's data area
  rpc::Request req;
  Call(Opcode op, const std::string& payload, uint64_t arg0 = 0, uint16_t flags = 0) {
    shared.resize(payload.size());
    if (!payload.empty()) std::memcpy(shared.data(), payload.data(), payload.size());
    req.opcode = static_cast<uint16_t>(op);
    req.flags = flags;
    req.arg[0] = arg0;
    req.in = rpc::SharedBytes(shared);
  }
};

rpc::Reply ok_reply(uint32_t out_len, uint64_t v0 = 0, uint64_t v1 = 0) {
  rpc::Reply r;
  r.out_len = out_len;
  r.val = {v0, v1};
  return r;
}

std::vector<std::string> event_lines(const TransferLog& log) {
  std::vector<std::string> out;
  std::string text = log.render("test"), line;
  for (char c : text) {
    if (c != '\n') {
      line.push_back(c);
      continue;
    }
    if (!line.empty() && line[0] != '#') out.push_back(line);
    line.clear();
  }
  return out;
}

TEST_CASE("a file fetched in chunks is one fetched line with every byte counted") {
  ScriptedHandler inner;
  TransferLog log(inner);
  inner.answer = [](const rpc::Request& r) { return ok_reply(r.arg[0] == 0 ? 600 : 400, 1000); };
  Call first(Opcode::kGetfile, "in/data.bin", 0), second(Opcode::kGetfile, "in/data.bin", 600);
  CHECK(log.handle(first.req).ok());
  CHECK(log.handle(second.req).ok());
  CHECK(event_lines(log) == std::vector<std::string>{"fetched\t1000\tin/data.bin"});
  auto t = log.totals();
  CHECK(t.fetched_files == 1);
  CHECK(t.fetched_bytes == 1000);
  CHECK(t.fetch_chunks == 2);
  CHECK(log.summary() == "fetched 1 file whole (1000 B); returned 0 files (0 B)");
}

TEST_CASE("only complete fetches are listed, with the size the fetch began with") {
  ScriptedHandler inner;
  TransferLog log(inner);
  // The file grows while it is fetched: the copy is the 1000 bytes there at the start; the
  // last chunk brings more, which the guest does not keep.
  inner.answer = [](const rpc::Request& r) {
    return r.arg[0] == 0 ? ok_reply(600, 1000) : ok_reply(600, 1300);
  };
  Call first(Opcode::kGetfile, "in/growing", 0), second(Opcode::kGetfile, "in/growing", 600);
  REQUIRE(log.handle(first.req).ok());
  REQUIRE(log.handle(second.req).ok());
  CHECK(event_lines(log) == std::vector<std::string>{"fetched\t1000\tin/growing"});
  CHECK(log.totals().fetched_bytes == 1000);
  CHECK(log.totals().fetch_chunks == 2);

  // A fetch begun and abandoned, and one that skips ahead: neither is listed.
  inner.answer = [](const rpc::Request&) { return ok_reply(600, 5000); };
  Call a0(Opcode::kGetfile, "in/abandoned", 0);
  REQUIRE(log.handle(a0.req).ok());
  Call s0(Opcode::kGetfile, "in/skipped", 0), s1(Opcode::kGetfile, "in/skipped", 4600);
  REQUIRE(log.handle(s0.req).ok());
  REQUIRE(log.handle(s1.req).ok());
  CHECK(event_lines(log) == std::vector<std::string>{"fetched\t1000\tin/growing"});
  CHECK(log.totals().fetched_files == 1);
  CHECK(log.render("t").find("never completed (not listed above): 2") != std::string::npos);
}

TEST_CASE("a refused request is passed back and not recorded") {
  ScriptedHandler inner;
  TransferLog log(inner);
  inner.answer = [](const rpc::Request&) { return rpc::Reply::error(proto::WireError::kAcces); };
  Call c(Opcode::kGetfile, "private/secret.txt");
  CHECK(log.handle(c.req).status == -static_cast<int32_t>(proto::WireError::kAcces));
  CHECK(event_lines(log).empty());
  CHECK(log.totals().fetched_files == 0);
}

TEST_CASE("the path recorded is the one served even if the guest rewrites its request") {
  ScriptedHandler inner;
  TransferLog log(inner);
  Call c(Opcode::kGetfile, "in/honest.txt");
  inner.answer = [&c](const rpc::Request&) {
    std::memcpy(c.shared.data(), "in/forged.txt", 13);  // the guest races the host
    return ok_reply(5, 5);
  };
  REQUIRE(log.handle(c.req).ok());
  CHECK(inner.seen_address != c.shared.data());  // the service got a private copy
  CHECK(inner.seen_payload == "in/honest.txt");
  CHECK(event_lines(log) == std::vector<std::string>{"fetched\t5\tin/honest.txt"});
}

TEST_CASE("opens are recorded by intent, directory opens not at all") {
  ScriptedHandler inner;
  TransferLog log(inner);
  Call rd(Opcode::kOpen, "in/a", proto::kOpenRead);
  Call wr(Opcode::kOpen, "out/b", proto::kOpenWrite | proto::kOpenCreate);
  Call dir(Opcode::kOpen, "in", proto::kOpenRead | proto::kOpenDirectory);
  for (Call* c : {&rd, &wr, &dir}) REQUIRE(log.handle(c->req).ok());
  CHECK(event_lines(log) ==
        std::vector<std::string>{"opened-read\t-\tin/a", "opened-write\t-\tout/b"});
  CHECK(log.totals().opened_files == 2);
}

TEST_CASE("only a committed upload counts as returned, with the size the host reports") {
  ScriptedHandler inner;
  TransferLog log(inner);
  const std::string path = "out/result.txt";
  Call chunk(Opcode::kPutfile, path + "0123456789", path.size());
  chunk.req.arg[1] = 0;
  Call final_chunk(Opcode::kPutfile, path + "abc", path.size(), proto::kPutfileFinal);
  inner.answer = [](const rpc::Request& r) {
    return (r.flags & proto::kPutfileFinal) ? ok_reply(0, 3, 13) : ok_reply(0, 10);
  };
  REQUIRE(log.handle(chunk.req).ok());
  CHECK(event_lines(log).empty());
  REQUIRE(log.handle(final_chunk.req).ok());
  CHECK(event_lines(log) == std::vector<std::string>{"returned\t13\tout/result.txt"});
  CHECK(log.totals().returned_bytes == 13);
}

TEST_CASE("remote reads and writes are counted in the totals") {
  ScriptedHandler inner;
  TransferLog log(inner);
  inner.answer = [](const rpc::Request& r) {
    return r.opcode == static_cast<uint16_t>(Opcode::kPread) ? ok_reply(4096) : ok_reply(0, 100);
  };
  Call rd(Opcode::kPread, ""), wr(Opcode::kPwrite, std::string(100, 'x'));
  REQUIRE(log.handle(rd.req).ok());
  REQUIRE(log.handle(rd.req).ok());
  REQUIRE(log.handle(wr.req).ok());
  auto t = log.totals();
  CHECK(t.read_calls == 2);
  CHECK(t.read_bytes == 8192);
  CHECK(t.write_calls == 1);
  CHECK(t.write_bytes == 100);
  CHECK(event_lines(log).empty());
}

TEST_CASE("a path with control bytes cannot break a line or reach a terminal raw") {
  ScriptedHandler inner;
  TransferLog log(inner);
  Call c(Opcode::kGetfile, "in/evil\nfetched\t1\t\x1b[2Jx\\y");
  inner.answer = [](const rpc::Request&) { return ok_reply(0, 0); };
  REQUIRE(log.handle(c.req).ok());
  CHECK(event_lines(log) ==
        std::vector<std::string>{"fetched\t0\tin/evil\\x0afetched\\x091\\x09\\x1b[2Jx\\x5cy"});
}

TEST_CASE("writing the log where it cannot be written names the file") {
  ScriptedHandler inner;
  TransferLog log(inner);
  auto r = log.write("/nonexistent-dir/transfers", "test");
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("/nonexistent-dir/transfers") != std::string::npos);
}

TEST_CASE("sizes for people") {
  CHECK(human_bytes(0) == "0 B");
  CHECK(human_bytes(1023) == "1023 B");
  CHECK(human_bytes(1536) == "1.5 KiB");
  CHECK(human_bytes(96ull << 20) == "96.0 MiB");
}

}  // namespace
TEST_CASE("TransferLog keeps its inner handler's threading", "[transfer_log]") {
  // A log that put every request on the server's workers cost a thread hand-off per pread
  // (three futex calls and two context switches per request, measured with perf stat).
  ScriptedHandler inner;
  TransferLog log(inner);
  CHECK(log.runs_inline(static_cast<uint16_t>(Opcode::kPread)));
  CHECK_FALSE(log.runs_inline(static_cast<uint16_t>(Opcode::kGetfile)));
  // run ends the file service's connection itself (a cancelled vacate keeps it).
  log.connection_ended();
  CHECK(inner.ended == 0);
}

}  // namespace ringbox::host::run
