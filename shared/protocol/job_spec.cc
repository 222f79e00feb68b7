#include "shared/protocol/job_spec.h"

#include <cerrno>
#include <cstring>

#include "shared/protocol/codec.h"

namespace ringbox::proto {
namespace {

constexpr size_t kPadTo = 8;
constexpr size_t padded(size_t n) {
  return (n + kPadTo - 1) & ~(kPadTo - 1);
}

Error bad_spec(std::string what) {
  return Error{Errc::kProtocol, EPROTO, "malformed job spec: " + std::move(what)};
}

bool has_nul(std::string_view s) {
  return s.find('\0') != std::string_view::npos;
}

bool valid_env(std::string_view s) {
  size_t eq = s.find('=');
  return eq != std::string_view::npos && eq > 0 && !has_nul(s);
}

// The rules shared by validate (host, before sending) and decode (guest, after receiving).
// Returns an empty string when the spec is fine, else what is wrong.
std::string spec_problem(const JobSpec& s) {
  if (s.argv.empty()) return "no command (argv is empty)";
  if (s.argv.size() > kMaxJobArgs) return "more than " + std::to_string(kMaxJobArgs) + " arguments";
  for (size_t i = 0; i < s.argv.size(); ++i) {
    if (s.argv[i].size() > kMaxJobArgBytes || has_nul(s.argv[i]))
      return "argument " + std::to_string(i) + " is longer than " +
             std::to_string(kMaxJobArgBytes) + " bytes or contains a NUL byte";
  }
  if (s.argv[0].empty()) return "argv[0] is empty";
  if (s.env.size() > kMaxJobEnv) return "more than " + std::to_string(kMaxJobEnv) + " variables";
  for (const auto& e : s.env) {
    if (e.size() > kMaxJobArgBytes || !valid_env(e))
      return "environment entry '" + e.substr(0, 64) + "' is not NAME=value";
  }
  if (!is_canonical_path(s.cwd))
    return "working directory '" + s.cwd.substr(0, 256) + "' is not a canonical relative path";
  switch (s.mode) {
    case JobMode::kEager:
    case JobMode::kRemoteIo:
    case JobMode::kLazyFile:
    case JobMode::kAuto:
    case JobMode::kNode:
      break;
    default:
      return "unknown mode " + std::to_string(static_cast<uint32_t>(s.mode));
  }
  for (const auto* list : {&s.inputs, &s.outputs}) {
    if (list->size() > kMaxJobFiles)
      return "more than " + std::to_string(kMaxJobFiles) + " inputs or outputs";
    for (const auto& p : *list)
      if (!is_canonical_path(p) || p == ".")
        return "input/output path '" + p.substr(0, 256) +
               "' is not a canonical relative path naming a file";
  }
  return {};
}

class Writer {
 public:
  void put(JobTag tag, std::string_view value) { put(tag, value.data(), value.size()); }
  void put_u32(JobTag tag, uint32_t v) { put(tag, &v, sizeof(v)); }
  std::vector<std::byte> take() { return std::move(out_); }
  size_t size() const { return out_.size(); }

 private:
  void put(JobTag tag, const void* data, size_t len) {
    JobRecord rec{static_cast<uint16_t>(tag), 0, static_cast<uint32_t>(len)};
    size_t at = out_.size();
    out_.resize(at + sizeof(rec) + padded(len));  // resize zero-fills the padding
    std::memcpy(out_.data() + at, &rec, sizeof(rec));
    if (len > 0) std::memcpy(out_.data() + at + sizeof(rec), data, len);
  }
  std::vector<std::byte> out_;
};

Result<uint32_t> read_u32(std::span<const std::byte> value, const char* what) {
  if (value.size() != sizeof(uint32_t))
    return bad_spec(std::string(what) + " value is " + std::to_string(value.size()) +
                    " bytes, expected 4");
  uint32_t v;
  std::memcpy(&v, value.data(), sizeof(v));
  return v;
}

}  // namespace

Result<void> validate_job_spec(const JobSpec& spec) {
  std::string problem = spec_problem(spec);
  if (!problem.empty()) return make_error(Errc::kInvalidArgument, "job spec: " + problem);
  return ok();
}

Result<std::vector<std::byte>> encode_job_spec(const JobSpec& spec) {
  RINGBOX_TRY(validate_job_spec(spec));
  Writer w;
  w.put_u32(JobTag::kMode, static_cast<uint32_t>(spec.mode));
  w.put(JobTag::kCwd, spec.cwd);
  w.put_u32(JobTag::kUid, spec.uid);
  w.put_u32(JobTag::kGid, spec.gid);
  for (const auto& a : spec.argv) w.put(JobTag::kArg, a);
  for (const auto& e : spec.env) w.put(JobTag::kEnv, e);
  for (const auto& p : spec.inputs) w.put(JobTag::kInput, p);
  for (const auto& p : spec.outputs) w.put(JobTag::kOutput, p);
  if (w.size() > kMaxJobSpecBytes)
    return make_error(Errc::kInvalidArgument, "job spec encodes to " + std::to_string(w.size()) +
                                                  " bytes, more than the " +
                                                  std::to_string(kMaxJobSpecBytes) +
                                                  "-byte limit; shorten the command, "
                                                  "environment or file lists");
  return w.take();
}

Result<JobSpec> decode_job_spec(std::span<const std::byte> bytes) {
  if (bytes.size() > kMaxJobSpecBytes)
    return bad_spec(std::to_string(bytes.size()) + " bytes exceeds the limit");
  JobSpec spec;
  spec.argv.clear();
  bool seen_mode = false, seen_cwd = false, seen_uid = false, seen_gid = false;
  size_t pos = 0, records = 0;
  while (pos < bytes.size()) {
    if (++records > kMaxJobRecords) return bad_spec("too many records");
    if (bytes.size() - pos < sizeof(JobRecord))
      return bad_spec("truncated record header at offset " + std::to_string(pos));
    JobRecord rec;
    std::memcpy(&rec, bytes.data() + pos, sizeof(rec));
    pos += sizeof(rec);
    if (rec.reserved != 0)
      return bad_spec("reserved field set in record at " + std::to_string(pos));
    size_t room = bytes.size() - pos;
    if (rec.len > room || padded(rec.len) > room)
      return bad_spec("record of " + std::to_string(rec.len) + " bytes overruns the spec");
    auto value = bytes.subspan(pos, rec.len);
    for (size_t i = rec.len; i < padded(rec.len); ++i)
      if (bytes[pos + i] != std::byte{0}) return bad_spec("non-zero padding");
    pos += padded(rec.len);
    std::string_view text(reinterpret_cast<const char*>(value.data()), value.size());

    switch (static_cast<JobTag>(rec.tag)) {
      case JobTag::kArg:
        if (spec.argv.size() >= kMaxJobArgs) return bad_spec("too many arguments");
        spec.argv.emplace_back(text);
        break;
      case JobTag::kEnv:
        if (spec.env.size() >= kMaxJobEnv) return bad_spec("too many environment entries");
        spec.env.emplace_back(text);
        break;
      case JobTag::kCwd:
        if (seen_cwd) return bad_spec("kCwd repeated");
        seen_cwd = true;
        spec.cwd = std::string(text);
        break;
      case JobTag::kMode: {
        if (seen_mode) return bad_spec("kMode repeated");
        seen_mode = true;
        auto v = read_u32(value, "kMode");
        if (!v) return std::move(v.error());
        spec.mode = static_cast<JobMode>(*v);
        break;
      }
      case JobTag::kInput:
        if (spec.inputs.size() >= kMaxJobFiles) return bad_spec("too many inputs");
        spec.inputs.emplace_back(text);
        break;
      case JobTag::kOutput:
        if (spec.outputs.size() >= kMaxJobFiles) return bad_spec("too many outputs");
        spec.outputs.emplace_back(text);
        break;
      case JobTag::kUid: {
        if (seen_uid) return bad_spec("kUid repeated");
        seen_uid = true;
        auto v = read_u32(value, "kUid");
        if (!v) return std::move(v.error());
        spec.uid = *v;
        break;
      }
      case JobTag::kGid: {
        if (seen_gid) return bad_spec("kGid repeated");
        seen_gid = true;
        auto v = read_u32(value, "kGid");
        if (!v) return std::move(v.error());
        spec.gid = *v;
        break;
      }
      default:
        return bad_spec("unknown tag " + std::to_string(rec.tag));
    }
  }
  if (!seen_mode) return bad_spec("no kMode record");
  std::string problem = spec_problem(spec);
  if (!problem.empty()) return bad_spec(problem);
  return spec;
}

const char* job_mode_name(JobMode mode) {
  switch (mode) {
    case JobMode::kEager:
      return "eager";
    case JobMode::kRemoteIo:
      return "remote-io";
    case JobMode::kLazyFile:
      return "lazy-file";
    case JobMode::kAuto:
      return "auto";
    case JobMode::kNode:
      return "node";
  }
  return "unknown";
}

bool parse_job_mode(std::string_view name, JobMode& out) {
  for (JobMode m :
       {JobMode::kEager, JobMode::kRemoteIo, JobMode::kLazyFile, JobMode::kAuto, JobMode::kNode}) {
    if (name == job_mode_name(m)) {
      out = m;
      return true;
    }
  }
  return false;
}

}  // namespace ringbox::proto
