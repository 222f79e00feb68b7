// The job description the host hands the guest in its kJobGet reply, and its TLV encoding
// (JobRecord / JobTag in ringbox_proto.h).
//
// Both ends use this one implementation. The host encodes; the guest decodes. decode_job_spec
// takes bytes that are already private (the RPC client's reply buffer), bounds every record,
// length, count and string, and returns a checked JobSpec or an Error (Errc::kProtocol,
// sys_errno EPROTO) naming the first violation. The guest treats the host as trusted for
// *what* to run, but a malformed spec is still refused rather than half-applied, and the
// decoder is a fuzz target like every other decoder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/protocol/ringbox_proto.h"
#include "shared/util/result.h"

namespace ringbox::proto {

// The uid/gid a job runs as when the spec names none: "nobody" on Debian.
inline constexpr uint32_t kDefaultJobUid = 65534;
inline constexpr uint32_t kDefaultJobGid = 65534;

// Bounds on a spec. A spec need not fit the smallest legal ring message (16 KiB): the guest
// asks with its largest reply buffer, and the host answers kOverflow with the needed size when
// that is too small (see kJobGet), so the guest can report exactly what went wrong.
inline constexpr size_t kMaxJobSpecBytes = 1u << 20;  // 1 MiB
inline constexpr size_t kMaxJobRecords = 16384;
inline constexpr size_t kMaxJobArgBytes = 131072;  // Linux MAX_ARG_STRLEN
inline constexpr size_t kMaxJobArgs = 4096;
inline constexpr size_t kMaxJobEnv = 4096;
inline constexpr size_t kMaxJobFiles = 8192;  // inputs, and outputs, each

struct JobSpec {
  std::vector<std::string> argv;  // argv[0] first; at least one element
  std::vector<std::string> env;   // "NAME=value", NAME non-empty
  std::string cwd = ".";          // wire path (canonical, "." = the view's root)
  JobMode mode = JobMode::kRemoteIo;
  std::vector<std::string> inputs;   // wire paths
  std::vector<std::string> outputs;  // wire paths
  uint32_t uid = kDefaultJobUid;
  uint32_t gid = kDefaultJobGid;
};

// Checks the spec the host is about to send (the same rules decode applies), so a bad command
// line fails at the host with a clear message instead of at the guest.
Result<void> validate_job_spec(const JobSpec& spec);

// Records in a fixed order: kMode, kCwd, kUid, kGid, kArg..., kEnv..., kInput..., kOutput....
// Fails (Errc::kInvalidArgument) on a spec validate_job_spec refuses or one larger than
// kMaxJobSpecBytes.
Result<std::vector<std::byte>> encode_job_spec(const JobSpec& spec);

// Decodes a private copy of a kJobGet reply. Rules (any violation: Errc::kProtocol, EPROTO):
//   - records back to back from offset 0 to the end of the bytes; each header fully inside,
//     reserved == 0, value and its zero padding (to a multiple of 8) inside the bytes;
//   - at most kMaxJobRecords records and kMaxJobSpecBytes bytes;
//   - known tags only; kMode, kCwd, kUid, kGid at most once each; kMode required (there is no
//     safe default for how the job's files are reached); kArg at least once;
//   - kMode, kUid, kGid values exactly 4 bytes; kMode one of JobMode;
//   - strings contain no NUL; kArg 0..kMaxJobArgBytes bytes; kEnv has a non-empty NAME before
//     '='; kCwd, kInput and kOutput are canonical wire paths (is_canonical_path in codec.h).
Result<JobSpec> decode_job_spec(std::span<const std::byte> bytes);

const char* job_mode_name(JobMode mode);
// "remote-io" | "lazy-file" | "eager" | "auto" | "node"; false for anything else.
bool parse_job_mode(std::string_view name, JobMode& out);

}  // namespace ringbox::proto
