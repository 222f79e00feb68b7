// The JobSpec TLV both ends share: what round-trips, and what a decoder refuses (hostile or
// broken bytes end in a clean error, never a crash or an over-read: these run under ASan).
#include "shared/protocol/job_spec.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

using namespace ringbox;
using namespace ringbox::proto;

namespace {

JobSpec sample() {
  JobSpec s;
  s.argv = {"sh", "-c", "echo hi > out", ""};  // an empty argument is a valid argument
  s.env = {"PATH=/usr/bin:/bin", "EMPTY="};
  s.cwd = "work/dir";
  s.mode = JobMode::kLazyFile;
  s.inputs = {"in/a", "in/b"};
  s.outputs = {"out"};
  s.uid = 1234;
  s.gid = 5678;
  return s;
}

void put_record(std::vector<std::byte>& out, uint16_t tag, const void* value, uint32_t len,
                uint16_t reserved = 0) {
  JobRecord rec{tag, reserved, len};
  size_t at = out.size();
  out.resize(at + sizeof(rec) + ((len + 7) & ~7u));
  std::memcpy(out.data() + at, &rec, sizeof(rec));
  if (len) std::memcpy(out.data() + at + sizeof(rec), value, len);
}
void put_str(std::vector<std::byte>& out, JobTag tag, const std::string& s) {
  put_record(out, static_cast<uint16_t>(tag), s.data(), static_cast<uint32_t>(s.size()));
}
void put_u32(std::vector<std::byte>& out, JobTag tag, uint32_t v) {
  put_record(out, static_cast<uint16_t>(tag), &v, 4);
}
// The smallest valid spec, to which a test adds one bad thing.
std::vector<std::byte> minimal() {
  std::vector<std::byte> b;
  put_u32(b, JobTag::kMode, static_cast<uint32_t>(JobMode::kRemoteIo));
  put_str(b, JobTag::kArg, "true");
  return b;
}

bool refused(const std::vector<std::byte>& b) {
  auto r = decode_job_spec(b);
  if (r) return false;
  CHECK(r.error().code == Errc::kProtocol);
  CHECK(r.error().sys_errno == EPROTO);
  return true;
}

}  // namespace

TEST_CASE("a job spec round-trips through encode and decode", "[job_spec]") {
  JobSpec s = sample();
  auto bytes = encode_job_spec(s);
  REQUIRE(bytes);
  CHECK(bytes->size() % 8 == 0);
  auto d = decode_job_spec(*bytes);
  REQUIRE(d);
  CHECK(d->argv == s.argv);
  CHECK(d->env == s.env);
  CHECK(d->cwd == s.cwd);
  CHECK(d->mode == s.mode);
  CHECK(d->inputs == s.inputs);
  CHECK(d->outputs == s.outputs);
  CHECK(d->uid == 1234);
  CHECK(d->gid == 5678);
}

TEST_CASE("a spec without cwd or ids gets the root of the view and uid/gid 65534", "[job_spec]") {
  auto d = decode_job_spec(minimal());
  REQUIRE(d);
  CHECK(d->cwd == ".");
  CHECK(d->uid == kDefaultJobUid);
  CHECK(d->gid == kDefaultJobGid);
  CHECK(d->argv == std::vector<std::string>{"true"});
}

TEST_CASE("encode refuses a spec the guest could not run", "[job_spec]") {
  JobSpec s = sample();
  SECTION("no command") {
    s.argv.clear();
  }
  SECTION("empty program name") {
    s.argv = {""};
  }
  SECTION("NUL in an argument") {
    s.argv.push_back(std::string("a\0b", 3));
  }
  SECTION("environment entry without a name") {
    s.env.push_back("=x");
  }
  SECTION("environment entry without '='") {
    s.env.push_back("NOEQUALS");
  }
  SECTION("absolute cwd") {
    s.cwd = "/etc";
  }
  SECTION("cwd climbing out") {
    s.cwd = "../x";
  }
  SECTION("input climbing out") {
    s.inputs.push_back("a/../../b");
  }
  SECTION("output naming the root") {
    s.outputs.push_back(".");
  }
  SECTION("unknown mode") {
    s.mode = static_cast<JobMode>(99);
  }
  SECTION("argument longer than the kernel takes") {
    s.argv.push_back(std::string(kMaxJobArgBytes + 1, 'x'));
  }
  auto r = encode_job_spec(s);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::kInvalidArgument);
}

TEST_CASE("decode refuses specs that break the record rules", "[job_spec]") {
  auto b = minimal();
  SECTION("no mode") {
    b.clear();
    put_str(b, JobTag::kArg, "true");
  }
  SECTION("no argument") {
    b.clear();
    put_u32(b, JobTag::kMode, 2);
  }
  SECTION("mode twice") {
    put_u32(b, JobTag::kMode, 2);
  }
  SECTION("uid twice") {
    put_u32(b, JobTag::kUid, 1);
    put_u32(b, JobTag::kUid, 1);
  }
  SECTION("cwd twice") {
    put_str(b, JobTag::kCwd, "a");
    put_str(b, JobTag::kCwd, "b");
  }
  SECTION("mode of the wrong size") {
    uint64_t v = 2;
    b.clear();
    put_record(b, static_cast<uint16_t>(JobTag::kMode), &v, 8);
    put_str(b, JobTag::kArg, "true");
  }
  SECTION("unknown mode value") {
    b.clear();
    put_u32(b, JobTag::kMode, 0);
    put_str(b, JobTag::kArg, "true");
  }
  SECTION("unknown tag") {
    put_str(b, static_cast<JobTag>(77), "x");
  }
  SECTION("reserved field set") {
    put_record(b, static_cast<uint16_t>(JobTag::kEnv), "A=1", 3, /*reserved=*/1);
  }
  SECTION("non-zero padding") {
    put_str(b, JobTag::kEnv, "A=1");
    b.back() = std::byte{1};
  }
  SECTION("length past the end") {
    put_str(b, JobTag::kEnv, "A=1");
    JobRecord rec;
    std::memcpy(&rec, b.data() + b.size() - 16, sizeof(rec));
    rec.len = 0xfffffff0u;
    std::memcpy(b.data() + b.size() - 16, &rec, sizeof(rec));
  }
  SECTION("value without its padding") {
    put_str(b, JobTag::kEnv, "A=1");
    b.resize(b.size() - 1);
  }
  SECTION("truncated header") {
    b.resize(b.size() + 4);
  }
  SECTION("NUL in a string") {
    put_str(b, JobTag::kArg, std::string("a\0b", 3));
  }
  SECTION("absolute input") {
    put_str(b, JobTag::kInput, "/etc/shadow");
  }
  SECTION("input with ..") {
    put_str(b, JobTag::kInput, "in/../../x");
  }
  SECTION("bad environment entry") {
    put_str(b, JobTag::kEnv, "=value");
  }
  CHECK(refused(b));
}

TEST_CASE("decode bounds the number of records and the size", "[job_spec]") {
  auto b = minimal();
  for (size_t i = 0; i < kMaxJobRecords; ++i) put_str(b, JobTag::kEnv, "A=1");
  CHECK(refused(b));
  std::vector<std::byte> huge(kMaxJobSpecBytes + 8);
  CHECK(refused(huge));
}

TEST_CASE("decode of every truncation of a valid spec fails cleanly or succeeds", "[job_spec]") {
  auto bytes = encode_job_spec(sample());
  REQUIRE(bytes);
  for (size_t n = 0; n < bytes->size(); ++n) {
    std::vector<std::byte> cut(bytes->begin(), bytes->begin() + static_cast<long>(n));
    auto r = decode_job_spec(cut);
    // A cut at a record boundary is a shorter valid spec only if it still has mode and argv.
    if (r) CHECK_FALSE(r->argv.empty());
  }
}

TEST_CASE("decode survives every single-byte corruption of a valid spec", "[job_spec]") {
  auto bytes = encode_job_spec(sample());
  REQUIRE(bytes);
  for (size_t i = 0; i < bytes->size(); ++i) {
    for (uint8_t v : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
      auto b = *bytes;
      b[i] = std::byte{v};
      auto r = decode_job_spec(b);  // any answer is fine; a crash or an over-read is not
      if (r) CHECK(validate_job_spec(*r));
    }
  }
}

TEST_CASE("mode names parse both ways", "[job_spec]") {
  for (JobMode m :
       {JobMode::kEager, JobMode::kRemoteIo, JobMode::kLazyFile, JobMode::kAuto, JobMode::kNode}) {
    JobMode back{};
    REQUIRE(parse_job_mode(job_mode_name(m), back));
    CHECK(back == m);
  }
  JobMode x{};
  CHECK_FALSE(parse_job_mode("lazy", x));
  CHECK_FALSE(parse_job_mode("", x));
}
