// Wire paths (ringbox_proto.h, "Paths"): the one place where both sides check, split, join and
// compare the export-relative paths requests carry. Pure string arithmetic, no system calls.
//
// A wire path is canonical:
//   - 1..kMaxPathBytes bytes, no NUL byte;
//   - either exactly "." (the export root), or components separated by single '/', with no
//     leading or trailing '/', no "." or ".." component, each component 1..kMaxNameBytes bytes.
// Tricky forms ("a//b", "./a", "a/../b", "/abs") are refused, never repaired, so the path the
// host checks against its policy is exactly the path it hands to the kernel.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "shared/protocol/ringbox_proto.h"
#include "shared/util/result.h"

namespace ringbox::proto {

// Checks that `path` is canonical. `what` names the field in the error.
// Errors (Errc::kProtocol): ENAMETOOLONG (too long, or a component too long), EINVAL (empty, a
// NUL byte, or not canonical).
Result<void> check_wire_path(std::string_view path, std::string_view what);
// Link text (kSymlink's target) is not a wire path: 1..kMaxPathBytes bytes, no NUL. Errors as
// check_wire_path.
Result<void> check_link_text(std::string_view text, std::string_view what);
bool is_canonical_path(std::string_view path);
// One component: 1..kMaxNameBytes bytes, no '/' and no NUL, not "." or "..".
bool is_valid_name(std::string_view name);

struct ParentAndName {
  std::string parent;  // "." for a top-level entry
  std::string name;    // one valid component
};
// Splits a canonical path other than "." into its parent and last component.
// Precondition: is_canonical_path(path) && path != ".".
ParentAndName split_wire_path(std::string_view path);
// The parent of a canonical path other than "." ("." for a top-level name).
std::string wire_parent(std::string_view path);
// "a/b" for ("a", "b"); "b" for (".", "b"). parent canonical, name valid.
std::string join_wire_path(std::string_view parent, std::string_view name);
// The components of a canonical path ("." has none).
std::vector<std::string> wire_path_components(std::string_view path);
// True when `path` is `prefix` or lies beneath it ("." covers everything). Both canonical.
bool wire_path_covers(std::string_view prefix, std::string_view path);

// Resolves a symlink's text lexically against the directory holding the link, as the guest's
// kernel would inside the export: "." and empty components vanish, ".." climbs. Returns the
// canonical result. EXDEV (Errc::kProtocol) for an absolute target or one that climbs above the
// export root; ENAMETOOLONG when the result is not a valid wire path.
Result<std::string> resolve_link_text(std::string_view link_dir, std::string_view target);
// The kSymlink rule (v2): true when link text, read from link_dir as resolve_link_text reads it,
// never leaves the export. It builds no path, so components longer than kMaxNameBytes and
// results longer than kMaxPathBytes are fine (Linux stores any link text; such a link just
// dangles). EXDEV (Errc::kProtocol) for an absolute or empty target or one that climbs above
// the root.
Result<void> check_link_stays_inside(std::string_view link_dir, std::string_view target);

}  // namespace ringbox::proto
