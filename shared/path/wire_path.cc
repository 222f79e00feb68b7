#include "shared/path/wire_path.h"

#include <cerrno>

namespace ringbox::proto {

namespace {

Error bad(int err, std::string_view what, std::string_view why) {
  return Error{Errc::kProtocol, err, std::string(what) + " " + std::string(why)};
}

// Calls fn(component) for each '/'-separated piece of s, empty pieces included; stops at the
// first error fn returns.
template <typename Fn>
Result<void> for_each_component(std::string_view s, Fn&& fn) {
  size_t start = 0;
  for (;;) {
    size_t slash = s.find('/', start);
    RINGBOX_TRY(fn(s.substr(start, slash == std::string_view::npos ? s.npos : slash - start)));
    if (slash == std::string_view::npos) return ok();
    start = slash + 1;
  }
}

// Walks link text lexically from link_dir (the guest kernel's reading: "." and empty components
// vanish, ".." climbs): calls down(component) to descend and up() to climb, which returns false
// at the export root.
template <typename Down, typename Up>
Result<void> walk_link_text(std::string_view target, Down&& down, Up&& up) {
  if (target.empty() || target.front() == '/')
    return Error{Errc::kProtocol, EXDEV, "symlink target is absolute (or empty)"};
  return for_each_component(target, [&](std::string_view comp) -> Result<void> {
    if (comp.empty() || comp == ".") return ok();
    if (comp != "..") {
      down(comp);
      return ok();
    }
    if (!up()) return Error{Errc::kProtocol, EXDEV, "symlink target climbs above the export root"};
    return ok();
  });
}

}  // namespace

Result<void> check_link_text(std::string_view text, std::string_view what) {
  if (text.empty()) return bad(EINVAL, what, "is empty");
  if (text.size() > kMaxPathBytes)
    return bad(
        ENAMETOOLONG, what,
        "is " + std::to_string(text.size()) + " bytes, more than " + std::to_string(kMaxPathBytes));
  if (text.find('\0') != std::string_view::npos) return bad(EINVAL, what, "contains a NUL byte");
  return ok();
}

Result<void> check_wire_path(std::string_view path, std::string_view what) {
  RINGBOX_TRY(check_link_text(path, what));
  if (path == ".") return ok();
  return for_each_component(path, [&](std::string_view comp) -> Result<void> {
    if (comp.size() > kMaxNameBytes)
      return bad(ENAMETOOLONG, what,
                 "has a component longer than " + std::to_string(kMaxNameBytes) + " bytes");
    if (comp.empty() || comp == "." || comp == "..")
      return bad(EINVAL, what,
                 "is not canonical (leading, trailing or doubled '/', or a '.' or '..' "
                 "component)");
    return ok();
  });
}

bool is_canonical_path(std::string_view path) {
  return check_wire_path(path, "path").has_value();
}

bool is_valid_name(std::string_view name) {
  return !name.empty() && name.size() <= kMaxNameBytes && name != "." && name != ".." &&
         name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

ParentAndName split_wire_path(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {".", std::string(path)};
  return {std::string(path.substr(0, slash)), std::string(path.substr(slash + 1))};
}

std::string wire_parent(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  return std::string(path.substr(0, slash));
}

std::string join_wire_path(std::string_view parent, std::string_view name) {
  if (parent == ".") return std::string(name);
  std::string p(parent);
  p += '/';
  p += name;
  return p;
}

std::vector<std::string> wire_path_components(std::string_view path) {
  std::vector<std::string> out;
  if (path == ".") return out;
  (void)for_each_component(path, [&](std::string_view comp) -> Result<void> {
    out.emplace_back(comp);
    return ok();
  });
  return out;
}

bool wire_path_covers(std::string_view prefix, std::string_view path) {
  if (prefix == ".") return true;
  if (path.size() < prefix.size() || path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

Result<std::string> resolve_link_text(std::string_view link_dir, std::string_view target) {
  std::vector<std::string> parts = wire_path_components(link_dir);
  RINGBOX_TRY(walk_link_text(
      target, [&](std::string_view comp) { parts.emplace_back(comp); },
      [&] {
        if (parts.empty()) return false;
        parts.pop_back();
        return true;
      }));
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  if (out.empty()) return std::string(".");  // (not `out = "."`: GCC 12 -Wrestrict false alarm)
  if (!is_canonical_path(out))
    return Error{Errc::kProtocol, ENAMETOOLONG, "symlink target resolves to an invalid path"};
  return out;
}

Result<void> check_link_stays_inside(std::string_view link_dir, std::string_view target) {
  size_t depth = wire_path_components(link_dir).size();
  return walk_link_text(
      target, [&](std::string_view) { ++depth; },
      [&] {
        if (depth == 0) return false;
        --depth;
        return true;
      });
}

}  // namespace ringbox::proto
