#include "host/condor/class_ad.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <strings.h>
#include <charconv>

#include "shared/util/file_io.h"
#include "shared/util/unique_fd.h"

namespace ringbox::host::condor {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool equal_nocase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// A ClassAd attribute name: [A-Za-z_][A-Za-z0-9_]* (src/classad/lexer.cpp, tokenizeAlphaHead).
bool is_attribute_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxAttributeNameBytes) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(s[0])) return false;
  for (char c : s)
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  return true;
}

// A whole string literal "..." with the new-ClassAd escapes (src/classad/lexer.cpp,
// convert_escapes). Nullopt when text is not exactly one well-formed literal.
std::optional<std::string> decode_string(std::string_view text) {
  if (text.size() < 2 || text.front() != '"' || text.back() != '"') return std::nullopt;
  std::string out;
  out.reserve(text.size());
  size_t i = 1, end = text.size() - 1;
  while (i < end) {
    char c = text[i++];
    if (c == '"') return std::nullopt;  // an unescaped quote: two strings or an expression
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (i >= end) return std::nullopt;  // the closing quote was escaped
    char e = text[i++];
    switch (e) {
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'a':
        out.push_back('\a');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case '\\':
      case '"':
      case '\'':
      case '/':
      case '?':
        out.push_back(e);
        break;
      default:
        if (e >= '0' && e <= '7') {
          // Up to three octal digits, value at most 0377.
          unsigned v = static_cast<unsigned>(e - '0');
          for (int k = 0; k < 2 && i < end && text[i] >= '0' && text[i] <= '7'; ++k)
            v = v * 8 + static_cast<unsigned>(text[i++] - '0');
          if (v > 0377) return std::nullopt;
          out.push_back(static_cast<char>(v));
        } else {
          return std::nullopt;  // unknown escape: leave the whole value unparsed
        }
    }
  }
  return out;
}

}  // namespace

ClassAdValue parse_classad_value(std::string_view raw) {
  ClassAdValue v;
  std::string_view text = trim(raw);
  v.text = std::string(text);
  if (text.empty()) {
    v.kind = ClassAdValue::Kind::kExpression;
    return v;
  }
  if (text.front() == '"') {
    if (auto s = decode_string(text)) {
      v.kind = ClassAdValue::Kind::kString;
      v.text = std::move(*s);
    } else {
      v.kind = ClassAdValue::Kind::kExpression;
    }
    return v;
  }
  if (equal_nocase(text, "true") || equal_nocase(text, "false")) {
    v.kind = ClassAdValue::Kind::kBoolean;
    v.boolean = equal_nocase(text, "true");
    return v;
  }
  if (equal_nocase(text, "undefined")) {
    v.kind = ClassAdValue::Kind::kUndefined;
    return v;
  }
  if (equal_nocase(text, "error")) {
    v.kind = ClassAdValue::Kind::kError;
    return v;
  }
  const char* b = text.data();
  const char* e = text.data() + text.size();
  // from_chars takes a leading '-' but not '+'; ClassAds print neither '+' nor hex.
  int64_t i = 0;
  auto ri = std::from_chars(b, e, i);
  if (ri.ec == std::errc() && ri.ptr == e) {
    v.kind = ClassAdValue::Kind::kInteger;
    v.integer = i;
    return v;
  }
  bool numeric_shape = (text[0] >= '0' && text[0] <= '9') || text[0] == '-' || text[0] == '.';
  if (numeric_shape) {
    double d = 0;
    auto rd = std::from_chars(b, e, d, std::chars_format::general);
    // An integer too large for int64 stays an expression: never a silently rounded count.
    if (rd.ec == std::errc() && rd.ptr == e && ri.ec != std::errc::result_out_of_range) {
      v.kind = ClassAdValue::Kind::kReal;
      v.real = d;
      return v;
    }
  }
  v.kind = ClassAdValue::Kind::kExpression;
  return v;
}

Result<ClassAd> ClassAd::parse(std::string_view text) {
  if (text.size() > kMaxAdFileBytes)
    return make_error(Errc::kTooLarge, "the ad is " + std::to_string(text.size()) +
                                           " bytes, more than the limit of " +
                                           std::to_string(kMaxAdFileBytes));
  ClassAd ad;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (line.size() > kMaxAdLineBytes)
      return make_error(Errc::kTooLarge, "line " + std::to_string(line_no) + " of the ad is " +
                                             std::to_string(line.size()) +
                                             " bytes, more than the limit of " +
                                             std::to_string(kMaxAdLineBytes));
    std::string_view t = trim(line);
    if (t.empty() || t.front() == '#') continue;
    size_t eq = t.find('=');
    std::string_view name = eq == std::string_view::npos ? t : trim(t.substr(0, eq));
    if (eq == std::string_view::npos || !is_attribute_name(name)) {
      ++ad.skipped_;
      continue;
    }
    ClassAdValue value = parse_classad_value(t.substr(eq + 1));
    std::string key = lower(name);
    if (auto it = ad.index_.find(key); it != ad.index_.end()) {
      ad.attrs_[it->second].value = std::move(value);
      continue;
    }
    if (ad.attrs_.size() >= kMaxAdAttributes)
      return make_error(Errc::kTooLarge,
                        "the ad has more than " + std::to_string(kMaxAdAttributes) + " attributes");
    ad.index_.emplace(std::move(key), ad.attrs_.size());
    ad.attrs_.push_back({std::string(name), std::move(value)});
  }
  return ad;
}

Result<ClassAd> ClassAd::read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) return sys_error("open the ClassAd file " + path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return sys_error("stat the ClassAd file " + path);
  if (!S_ISREG(st.st_mode))
    return make_error(Errc::kInvalidArgument,
                      "the ClassAd file " + path + " is not a regular file");
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = retry_eintr([&] { return ::read(fd.get(), buf, sizeof(buf)); });
    if (n < 0) return sys_error("read the ClassAd file " + path);
    if (n == 0) break;
    if (text.size() + static_cast<size_t>(n) > kMaxAdFileBytes)
      return make_error(Errc::kTooLarge, "the ClassAd file " + path + " is larger than " +
                                             std::to_string(kMaxAdFileBytes) + " bytes");
    text.append(buf, static_cast<size_t>(n));
  }
  auto ad = parse(text);
  if (!ad) return make_error(ad.error().code, path + ": " + ad.error().what);
  return ad;
}

const ClassAdValue* ClassAd::find(std::string_view name) const {
  auto it = index_.find(lower(name));
  return it == index_.end() ? nullptr : &attrs_[it->second].value;
}

std::optional<std::string> ClassAd::get_string(std::string_view name) const {
  const ClassAdValue* v = find(name);
  if (!v || v->kind != ClassAdValue::Kind::kString) return std::nullopt;
  return v->text;
}

std::optional<int64_t> ClassAd::get_integer(std::string_view name) const {
  const ClassAdValue* v = find(name);
  if (!v || v->kind != ClassAdValue::Kind::kInteger) return std::nullopt;
  return v->integer;
}

std::optional<double> ClassAd::get_number(std::string_view name) const {
  const ClassAdValue* v = find(name);
  if (!v) return std::nullopt;
  if (v->kind == ClassAdValue::Kind::kInteger) return static_cast<double>(v->integer);
  if (v->kind == ClassAdValue::Kind::kReal) return v->real;
  return std::nullopt;
}

std::optional<bool> ClassAd::get_bool(std::string_view name) const {
  const ClassAdValue* v = find(name);
  if (!v || v->kind != ClassAdValue::Kind::kBoolean) return std::nullopt;
  return v->boolean;
}

}  // namespace ringbox::host::condor
