// What a server hands to its request handler, and what the handler gives back.
//
// A Request is already the private, checked copy of the slot: its buffer lies inside the data
// area, reserved fields were zero. The payload is still peer-writable memory, so it is wrapped
// in SharedBytes: a handler copies anything it interprets (paths, names, records) with copy_*()
// and validates the copy; opaque() exists for bytes the host never interprets (file data moving
// straight to pwrite(2)). The out buffer is peer-readable: write into it, never read it back.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "shared/ring/shared_memory.h"
#include "shared/rpc/call.h"

namespace ringbox::rpc {

class SharedBytes {
 public:
  SharedBytes() = default;
  explicit SharedBytes(std::span<const std::byte> bytes) : bytes_(bytes) {}
  size_t size() const { return bytes_.size(); }
  // Private copy of [off, off + len); the range must lie inside (callers check size() first).
  std::string copy_string(size_t off, size_t len) const {
    std::string s(len, '\0');
    ring::copy_from_shared(s.data(), bytes_.data() + off, len);
    return s;
  }
  void copy_to(std::span<std::byte> dst, size_t off) const {
    ring::copy_from_shared(dst.data(), bytes_.data() + off, dst.size());
  }
  std::span<const std::byte> opaque() const { return bytes_; }

 private:
  std::span<const std::byte> bytes_;
};

struct Request {
  uint64_t id = 0;
  uint16_t opcode = 0;  // raw: an unknown value must reach the handler's "default:" branch
  uint16_t flags = 0;
  std::array<uint64_t, 4> arg{};
  SharedBytes in;
  std::span<std::byte> out;
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Should not throw (a server answers an exception with kNoMem / kIo and goes on); must set
  // out_len <= req.out.size() (else kIo). Called from one thread unless the
  // server runs workers, then concurrently.
  virtual Reply handle(const Request& req) = 0;
  // May a server with workers run this opcode on its ring thread? Only for requests that end
  // in bounded time without waiting on anything the guest controls: while one runs, no other
  // request of that ring is taken. The default keeps everything on the workers.
  virtual bool runs_inline(uint16_t /*opcode*/) const { return false; }
  // The guest's connection is over: called by the server's destructor once every handler call
  // has returned (RingServer: the ring; StreamServer: all of the guest's TCP connections). Drop
  // what the connection held (open handles, unfinished uploads). The default holds nothing.
  virtual void connection_ended() {}
};

// Answers the session opcodes every server shares (kPing, kHeartbeat, kBulkRead, kBulkWrite)
// and refuses everything else with kNoSys. Handlers delegate to it for opcodes they do not own.
// kHello never reaches a handler: the connection's Session answers it (request_check.h), and
// admits kBulk* only on a connection granted proto::kFeatureBulk.
Reply handle_session_opcode(const Request& req);

// FNV-1a 64: the checksum of the bulk benchmark opcodes.
uint64_t fnv1a64(std::span<const std::byte> bytes, uint64_t h = 0xcbf29ce484222325ull);
// The bulk benchmark's deterministic pattern.
void fill_pattern(std::span<std::byte> out, uint64_t seed);

}  // namespace ringbox::rpc
