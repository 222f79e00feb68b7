// Connection: opening, authentication, the call machinery and the descriptor calls; the path
// calls and getfile/putfile are in connection_paths.cc.
#include "shared/chirp/connection.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "shared/chirp/codec.h"

namespace ringbox::chirp {
namespace {

constexpr size_t kAuthLineBytes = 1024;  // cctools AUTH_LINE_MAX

std::span<const std::byte> no_payload() {
  return {};
}

}  // namespace

Result<Connection> Connection::open(const Endpoint& ep, const Timeouts& t, int connect_ms) {
  auto fd = tcp_connect_timeout(ep.host, ep.port, connect_ms);
  if (!fd) {
    fd.error().what += " (" + ep.describe() + ")";
    return std::move(fd.error());
  }
  Connection c(ep, Stream(std::move(*fd), t));
  auto a = c.authenticate();
  if (!a) return std::move(a.error());
  return c;
}

Error Connection::transport_failure(Error e, std::string_view what) {
  broken_ = true;
  s_.close();
  if (e.code == Errc::kTooLarge || e.code == Errc::kProtocol) e.code = Errc::kPeerBroken;
  e.what = std::string(what) + " on " + ep_.describe() + ": " + e.what;
  return e;
}

Result<std::string> Connection::read_line(size_t max) {
  auto l = s_.read_line(max);
  if (!l) return transport_failure(std::move(l.error()), "read reply");
  return l;
}

Result<void> Connection::read_exact(std::span<std::byte> out) {
  auto r = s_.read_exact(out);
  if (!r) return transport_failure(std::move(r.error()), "read reply payload");
  return ok();
}

Result<void> Connection::negotiate(const std::string& method, bool& refused) {
  refused = false;
  auto send = [&](std::string_view s) -> Result<void> {
    auto w = s_.write_all(s);
    if (!w) return transport_failure(std::move(w.error()), "authenticate");
    return ok();
  };
  RINGBOX_TRY(send(method + "\n"));
  auto answer = read_line(kAuthLineBytes);
  if (!answer) return std::move(answer.error());
  if (*answer != "yes") {
    refused = true;
    return ok();
  }
  std::string challenge_file;
  if (method == "address" || method == "hostname") {
    auto l = read_line(kAuthLineBytes);
    if (!l) return std::move(l.error());
    if (*l != "yes") {
      refused = true;
      return ok();
    }
  } else if (method == "unix") {
    // The server names a file for us to create; its owner proves who we are (auth_unix.c).
    auto path = read_line(kAuthLineBytes);
    if (!path) return std::move(path.error());
    if (path->empty() || (*path)[0] != '/' || path->find("..") != std::string::npos)
      return transport_failure(make_error(Errc::kProtocol, "bad unix challenge path"),
                               "authenticate");
    UniqueFd f(::open(path->c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!f) {
      RINGBOX_TRY(send("no\n"));
      refused = true;
      return ok();
    }
    challenge_file = *path;
    f.reset();
    auto w = send("yes\n");
    auto l = w ? read_line(kAuthLineBytes) : Result<std::string>(std::move(w.error()));
    ::unlink(challenge_file.c_str());
    if (!l) return std::move(l.error());
    if (*l != "yes") {
      refused = true;
      return ok();
    }
  } else {
    return make_error(Errc::kInvalidArgument,
                      "Chirp auth method '" + method + "' is not supported (use address or unix)");
  }
  auto yes = read_line(kAuthLineBytes);
  if (!yes) return std::move(yes.error());
  if (*yes != "yes") {
    refused = true;
    return ok();
  }
  auto type = read_line(kAuthLineBytes);
  if (!type) return std::move(type.error());
  auto subject = read_line(kAuthLineBytes);
  if (!subject) return std::move(subject.error());
  subject_ = *type + ":" + *subject;
  return ok();
}

Result<void> Connection::authenticate() {
  if (!ep_.cookie.empty()) {
    auto r = call("cookie " + ep_.cookie + "\n", no_payload(), "cookie");
    if (!r) {
      r.error().what +=
          " (is the cookie from the right .chirp.config, and is the job still "
          "running?)";
      return std::move(r.error());
    }
    subject_ = "cookie";
    return ok();
  }
  std::string tried;
  for (const auto& m : ep_.methods) {
    bool refused = false;
    RINGBOX_TRY(negotiate(m, refused));
    if (!refused) return ok();
    tried += (tried.empty() ? "" : ", ") + m;
  }
  return make_error(Errc::kRemote, ep_.describe() + " refused every auth method tried (" + tried +
                                       "); check the server's --auth and allow lists");
}

std::string Connection::remote_path(std::string_view path) const {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path == ".") path = {};
  std::string out;
  if (!ep_.dir.empty()) {
    out = ep_.dir;
    if (!path.empty()) out += "/" + std::string(path);
    return out;
  }
  // cctools roots every path at its export; the HTCondor shadow resolves relative paths
  // against the job's Iwd (an absolute path would name a file anywhere on the submit machine).
  if (ep_.kind == PeerKind::kCondorProxy) return path.empty() ? "." : std::string(path);
  return "/" + std::string(path);
}

int64_t Connection::max_call_bytes() const {
  return ep_.kind == PeerKind::kCondorProxy ? kCondorMaxCallBytes : kCctoolsMaxPreadBytes;
}

int64_t Connection::max_number() const {
  return ep_.kind == PeerKind::kCondorProxy ? kCondorMaxInt : INT64_MAX;
}

Result<std::string> Connection::word(std::string_view path) const {
  if (ep_.escaping == Escaping::kBackslash && path.find('\n') != std::string_view::npos)
    return Error{Errc::kInvalidArgument, EINVAL,
                 "path with a newline cannot be sent to an HTCondor Chirp proxy"};
  std::string w = encode_word(remote_path(path), ep_.escaping);
  if (w.size() > kMaxClientLineBytes - 64)
    return make_error(Errc::kTooLarge,
                      "path '" + std::string(path) + "' is too long for a Chirp request line");
  return w;
}

Result<void> Connection::check_number(int64_t v, std::string_view what) const {
  if (v < 0 || v > max_number())
    return Error{Errc::kTooLarge, EFBIG,
                 std::string(what) + " " + std::to_string(v) + " does not fit the " +
                     (ep_.kind == PeerKind::kCondorProxy ? "HTCondor proxy's 32-bit numbers"
                                                         : "Chirp range")};
  return ok();
}

Result<int64_t> Connection::read_result(std::string_view what) {
  auto line = read_line(kMaxResponseLineBytes);
  if (!line) return std::move(line.error());
  auto v = parse_result_line(*line);
  if (!v)
    return transport_failure(std::move(v.error()),
                             std::string("parse reply to ") + std::string(what));
  if (*v < 0)
    return Error{Errc::kRemote, errno_from_status(*v),
                 "chirp " + std::string(what) + " on " + ep_.describe() + ": " + status_name(*v) +
                     " (" + std::to_string(*v) + ")"};
  return *v;
}

Result<int64_t> Connection::call(const std::string& line, std::span<const std::byte> payload,
                                 std::string_view what) {
  if (broken_)
    return make_error(Errc::kPeerGone, "Chirp connection to " + ep_.describe() + " is broken");
  if (line.size() > kMaxClientLineBytes)
    return make_error(Errc::kTooLarge, "Chirp request for " + std::string(what) + " too long");
  iovec parts[2] = {{const_cast<char*>(line.data()), line.size()},
                    {const_cast<std::byte*>(payload.data()), payload.size()}};
  auto w = s_.write_all(std::span<const iovec>(parts, payload.empty() ? 1 : 2));
  if (!w) return transport_failure(std::move(w.error()), "send " + std::string(what));
  return read_result(what);
}

Result<int64_t> Connection::raw_call(std::string_view line) {
  return call(std::string(line), no_payload(), line.substr(0, line.find(' ')));
}

Result<OpenReply> Connection::open_file(std::string_view path, int flags, int mode) {
  auto w = word(path);
  if (!w) return std::move(w.error());
  std::string what = "open " + remote_path(path);
  auto fd = call("open " + *w + " " + encode_open_flags(flags) + " " + std::to_string(mode) + "\n",
                 no_payload(), what);
  if (!fd) return std::move(fd.error());
  // Both servers follow a successful open with the file's stat line; not reading it would
  // desynchronise the stream.
  auto line = read_line(kMaxResponseLineBytes);
  if (!line) return std::move(line.error());
  auto st = parse_stat_line(*line);
  if (!st) return transport_failure(std::move(st.error()), what);
  return OpenReply{*fd, *st};
}

Result<void> Connection::close_file(int64_t fd) {
  auto r = call("close " + std::to_string(fd) + "\n", no_payload(), "close");
  if (!r) return std::move(r.error());
  return ok();
}

Result<size_t> Connection::pread(int64_t fd, std::span<std::byte> out, int64_t offset) {
  size_t len = std::min<size_t>(out.size(), static_cast<size_t>(max_call_bytes()));
  if (len == 0) return size_t{0};  // the HTCondor proxy refuses a zero-length read
  RINGBOX_TRY(check_number(offset, "offset"));
  auto n = call("pread " + std::to_string(fd) + " " + std::to_string(len) + " " +
                    std::to_string(offset) + "\n",
                no_payload(), "pread");
  if (!n) return std::move(n.error());
  if (static_cast<uint64_t>(*n) > len)
    return transport_failure(make_error(Errc::kProtocol, "pread answered " + std::to_string(*n) +
                                                             " bytes for " + std::to_string(len)),
                             "pread");
  RINGBOX_TRY(read_exact(out.subspan(0, static_cast<size_t>(*n))));
  return static_cast<size_t>(*n);
}

Result<size_t> Connection::pwrite(int64_t fd, std::span<const std::byte> in, int64_t offset) {
  size_t len = std::min<size_t>(in.size(), static_cast<size_t>(max_call_bytes()));
  if (len == 0) return size_t{0};
  RINGBOX_TRY(check_number(offset, "offset"));
  auto n = call("pwrite " + std::to_string(fd) + " " + std::to_string(len) + " " +
                    std::to_string(offset) + "\n",
                in.subspan(0, len), "pwrite");
  if (!n) return std::move(n.error());
  if (static_cast<uint64_t>(*n) > len)
    return transport_failure(make_error(Errc::kProtocol, "pwrite claims more bytes than sent"),
                             "pwrite");
  return static_cast<size_t>(*n);
}

Result<StatLine> Connection::fstat(int64_t fd) {
  auto r = call("fstat " + std::to_string(fd) + "\n", no_payload(), "fstat");
  if (!r) return std::move(r.error());
  auto line = read_line(kMaxResponseLineBytes);
  if (!line) return std::move(line.error());
  auto st = parse_stat_line(*line);
  if (!st) return transport_failure(std::move(st.error()), "fstat");
  return *st;
}

Result<void> Connection::fsync(int64_t fd) {
  auto r = call("fsync " + std::to_string(fd) + "\n", no_payload(), "fsync");
  if (!r) return std::move(r.error());
  return ok();
}

Result<void> Connection::ftruncate(int64_t fd, int64_t length) {
  RINGBOX_TRY(check_number(length, "length"));
  auto r = call("ftruncate " + std::to_string(fd) + " " + std::to_string(length) + "\n",
                no_payload(), "ftruncate");
  if (!r) return std::move(r.error());
  return ok();
}

}  // namespace ringbox::chirp
