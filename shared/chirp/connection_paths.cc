// Connection's calls that name a path (stat .. utime), whoami and the whole-file calls
// getfile/putfile; the connection itself, authentication and the descriptor calls are in
// connection.cc.
#include <algorithm>
#include <vector>

#include "shared/chirp/codec.h"
#include "shared/chirp/connection.h"  // IWYU pragma: associated

namespace ringbox::chirp {
namespace {

constexpr size_t kChunkBytes = 1 << 20;         // getfile/putfile streaming chunk
constexpr int64_t kMaxListingBytes = 64 << 20;  // an HTCondor getdir byte count we accept
constexpr size_t kMaxReadlinkBytes = 4096;

std::span<const std::byte> no_payload() {
  return {};
}

}  // namespace

Result<StatLine> Connection::stat(std::string_view path) {
  auto w = word(path);
  if (!w) return std::move(w.error());
  auto r = call("stat " + *w + "\n", no_payload(), "stat " + remote_path(path));
  if (!r) return std::move(r.error());
  auto line = read_line(kMaxResponseLineBytes);
  if (!line) return std::move(line.error());
  auto st = parse_stat_line(*line);
  if (!st) return transport_failure(std::move(st.error()), "stat");
  return *st;
}

Result<StatLine> Connection::lstat(std::string_view path) {
  auto w = word(path);
  if (!w) return std::move(w.error());
  auto r = call("lstat " + *w + "\n", no_payload(), "lstat " + remote_path(path));
  if (!r) return std::move(r.error());
  auto line = read_line(kMaxResponseLineBytes);
  if (!line) return std::move(line.error());
  auto st = parse_stat_line(*line);
  if (!st) return transport_failure(std::move(st.error()), "lstat");
  return *st;
}

Result<StatfsLine> Connection::statfs(std::string_view path) {
  auto w = word(path);
  if (!w) return std::move(w.error());
  auto r = call("statfs " + *w + "\n", no_payload(), "statfs " + remote_path(path));
  if (!r) return std::move(r.error());
  auto line = read_line(kMaxResponseLineBytes);
  if (!line) return std::move(line.error());
  auto st = parse_statfs_line(*line);
  if (!st) return transport_failure(std::move(st.error()), "statfs");
  return *st;
}

Result<std::vector<DirEntry>> Connection::getdir(std::string_view path, bool with_stat) {
  auto w = word(path);
  if (!w) return std::move(w.error());
  std::string verb = with_stat ? "getlongdir" : "getdir";
  std::string what = verb + " " + remote_path(path);
  auto r = call(verb + " " + *w + "\n", no_payload(), what);
  if (!r) return std::move(r.error());
  std::vector<DirEntry> out;
  // cctools answers 0 and then lines until an empty one; HTCondor answers the byte count of
  // the same list. Reading by the count where there is one keeps a listing without its final
  // empty line from hanging us; either way the list ends at the first empty line.
  std::string counted;
  size_t cpos = 0;
  bool by_count = *r > 0;
  if (by_count) {
    if (*r > kMaxListingBytes)
      return transport_failure(make_error(Errc::kProtocol, "directory listing too large"), what);
    counted.resize(static_cast<size_t>(*r));
    RINGBOX_TRY(read_exact(std::as_writable_bytes(std::span<char>(counted))));
  }
  auto next_line = [&]() -> Result<std::string> {
    if (!by_count) return read_line(kMaxResponseLineBytes);
    if (cpos >= counted.size()) return std::string();  // the count ended the list
    size_t nl = counted.find('\n', cpos);
    if (nl == std::string::npos) nl = counted.size();
    std::string l = counted.substr(cpos, nl - cpos);
    cpos = nl + 1;
    return l;
  };
  for (;;) {
    auto name = next_line();
    if (!name) return std::move(name.error());
    if (!name->empty() && name->back() == '\r') name->pop_back();
    if (name->empty()) break;
    if (out.size() == kMaxDirEntries)
      return transport_failure(make_error(Errc::kProtocol, "directory has too many entries"), what);
    DirEntry e;
    e.name = std::move(*name);
    if (with_stat) {
      auto line = next_line();
      if (!line) return std::move(line.error());
      auto st = parse_stat_line(*line);
      if (!st) return transport_failure(std::move(st.error()), what);
      e.st = *st;
    }
    out.push_back(std::move(e));
  }
  return out;
}

namespace {
std::string two(const std::string& verb, const std::string& a, const std::string& b) {
  return verb + " " + a + " " + b + "\n";
}
Result<void> as_void(Result<int64_t>&& r) {
  if (!r) return std::move(r.error());
  return ok();
}

}  // namespace

Result<void> Connection::mkdir(std::string_view path, int mode) {
  auto w = word(path);
  if (!w) return std::move(w.error());
  return as_void(
      call(two("mkdir", *w, std::to_string(mode)), no_payload(), "mkdir " + remote_path(path)));
}

Result<void> Connection::rmdir(std::string_view path) {
  auto w = word(path);
  if (!w) return std::move(w.error());
  return as_void(call("rmdir " + *w + "\n", no_payload(), "rmdir " + remote_path(path)));
}

Result<void> Connection::unlink(std::string_view path) {
  auto w = word(path);
  if (!w) return std::move(w.error());
  return as_void(call("unlink " + *w + "\n", no_payload(), "unlink " + remote_path(path)));
}

Result<void> Connection::rename(std::string_view from, std::string_view to) {
  auto a = word(from);
  if (!a) return std::move(a.error());
  auto b = word(to);
  if (!b) return std::move(b.error());
  return as_void(call(two("rename", *a, *b), no_payload(),
                      "rename " + remote_path(from) + " to " + remote_path(to)));
}

Result<void> Connection::link(std::string_view target, std::string_view path) {
  auto a = word(target);
  if (!a) return std::move(a.error());
  auto b = word(path);
  if (!b) return std::move(b.error());
  return as_void(call(two("link", *a, *b), no_payload(), "link " + remote_path(path)));
}

Result<void> Connection::symlink(std::string_view target, std::string_view path) {
  // The target is link text, not a path beneath the root: sent as given.
  std::string a = encode_word(target, ep_.escaping);
  auto b = word(path);
  if (!b) return std::move(b.error());
  return as_void(call(two("symlink", a, *b), no_payload(), "symlink " + remote_path(path)));
}

Result<std::string> Connection::readlink(std::string_view path) {
  auto w = word(path);
  if (!w) return std::move(w.error());
  auto n = call(two("readlink", *w, std::to_string(kMaxReadlinkBytes)), no_payload(),
                "readlink " + remote_path(path));
  if (!n) return std::move(n.error());
  if (static_cast<uint64_t>(*n) > kMaxReadlinkBytes)
    return transport_failure(make_error(Errc::kProtocol, "readlink reply too long"), "readlink");
  std::string out(static_cast<size_t>(*n), '\0');
  RINGBOX_TRY(read_exact(std::as_writable_bytes(std::span<char>(out))));
  return out;
}

Result<void> Connection::truncate(std::string_view path, int64_t length) {
  RINGBOX_TRY(check_number(length, "length"));
  auto w = word(path);
  if (!w) return std::move(w.error());
  return as_void(call(two("truncate", *w, std::to_string(length)), no_payload(),
                      "truncate " + remote_path(path)));
}

Result<void> Connection::chmod(std::string_view path, int mode) {
  auto w = word(path);
  if (!w) return std::move(w.error());
  return as_void(
      call(two("chmod", *w, std::to_string(mode)), no_payload(), "chmod " + remote_path(path)));
}

Result<void> Connection::utime(std::string_view path, int64_t atime, int64_t mtime) {
  RINGBOX_TRY(check_number(atime, "atime"));
  RINGBOX_TRY(check_number(mtime, "mtime"));
  auto w = word(path);
  if (!w) return std::move(w.error());
  return as_void(
      call("utime " + *w + " " + std::to_string(atime) + " " + std::to_string(mtime) + "\n",
           no_payload(), "utime " + remote_path(path)));
}

Result<std::string> Connection::whoami() {
  auto n = call("whoami 1024\n", no_payload(), "whoami");
  if (!n) return std::move(n.error());
  if (*n > 1024) return transport_failure(make_error(Errc::kProtocol, "whoami too long"), "whoami");
  std::string out(static_cast<size_t>(*n), '\0');
  RINGBOX_TRY(read_exact(std::as_writable_bytes(std::span<char>(out))));
  return out;
}

Result<uint64_t> Connection::getfile(std::string_view path, const FileSink& sink) {
  auto w = word(path);
  if (!w) return std::move(w.error());
  std::string what = "getfile " + remote_path(path);
  auto size = call("getfile " + *w + "\n", no_payload(), what);
  if (!size) return std::move(size.error());
  std::vector<std::byte> buf(std::min<uint64_t>(kChunkBytes, static_cast<uint64_t>(*size)));
  uint64_t done = 0;
  const auto total = static_cast<uint64_t>(*size);
  while (done < total) {
    size_t step = static_cast<size_t>(std::min<uint64_t>(buf.size(), total - done));
    RINGBOX_TRY(read_exact(std::span<std::byte>(buf.data(), step)));
    auto s = sink(std::span<const std::byte>(buf.data(), step), done);
    if (!s) {
      // The rest of the file is still on the wire: drop the connection rather than soak it.
      broken_ = true;
      s_.close();
      return std::move(s.error());
    }
    done += step;
  }
  return total;
}

Result<uint64_t> Connection::putfile(std::string_view path, int mode, uint64_t length,
                                     const FileSource& source) {
  if (length > static_cast<uint64_t>(max_number()) ||
      (ep_.kind == PeerKind::kCondorProxy && length > static_cast<uint64_t>(kCondorMaxCallBytes)))
    return Error{Errc::kTooLarge, EFBIG,
                 "putfile of " + std::to_string(length) + " bytes exceeds what one call may move"};
  auto w = word(path);
  if (!w) return std::move(w.error());
  std::string what = "putfile " + remote_path(path);
  auto go = call("putfile " + *w + " " + std::to_string(mode) + " " + std::to_string(length) + "\n",
                 no_payload(), what);
  if (!go) return std::move(go.error());
  std::vector<std::byte> buf(std::min<uint64_t>(kChunkBytes, length));
  uint64_t done = 0;
  while (done < length) {
    size_t step = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - done));
    auto n = source(std::span<std::byte>(buf.data(), step), done);
    if (!n || *n != step) {
      // The server waits for bytes we cannot supply: the connection cannot be reused.
      broken_ = true;
      s_.close();
      if (!n) return std::move(n.error());
      return make_error(Errc::kInvalidArgument, what + ": the source ended early");
    }
    auto wr = s_.write_all(std::string_view(reinterpret_cast<const char*>(buf.data()), step));
    if (!wr) return transport_failure(std::move(wr.error()), what);
    done += step;
  }
  // HTCondor's proxy sends no second reply after a zero-length putfile (io_proxy_handler.cpp).
  if (length == 0 && ep_.kind == PeerKind::kCondorProxy) return uint64_t{0};
  auto n = read_result(what);
  if (!n) return std::move(n.error());
  if (static_cast<uint64_t>(*n) != length)
    return Error{Errc::kRemote, EIO,
                 what + ": server stored " + std::to_string(*n) + " of " + std::to_string(length) +
                     " bytes"};
  return length;
}

}  // namespace ringbox::chirp
