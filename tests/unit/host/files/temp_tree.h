// Test fixtures for the file service (also used by tests/hostile/): a throw-away directory tree
// with an export and a sentinel directory beside it, a snapshot to prove the sentinel did not
// change, and a driver that calls a FileService the way the ring server does (request and reply
// payload in one buffer).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "host/files/file_service.h"
#include "shared/protocol/ringbox_proto.h"
#include "shared/rpc/handler.h"

namespace ringbox::test {

// <tmp>/ringbox-files-XXXXXX/{export,sentinel}. The export holds in/a.txt, in/sub/b.txt,
// out/, secret/s.txt; the sentinel holds a few files an escaping request might hit.
class TempTree {
 public:
  TempTree();
  ~TempTree();
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  std::string base;          // the temporary directory
  std::string export_dir;    // base/export
  std::string sentinel_dir;  // base/sentinel: must never change

  std::string ex(std::string_view rel) const { return export_dir + "/" + std::string(rel); }
  static void write_file(const std::string& path, std::string_view content);
  static std::string read_file(const std::string& path);
  static bool exists(const std::string& path);  // lstat succeeds
  // One line per entry beneath dir (sorted): path, type, mode, size, mtime, content checksum or
  // link target. Equal snapshots mean nothing beneath dir changed.
  static std::string snapshot(const std::string& dir);
  // Names in dir (no "." / ".."), sorted.
  static std::vector<std::string> list(const std::string& dir);
};

// Calls a handler with one buffer for request and reply payload, as the ring does.
class Driver {
 public:
  explicit Driver(rpc::Handler& h, size_t buffer_bytes = 64 * 1024)
      : handler_(h), buf_(buffer_bytes) {}
  rpc::Reply call(proto::Opcode op, std::string_view payload, std::array<uint64_t, 4> arg = {},
                  uint16_t flags = 0);
  // The reply payload of the last call.
  std::span<const std::byte> out() const { return {buf_.data(), last_.out_len}; }
  std::string out_string() const {
    return std::string(reinterpret_cast<const char*>(buf_.data()), last_.out_len);
  }
  void resize(size_t bytes) { buf_.assign(bytes, std::byte{0}); }

  // Conveniences over call(); they CHECK nothing themselves.
  rpc::Reply open(std::string_view path, uint64_t flags, uint64_t mode = 0644) {
    return call(proto::Opcode::kOpen, path, {flags, mode, 0, 0});
  }
  rpc::Reply pread(uint64_t handle, uint64_t offset, uint64_t len) {
    return call(proto::Opcode::kPread, {}, {handle, offset, len, 0});
  }
  rpc::Reply pwrite(uint64_t handle, uint64_t offset, std::string_view data) {
    return call(proto::Opcode::kPwrite, data, {handle, offset, 0, 0});
  }
  rpc::Reply close(uint64_t handle) { return call(proto::Opcode::kClose, {}, {handle, 0, 0, 0}); }
  rpc::Reply putfile(std::string_view path, uint64_t offset, std::string_view data, bool final,
                     uint64_t mode = 0) {
    std::string payload = std::string(path) + std::string(data);
    return call(proto::Opcode::kPutfile, payload, {path.size(), offset, mode, 0},
                final ? proto::kPutfileFinal : 0);
  }
  rpc::Reply getfile(std::string_view path, uint64_t offset) {
    return call(proto::Opcode::kGetfile, path, {offset, 0, 0, 0});
  }
  rpc::Reply two_paths(proto::Opcode op, std::string_view first, std::string_view second) {
    return call(op, std::string(first) + std::string(second), {first.size(), 0, 0, 0});
  }
  // Reads a whole file through kGetfile chunks.
  std::string getfile_all(std::string_view path);

 private:
  rpc::Handler& handler_;
  std::vector<std::byte> buf_;
  rpc::Reply last_;
};

// The status a call returns for a wire error, for readable CHECKs.
inline int32_t status_of(proto::WireError e) {
  return -static_cast<int32_t>(e);
}

}  // namespace ringbox::test
