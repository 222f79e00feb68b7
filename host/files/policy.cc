#include "host/files/policy.h"

#include "shared/path/wire_path.h"
#include "shared/protocol/codec.h"
#include "shared/util/log.h"

namespace ringbox::host::files {
namespace {

Result<void> check_rules(const std::vector<std::string>& rules, const char* kind) {
  for (const auto& r : rules) {
    if (!proto::is_canonical_path(r))
      return make_error(Errc::kInvalidArgument,
                        std::string(kind) + " rule '" + printable(r) +
                            "' is not an export-relative path: write it without a leading or "
                            "trailing '/', '.' or '..' components or doubled slashes (use '.' "
                            "for the whole export)");
  }
  return ok();
}

std::string join_rules(const std::vector<std::string>& rules) {
  if (rules.empty()) return "(nothing)";
  std::string s;
  for (const auto& r : rules) s += (s.empty() ? "" : ", ") + r;
  return s;
}

}  // namespace

Result<Policy> Policy::create(std::vector<std::string> read_rules,
                              std::vector<std::string> write_rules) {
  RINGBOX_TRY(check_rules(read_rules, "read"));
  RINGBOX_TRY(check_rules(write_rules, "write"));
  return Policy(std::move(read_rules), std::move(write_rules));
}

Policy Policy::read_only() {
  return Policy({"."}, {});
}
Result<Policy> policy_from_rules(const PolicyRules& rules) {
  auto p = Policy::create(rules.read, rules.write);
  if (!p || rules.reserved.empty()) return p;
  return p->with_reserved(rules.reserved);
}

Policy Policy::read_write() {
  return Policy({"."}, {"."});
}

Result<Policy> Policy::with_reserved(std::vector<std::string> paths) const {
  RINGBOX_TRY(check_rules(paths, "reserved"));
  for (const auto& p : paths)
    if (p == ".")
      return make_error(Errc::kInvalidArgument, "the export root itself cannot be reserved");
  Policy p = *this;
  p.reserved_.insert(p.reserved_.end(), paths.begin(), paths.end());
  return p;
}

bool Policy::reserved(std::string_view path) const {
  for (const auto& r : reserved_)
    if (proto::wire_path_covers(r, path)) return true;
  return false;
}

bool Policy::allows(std::string_view path, Access access) const {
  if (reserved(path)) return false;
  for (const auto& w : write_)
    if (proto::wire_path_covers(w, path)) return true;  // a write rule implies read
  if (access == Access::kWrite) return false;
  for (const auto& r : read_)
    if (proto::wire_path_covers(r, path)) return true;
  return false;
}

bool Policy::leads_to_readable(std::string_view path) const {
  if (reserved(path)) return false;
  for (const auto* rules : {&read_, &write_})
    for (const auto& r : *rules)
      if (proto::wire_path_covers(path, r)) return true;  // path is r or an ancestor of r
  return false;
}

std::string Policy::describe() const {
  std::string s = "read: " + join_rules(read_) + "; write: " + join_rules(write_);
  if (!reserved_.empty()) s += "; reserved: " + join_rules(reserved_);
  return s;
}

}  // namespace ringbox::host::files
