#include "shared/chirp/codec.h"

#include <fcntl.h>

#include <cerrno>

namespace ringbox::chirp {
namespace {

Error protocol_error(std::string what) {
  return make_error(Errc::kProtocol, std::move(what));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

std::string_view chomp(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  return line;
}

// Splits on blanks; n numbers expected; each parsed in [min, max].
template <size_t N>
Result<void> parse_numbers(std::string_view line, int64_t (&out)[N], const char* what) {
  line = chomp(line);
  size_t i = 0;
  size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && is_blank(line[pos])) ++pos;
    if (pos == line.size()) break;
    size_t end = pos;
    while (end < line.size() && !is_blank(line[end])) ++end;
    if (i == N)
      return protocol_error(std::string(what) + " line has more than " + std::to_string(N) +
                            " fields");
    auto v = parse_int(line.substr(pos, end - pos), INT64_MIN, INT64_MAX);
    if (!v)
      return protocol_error(std::string(what) + " field " + std::to_string(i) + ": " +
                            v.error().what);
    out[i++] = *v;
    pos = end;
  }
  if (i != N)
    return protocol_error(std::string(what) + " line has " + std::to_string(i) +
                          " fields, expected " + std::to_string(N));
  return ok();
}

}  // namespace

Result<std::string> decode_word(std::string_view word) {
  std::string out;
  out.reserve(word.size());
  for (size_t i = 0; i < word.size(); ++i) {
    char c = word[i];
    if (c == '\\') {
      if (i + 1 == word.size()) return protocol_error("word ends in a lone backslash");
      c = word[++i];
    } else if (c == '%' && i + 2 < word.size() && hex_value(word[i + 1]) >= 0 &&
               hex_value(word[i + 2]) >= 0) {
      c = static_cast<char>(hex_value(word[i + 1]) * 16 + hex_value(word[i + 2]));
      i += 2;
    }
    if (c == '\0') return protocol_error("word holds a NUL byte");
    out.push_back(c);
    if (out.size() > kMaxPathBytes)
      return protocol_error("word longer than " + std::to_string(kMaxPathBytes) + " bytes");
  }
  return out;
}

std::string encode_word(std::string_view word, Escaping esc) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(word.size());
  for (char c : word) {
    auto u = static_cast<unsigned char>(c);
    if (esc == Escaping::kUrl) {
      bool safe = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
                  c == '/' || c == '.' || c == '_' || c == '-' || c == '~' || c == '+' ||
                  c == ',' || c == ':' || c == '=' || c == '@';
      if (safe) {
        out.push_back(c);
      } else {
        out.push_back('%');
        out.push_back(kHex[u >> 4]);
        out.push_back(kHex[u & 15]);
      }
    } else {
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\\' || c == '%')
        out.push_back('\\');
      out.push_back(c);
    }
  }
  return out;
}

Result<RequestLine> parse_request_line(std::string_view line) {
  if (line.size() >= kMaxRequestLineBytes)
    return protocol_error("request line longer than " + std::to_string(kMaxRequestLineBytes - 1) +
                          " bytes");
  // Strip the LF and a CR before it, unless that CR is backslash-escaped (part of a word).
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') {
    size_t slashes = 0;
    while (slashes + 1 < line.size() && line[line.size() - 2 - slashes] == '\\') ++slashes;
    if (slashes % 2 == 0) line.remove_suffix(1);
  }
  RequestLine req;
  std::vector<std::string_view> words;
  size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && is_blank(line[pos])) ++pos;
    if (pos == line.size()) break;
    size_t end = pos;
    while (end < line.size() && !is_blank(line[end])) {
      if (line[end] == '\\' && end + 1 < line.size()) ++end;  // escaped blank stays in the word
      ++end;
    }
    if (words.size() == kMaxWords)
      return protocol_error("request has more than " + std::to_string(kMaxWords) + " words");
    words.push_back(line.substr(pos, end - pos));
    pos = end;
  }
  if (words.empty()) return protocol_error("empty request line");
  for (char c : words[0]) {
    if (!((c >= 'a' && c <= 'z') || c == '_'))
      return protocol_error("command is not a lower-case word");
  }
  req.command = std::string(words[0]);
  for (size_t i = 1; i < words.size(); ++i) {
    auto w = decode_word(words[i]);
    if (!w) return protocol_error("argument " + std::to_string(i) + ": " + w.error().what);
    req.args.push_back(std::move(*w));
  }
  return req;
}

Result<int64_t> parse_int(std::string_view s, int64_t min, int64_t max) {
  if (s.empty()) return protocol_error("empty number");
  bool negative = false;
  size_t i = 0;
  if (s[0] == '-' || s[0] == '+') {
    negative = s[0] == '-';
    i = 1;
  }
  if (i == s.size()) return protocol_error("number has no digits");
  if (s.size() - i > 19) return protocol_error("number has more than 19 digits");
  // Accumulate as a negative value: its range includes INT64_MIN.
  int64_t v = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c < '0' || c > '9') return protocol_error("number holds a non-digit");
    int d = c - '0';
    if (v < (INT64_MIN + d) / 10) return protocol_error("number out of range");
    v = v * 10 - d;
  }
  if (!negative) {
    if (v == INT64_MIN) return protocol_error("number out of range");
    v = -v;
  }
  if (v < min || v > max)
    return protocol_error("number " + std::to_string(v) + " outside [" + std::to_string(min) +
                          ", " + std::to_string(max) + "]");
  return v;
}

Result<int64_t> parse_result_line(std::string_view line) {
  line = chomp(line);
  while (!line.empty() && is_blank(line.back())) line.remove_suffix(1);
  while (!line.empty() && is_blank(line.front())) line.remove_prefix(1);
  auto v = parse_int(line, INT64_MIN, INT64_MAX);
  if (!v) return protocol_error("response line is not a number: " + v.error().what);
  return *v;
}

std::string encode_result(int64_t value) {
  return std::to_string(value) + "\n";
}

Result<StatLine> parse_stat_line(std::string_view line) {
  int64_t f[kStatFields];
  RINGBOX_TRY(parse_numbers(line, f, "stat"));
  return StatLine{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12]};
}

std::string encode_stat_line(const StatLine& s) {
  std::string out;
  for (int64_t v : {s.dev, s.ino, s.mode, s.nlink, s.uid, s.gid, s.rdev, s.size, s.blksize,
                    s.blocks, s.atime, s.mtime, s.ctime}) {
    if (!out.empty()) out.push_back(' ');
    out += std::to_string(v);
  }
  out.push_back('\n');
  return out;
}

Result<StatfsLine> parse_statfs_line(std::string_view line) {
  int64_t f[kStatfsFields];
  RINGBOX_TRY(parse_numbers(line, f, "statfs"));
  return StatfsLine{f[0], f[1], f[2], f[3], f[4], f[5], f[6]};
}

std::string encode_statfs_line(const StatfsLine& s) {
  std::string out;
  for (int64_t v : {s.type, s.bsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree}) {
    if (!out.empty()) out.push_back(' ');
    out += std::to_string(v);
  }
  out.push_back('\n');
  return out;
}

Result<int> parse_open_flags(std::string_view letters) {
  bool r = false, w = false;
  int extra = 0;
  for (char c : letters) {
    switch (c) {
      case 'r':
        r = true;
        break;
      case 'w':
        w = true;
        break;
      case 'a':
        extra |= O_APPEND;
        break;
      case 't':
        extra |= O_TRUNC;
        break;
      case 'c':
        extra |= O_CREAT;
        break;
      case 'x':
        extra |= O_EXCL;
        break;
      case 's':
        extra |= O_SYNC;
        break;
      default:
        return protocol_error(std::string("unknown open flag '") + c + "'");
    }
  }
  int acc = r && w ? O_RDWR : w ? O_WRONLY : O_RDONLY;
  return acc | extra;
}

std::string encode_open_flags(int flags) {
  std::string out;
  int acc = flags & O_ACCMODE;
  if (acc == O_RDONLY || acc == O_RDWR) out.push_back('r');
  if (acc == O_WRONLY || acc == O_RDWR) out.push_back('w');
  if (flags & O_APPEND) out.push_back('a');
  if (flags & O_TRUNC) out.push_back('t');
  if (flags & O_CREAT) out.push_back('c');
  if (flags & O_EXCL) out.push_back('x');
  if ((flags & O_SYNC) == O_SYNC) out.push_back('s');
  return out;
}

Status status_from_errno(int err) {
  switch (err) {
    case EACCES:
    case EPERM:
    case EROFS:
      return Status::kNotAuthorized;
    case ENOENT:
      return Status::kDoesntExist;
    case EEXIST:
      return Status::kAlreadyExists;
    case EFBIG:
      return Status::kTooBig;
    case ENOSPC:
    case EDQUOT:
      return Status::kNoSpace;
    case ENOMEM:
      return Status::kNoMemory;
    case EINVAL:
    case ENOSYS:
    case E2BIG:
      return Status::kInvalidRequest;
    case EMFILE:
    case ENFILE:
      return Status::kTooManyOpen;
    case EBUSY:
    case ETXTBSY:
      return Status::kBusy;
    case EAGAIN:
    case EINTR:
      return Status::kTryAgain;
    case EBADF:
      return Status::kBadFd;
    case EISDIR:
      return Status::kIsDir;
    case ENOTDIR:
      return Status::kNotDir;
    case ENOTEMPTY:
      return Status::kNotEmpty;
    case EXDEV:
      return Status::kCrossDeviceLink;
    case ETIMEDOUT:
      return Status::kOffline;
    // Beyond -17 only cctools clients understand the code; HTCondor ones would see "unknown".
    // ringbox's own clients know them, and ELOOP/ENAMETOOLONG are common enough to keep exact.
    case ENAMETOOLONG:
      return Status::kNameTooLong;
    case ESPIPE:
      return Status::kIsAPipe;
    case ENOTSUP:
      return Status::kNotSupported;
    default:
      return Status::kUnknown;
  }
}

int errno_from_status(int64_t code) {
  switch (code) {
    case -1:
    case -2:
      return EACCES;
    case -3:
      return ENOENT;
    case -4:
      return EEXIST;
    case -5:
      return EFBIG;
    case -6:
      return ENOSPC;
    case -7:
      return ENOMEM;
    case -8:
      return EINVAL;
    case -9:
      return EMFILE;
    case -10:
      return EBUSY;
    case -11:
      return EAGAIN;
    case -12:
      return EBADF;
    case -13:
      return EISDIR;
    case -14:
      return ENOTDIR;
    case -15:
      return ENOTEMPTY;
    case -16:
      return EXDEV;
    case -17:
      return ETIMEDOUT;
    case -18:
    case -19:
    case -20:
      return ECONNRESET;
    case -21:
      return ESRCH;
    case -22:
      return ESPIPE;
    case -23:
      return ENOTSUP;
    case -24:
      return ENAMETOOLONG;
    default:
      return EIO;
  }
}

const char* status_name(int64_t code) {
  switch (code) {
    case -1:
      return "NOT_AUTHENTICATED";
    case -2:
      return "NOT_AUTHORIZED";
    case -3:
      return "DOESNT_EXIST";
    case -4:
      return "ALREADY_EXISTS";
    case -5:
      return "TOO_BIG";
    case -6:
      return "NO_SPACE";
    case -7:
      return "NO_MEMORY";
    case -8:
      return "INVALID_REQUEST";
    case -9:
      return "TOO_MANY_OPEN";
    case -10:
      return "BUSY";
    case -11:
      return "TRY_AGAIN";
    case -12:
      return "BAD_FD";
    case -13:
      return "IS_DIR";
    case -14:
      return "NOT_DIR";
    case -15:
      return "NOT_EMPTY";
    case -16:
      return "CROSS_DEVICE_LINK";
    case -17:
      return "OFFLINE";
    case -18:
      return "TIMED_OUT";
    case -19:
      return "DISCONNECTED";
    case -20:
      return "GRP_UNREACHABLE";
    case -21:
      return "NO_SUCH_JOB";
    case -22:
      return "IS_A_PIPE";
    case -23:
      return "NOT_SUPPORTED";
    case -24:
      return "NAME_TOO_LONG";
    default:
      return "UNKNOWN";
  }
}

}  // namespace ringbox::chirp
