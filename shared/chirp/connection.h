// Connection: one authenticated Chirp connection and one call at a time on it (Chirp has no
// request tags). The calls are the protocol's own, one RPC each, with the peer's limits
// checked before anything is sent; the retrying, pooled API over it is ChirpClient (client.h).
//
// Errors: a negative response is Errc::kRemote with sys_errno = errno_from_status(code) and the
// call named ("chirp stat /a/b: DOESNT_EXIST"); the connection stays usable. Anything that
// breaks the stream (peer gone, timeout, malformed or oversized response) is kPeerGone,
// kTimeout or kPeerBroken and marks the connection broken(): drop it.
// Paths are relative to the endpoint's root (Endpoint::dir); remote_path() builds the wire path.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "shared/chirp/endpoint.h"
#include "shared/chirp/stream.h"

namespace ringbox::chirp {

struct OpenReply {
  int64_t fd = -1;
  StatLine st;  // the stat line every open success carries
};

struct DirEntry {
  std::string name;
  StatLine st;  // getlongdir only
};

// Receives getfile bytes in order: (bytes, offset of bytes[0] in the file).
using FileSink = std::function<Result<void>(std::span<const std::byte>, uint64_t)>;
// Supplies putfile bytes: fills out from the file's offset; returns how many (== out.size()
// unless the source ended early, which fails the put).
using FileSource = std::function<Result<size_t>(std::span<std::byte>, uint64_t)>;

class Connection {
 public:
  // Connects and authenticates (cookie if ep.cookie is set, else the negotiated methods in
  // order). The error names the endpoint and the method that was refused.
  static Result<Connection> open(const Endpoint& ep, const Timeouts& t, int connect_ms);

  // Wraps a stream that is already past authentication (tests, fuzzers).
  static Connection adopt(Endpoint ep, Stream s) { return Connection(std::move(ep), std::move(s)); }

  const Endpoint& endpoint() const { return ep_; }
  bool broken() const { return broken_; }
  const std::string& subject() const { return subject_; }  // "address:127.0.0.1", "cookie"

  // The wire path for a path relative to the endpoint root.
  std::string remote_path(std::string_view path) const;
  // Largest byte count one pread/pwrite/getfile/putfile may move on this peer.
  int64_t max_call_bytes() const;
  // Largest number (offset, length) the peer parses.
  int64_t max_number() const;

  Result<OpenReply> open_file(std::string_view path, int flags, int mode);
  Result<void> close_file(int64_t fd);
  Result<size_t> pread(int64_t fd, std::span<std::byte> out, int64_t offset);
  Result<size_t> pwrite(int64_t fd, std::span<const std::byte> in, int64_t offset);
  Result<StatLine> fstat(int64_t fd);
  Result<void> fsync(int64_t fd);
  Result<void> ftruncate(int64_t fd, int64_t length);

  Result<StatLine> stat(std::string_view path);
  Result<StatLine> lstat(std::string_view path);
  Result<StatfsLine> statfs(std::string_view path);
  Result<std::vector<DirEntry>> getdir(std::string_view path, bool with_stat);
  Result<void> mkdir(std::string_view path, int mode);
  Result<void> rmdir(std::string_view path);
  Result<void> unlink(std::string_view path);
  Result<void> rename(std::string_view from, std::string_view to);
  Result<void> link(std::string_view target, std::string_view path);
  Result<void> symlink(std::string_view target, std::string_view path);  // target verbatim
  Result<std::string> readlink(std::string_view path);
  Result<void> truncate(std::string_view path, int64_t length);
  Result<void> chmod(std::string_view path, int mode);
  Result<void> utime(std::string_view path, int64_t atime, int64_t mtime);
  Result<std::string> whoami();

  // getfile: streams the file to sink in chunks; returns its size. On the HTCondor proxy an
  // empty file answers -5 (TOO_BIG): that is reported as such; ChirpClient handles it.
  Result<uint64_t> getfile(std::string_view path, const FileSink& sink);
  // putfile: creates/truncates path with mode and streams length bytes from source. On the
  // HTCondor proxy (PeerKind::kCondorProxy) length must be <= 256 MiB and a zero length gets
  // one reply only, so this reads one; a ringbox-submitd or cctools server behind a
  // .chirp.config sends two. ChirpClient::put_file therefore never sends a zero-length putfile.
  Result<uint64_t> putfile(std::string_view path, int mode, uint64_t length,
                           const FileSource& source);

  // Sends a raw line and reads the result (tests, the benchmark's echo of a verb).
  Result<int64_t> raw_call(std::string_view line);

 private:
  Connection(Endpoint ep, Stream s) : ep_(std::move(ep)), s_(std::move(s)) {}
  Result<void> authenticate();
  Result<void> negotiate(const std::string& method, bool& refused);
  // Writes one request (line + optional payload) and reads the result line. A negative result
  // becomes a kRemote error naming what; a broken stream marks the connection broken.
  Result<int64_t> call(const std::string& line, std::span<const std::byte> payload,
                       std::string_view what);
  Result<int64_t> read_result(std::string_view what);
  Result<std::string> read_line(size_t max);
  Result<void> read_exact(std::span<std::byte> out);
  Error transport_failure(Error e, std::string_view what);
  Result<std::string> word(std::string_view path) const;  // escaped remote path, bounded
  Result<void> check_number(int64_t v, std::string_view what) const;

  Endpoint ep_;
  Stream s_;
  bool broken_ = false;
  std::string subject_;
};

}  // namespace ringbox::chirp
