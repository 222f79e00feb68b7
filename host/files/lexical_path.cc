#include "host/files/lexical_path.h"

#include <cerrno>

#include "shared/protocol/codec.h"

namespace ringbox::host::files {

ParentAndName split_parent(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {".", std::string(path)};
  return {std::string(path.substr(0, slash)), std::string(path.substr(slash + 1))};
}

std::string join_path(std::string_view parent, std::string_view name) {
  if (parent == ".") return std::string(name);
  std::string p(parent);
  p += '/';
  p += name;
  return p;
}

std::vector<std::string> path_components(std::string_view path) {
  std::vector<std::string> out;
  if (path == ".") return out;
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.emplace_back(path.substr(start));
      return out;
    }
    out.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

bool path_covers(std::string_view prefix, std::string_view path) {
  if (prefix == ".") return true;
  if (path.size() < prefix.size() || path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

Result<std::string> resolve_link_text(std::string_view link_dir, std::string_view target) {
  if (target.empty() || target.front() == '/')
    return Error{Errc::kProtocol, EXDEV, "symlink target is absolute (or empty)"};
  std::vector<std::string> parts = path_components(link_dir);
  size_t start = 0;
  while (start <= target.size()) {
    size_t slash = target.find('/', start);
    if (slash == std::string_view::npos) slash = target.size();
    std::string_view comp = target.substr(start, slash - start);
    start = slash + 1;
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") {
      if (parts.empty())
        return Error{Errc::kProtocol, EXDEV, "symlink target climbs above the export root"};
      parts.pop_back();
      continue;
    }
    parts.emplace_back(comp);
  }
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  if (out.empty()) return std::string(".");  // (not `out = "."`: GCC 12 -Wrestrict false alarm)
  if (!proto::is_canonical_path(out))
    return Error{Errc::kProtocol, ENAMETOOLONG, "symlink target resolves to an invalid path"};
  return out;
}

Result<void> check_link_stays_inside(std::string_view link_dir, std::string_view target) {
  if (target.empty() || target.front() == '/')
    return Error{Errc::kProtocol, EXDEV, "symlink target is absolute (or empty)"};
  size_t depth = path_components(link_dir).size();
  size_t start = 0;
  while (start <= target.size()) {
    size_t slash = target.find('/', start);
    if (slash == std::string_view::npos) slash = target.size();
    std::string_view comp = target.substr(start, slash - start);
    start = slash + 1;
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") {
      if (depth == 0)
        return Error{Errc::kProtocol, EXDEV, "symlink target climbs above the export root"};
      --depth;
      continue;
    }
    ++depth;
  }
  return ok();
}

std::string printable(std::string_view untrusted) {
  constexpr size_t kMaxShownBytes = 120;
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < untrusted.size() && i < kMaxShownBytes; ++i) {
    unsigned char c = static_cast<unsigned char>(untrusted[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (untrusted.size() > kMaxShownBytes) out += "...";
  return out;
}

}  // namespace ringbox::host::files
