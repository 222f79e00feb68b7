// Pure string arithmetic on canonical export-relative paths (shared/protocol/codec.h defines
// "canonical"). No system calls: ExportRoot and Policy build on these, and they are the only
// place where paths are split, joined or compared.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "shared/util/result.h"

namespace ringbox::host::files {

struct ParentAndName {
  std::string parent;  // "." for a top-level entry
  std::string name;    // one valid component
};

// Splits a canonical path other than "." into its parent and last component.
// Precondition: is_canonical_path(path) && path != ".".
ParentAndName split_parent(std::string_view path);

// Joins a canonical parent (possibly ".") and a valid name.
std::string join_path(std::string_view parent, std::string_view name);

// The components of a canonical path ("." has none).
std::vector<std::string> path_components(std::string_view path);

// True when `path` is `prefix` or lies beneath it ("." covers everything). Both canonical.
bool path_covers(std::string_view prefix, std::string_view path);

// Resolves a symlink's text lexically against the directory holding the link, as the guest's
// kernel would inside the export: "." and empty components vanish, ".." climbs. Returns the
// canonical result. EXDEV (Errc::kProtocol) for an absolute target or one that climbs above the
// export root; ENAMETOOLONG when the result is not a valid wire path.
Result<std::string> resolve_link_text(std::string_view link_dir, std::string_view target);

// The kSymlink rule (v2): true when link text, read from link_dir as the guest's kernel would
// read it lexically ("." and empty components vanish, ".." climbs), never leaves the export.
// Unlike resolve_link_text it builds no path, so components longer than 255 bytes and results
// longer than kMaxPathBytes are fine (Linux stores any link text; such a link just dangles).
// EXDEV (Errc::kProtocol) for an absolute or empty target or one that climbs above the root.
Result<void> check_link_stays_inside(std::string_view link_dir, std::string_view target);

// A guest-chosen string made safe for a log line: non-printable bytes as \xNN, at most
// ~120 characters.
std::string printable(std::string_view untrusted);

}  // namespace ringbox::host::files
