// Policy: which export-relative paths one job may read and which it may write.
//
// Rules are canonical export-relative paths (codec.h: "in", "out/logs", or "." for the whole
// export); a rule covers itself and everything beneath it. A write rule implies read. With no
// rules nothing is allowed; the default policy of a job (read_only()) reads the whole export
// and writes nothing. Everything not covered is refused with EACCES.
//
// The policy is checked on the symlink-free canonical path that ExportRoot resolved, never on
// a path the kernel would still interpret, so a symlink cannot carry a request from a covered
// path into an uncovered one (see docs/file-service.md). Reserved paths are outside every
// rule: never read, written or listed (the HTCondor service reserves the wrapper's files in the
// scratch dir, host/service/service_protocol.h). Immutable after creation, so it is safe to
// share between handler threads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "shared/util/result.h"

namespace ringbox::host::files {

enum class Access { kRead, kWrite };

class Policy;

// A policy as its rule lists, for building it in another process (the confined file service,
// host/confine): create(read, write), then with_reserved(reserved) when there are any.
struct PolicyRules {
  std::vector<std::string> read, write, reserved;
};
// The Policy of `rules`; create's and with_reserved's errors.
Result<Policy> policy_from_rules(const PolicyRules& rules);

class Policy {
 public:
  // Each rule must be canonical; a rule that is not names itself in the error, with what to do.
  static Result<Policy> create(std::vector<std::string> read_rules,
                               std::vector<std::string> write_rules);
  // The default: the whole export readable, nothing writable.
  static Policy read_only();
  // The whole export readable and writable.
  static Policy read_write();

  // The same rules with paths reserved: each must be canonical and not "." (errors as create).
  Result<Policy> with_reserved(std::vector<std::string> paths) const;

  bool allows(std::string_view path, Access access) const;
  // True for a reserved path or one beneath it.
  bool reserved(std::string_view path) const;
  bool has_reserved() const { return !reserved_.empty(); }
  // True for a directory on the way to something readable (an ancestor of a read or write
  // rule). Such a directory may be looked up (stat) and listed, the listing filtered to the
  // entries that are readable or themselves lead to something readable.
  bool leads_to_readable(std::string_view path) const;
  // "read: in, out; write: out" for logs.
  std::string describe() const;

 private:
  Policy(std::vector<std::string> read, std::vector<std::string> write)
      : read_(std::move(read)), write_(std::move(write)) {}
  std::vector<std::string> read_;  // read rules as given; write rules also grant read
  std::vector<std::string> write_;
  std::vector<std::string> reserved_;
};

}  // namespace ringbox::host::files
