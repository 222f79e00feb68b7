// ChirpClient: the Chirp client the rest of ringbox uses. A small pool of Connections (Chirp
// allows one outstanding call per connection, so N connections = N calls in flight), files
// named by client-side handles that survive reconnects, and retries that never lose a write
// nor apply one twice.
//
// Reconnect: a call that breaks its connection (peer gone, timeout, broken reply) drops that
// connection and is retried on another, reconnecting with exponential back-off (50 ms .. 2 s)
// until Options::peer_gone_ms has passed since the first failure; then the call fails with
// EIO (Errc::kPeerGone), never a hang. A handle's remote fd is per connection: each connection
// opens the file on first use, so a new connection re-opens it (without c/t/x: re-opening must
// not truncate or fail on the file the first open created).
//
// Exactly-once rules (docs/submit-side.md):
// - pread, stat, getdir, readlink, statfs, fstat, fsync, truncate, chmod, utime: repeatable.
// - pwrite: the same bytes at the same offset; repeating it leaves the same file. Files opened
//   with O_APPEND are refused (an appending write repeated would be applied twice).
// - mkdir/link/symlink answered EEXIST, unlink/rmdir answered ENOENT, on a retry: the first
//   attempt did it; success. rename answered ENOENT on a retry: success if the target exists.
// - put_file: putfile to a fresh temporary name in the same directory (repeatable: putfile
//   truncates), then rename over the target. The target is never seen half-written.
// Thread-safe: any number of threads may call; each call holds one connection.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "shared/chirp/connection.h"

namespace ringbox::chirp {

struct ClientOptions {
  int connections = 4;        // pool size: calls in flight at once
  int connect_ms = 5'000;     // one connect attempt
  int peer_gone_ms = 30'000;  // how long a call keeps reconnecting before EIO
  Timeouts timeouts{};
};

using FileHandle = uint64_t;  // client-side; never a server fd

class ChirpClient {
 public:
  ChirpClient(Endpoint ep, ClientOptions opt);
  ~ChirpClient();
  ChirpClient(const ChirpClient&) = delete;
  ChirpClient& operator=(const ChirpClient&) = delete;

  const Endpoint& endpoint() const { return ep_; }
  // Connects once now, so a wrong address or cookie is reported at start-up.
  Result<void> check();

  // open(2) flags and mode; returns a handle and the file's stat at open.
  Result<std::pair<FileHandle, StatLine>> open(const std::string& path, int flags, int mode);
  Result<void> close(FileHandle h);
  // Reads up to out.size() bytes at offset, looping over the peer's per-call limit; fewer only
  // at end of file.
  Result<size_t> pread(FileHandle h, std::span<std::byte> out, uint64_t offset);
  // Writes all of in at offset (loops over the per-call limit and short writes).
  Result<size_t> pwrite(FileHandle h, std::span<const std::byte> in, uint64_t offset);
  Result<StatLine> fstat(FileHandle h);
  Result<void> fsync(FileHandle h);
  Result<void> ftruncate(FileHandle h, uint64_t length);

  Result<StatLine> stat(const std::string& path);
  Result<StatLine> lstat(const std::string& path);
  Result<StatfsLine> statfs(const std::string& path);
  Result<std::vector<DirEntry>> getdir(const std::string& path, bool with_stat);
  Result<void> mkdir(const std::string& path, int mode);
  Result<void> rmdir(const std::string& path);
  Result<void> unlink(const std::string& path);
  Result<void> rename(const std::string& from, const std::string& to);
  Result<void> link(const std::string& target, const std::string& path);
  Result<void> symlink(const std::string& target, const std::string& path);
  Result<std::string> readlink(const std::string& path);
  Result<void> truncate(const std::string& path, uint64_t length);
  Result<void> chmod(const std::string& path, int mode);
  Result<void> utime(const std::string& path, int64_t atime, int64_t mtime);

  // The whole file to sink (offsets let a retried transfer rewrite from 0). Uses getfile, or
  // open+pread where getfile cannot (HTCondor: empty files, > 256 MiB). Returns the size.
  Result<uint64_t> get_file(const std::string& path, const FileSink& sink);
  // Stores length bytes from source atomically at path (temporary name, then rename). Uses
  // putfile, or open+pwrite where one putfile cannot carry it (> the peer's per-call limit).
  Result<void> put_file(const std::string& path, int mode, uint64_t length,
                        const FileSource& source);

  // Counters for tests and the benchmark.
  uint64_t reconnects() const;
  uint64_t retries() const;

 private:
  struct Pooled {
    std::unique_ptr<Connection> conn;
    std::unordered_map<FileHandle, int64_t> fds;  // this connection's remote fd per handle
  };
  struct OpenFile {
    std::string path;
    int reopen_flags = 0;  // flags without O_CREAT|O_EXCL|O_TRUNC
    int mode = 0;
  };
  class Lease;

  // Runs fn(pooled, retried) on a connection, retrying on broken connections (see the top).
  template <class T, class F>
  Result<T> run(std::string_view what, F&& fn);
  Result<std::unique_ptr<Pooled>> acquire(std::chrono::steady_clock::time_point deadline,
                                          std::string_view what);
  void release(std::unique_ptr<Pooled> p);
  void drop();  // a connection broke: frees its slot
  // This connection's fd for h, opening the file on it if needed.
  Result<int64_t> fd_on(Pooled& p, FileHandle h);
  Result<void> sweep_closed(Pooled& p);

  Endpoint ep_;
  ClientOptions opt_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Pooled>> idle_;
  int live_ = 0;  // connections open or being opened
  std::unordered_map<FileHandle, OpenFile> files_;
  FileHandle next_handle_ = 1;
  uint64_t reconnects_ = 0;
  uint64_t retries_ = 0;
  uint64_t connects_ = 0;
};

}  // namespace ringbox::chirp
