// Fuzzes the job spec decoder (shared/protocol/job_spec.h): any bytes as a kJobGet reply. It
// must decode or refuse cleanly; what it accepts must pass validate_job_spec (the host's own
// rules), and encoding it again must decode to the same spec.
#include <cstring>
#include <string>

#include "shared/protocol/job_spec.h"
#include "tests/fuzz/fuzz_target.h"

using namespace ringbox::proto;

namespace {

bool same_spec(const JobSpec& a, const JobSpec& b) {
  return a.argv == b.argv && a.env == b.env && a.cwd == b.cwd && a.mode == b.mode &&
         a.inputs == b.inputs && a.outputs == b.outputs && a.uid == b.uid && a.gid == b.gid;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  auto spec = decode_job_spec(in);
  if (!spec) return 0;
  FUZZ_CHECK(validate_job_spec(*spec).has_value());
  FUZZ_CHECK(!spec->argv.empty() && !spec->argv[0].empty());
  FUZZ_CHECK(spec->argv.size() <= kMaxJobArgs && spec->env.size() <= kMaxJobEnv);
  FUZZ_CHECK(spec->inputs.size() <= kMaxJobFiles && spec->outputs.size() <= kMaxJobFiles);
  JobMode mode;
  FUZZ_CHECK(parse_job_mode(job_mode_name(spec->mode), mode) && mode == spec->mode);
  // Re-encoding writes the same records in canonical order: no larger than the input plus
  // the three 16-byte records of the defaults (kCwd ".", kUid, kGid) it may have left out.
  auto again = encode_job_spec(*spec);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->size() <= size + 3 * 16);
  auto back = decode_job_spec(*again);
  FUZZ_CHECK(back.has_value());
  FUZZ_CHECK(same_spec(*back, *spec));
  return 0;
}

std::vector<std::vector<uint8_t>> fuzz_seeds() {
  std::vector<std::vector<uint8_t>> seeds;
  auto add = [&](const JobSpec& s) {
    auto b = encode_job_spec(s);
    FUZZ_CHECK(b.has_value());
    const auto* p = reinterpret_cast<const uint8_t*>(b->data());
    seeds.emplace_back(p, p + b->size());
  };
  JobSpec simple;
  simple.argv = {"/bin/sh", "-c", "echo hi"};
  add(simple);
  JobSpec full;
  full.argv = {"./prog", "", "--x=1"};
  full.env = {"PATH=/usr/bin:/bin", "EMPTY=", "A==b"};
  full.cwd = "work/dir";
  full.mode = JobMode::kEager;
  full.inputs = {"in/a.dat", "in/b.dat"};
  full.outputs = {"out/result"};
  full.uid = 1000;
  full.gid = 1000;
  add(full);
  for (JobMode m : {JobMode::kLazyFile, JobMode::kAuto, JobMode::kNode}) {
    JobSpec s = simple;
    s.mode = m;
    add(s);
  }
  // Records the host never writes but the decoder accepts: kMode last, no kCwd/kUid/kGid.
  std::vector<uint8_t> minimal;
  auto rec = [&](JobTag tag, std::string_view v) {
    JobRecord r{static_cast<uint16_t>(tag), 0, static_cast<uint32_t>(v.size())};
    const auto* p = reinterpret_cast<const uint8_t*>(&r);
    minimal.insert(minimal.end(), p, p + sizeof(r));
    minimal.insert(minimal.end(), v.begin(), v.end());
    minimal.resize((minimal.size() + 7) & ~size_t{7}, 0);
  };
  rec(JobTag::kArg, "true");
  const uint32_t mode = static_cast<uint32_t>(JobMode::kRemoteIo);
  rec(JobTag::kMode, std::string_view(reinterpret_cast<const char*>(&mode), sizeof(mode)));
  seeds.push_back(minimal);
  return seeds;
}
