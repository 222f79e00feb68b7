// Test fixtures: a ring region in private memory (both ends in one process, no transport) and
// a connected local-transport pair over a socketpair.
#pragma once

#include <sys/socket.h>

#include <cstdlib>
#include <memory>
#include <span>
#include <utility>

#include "shared/ring/backend_ring.h"
#include "shared/ring/frontend_ring.h"
#include "shared/transport/local/local_channel.h"

namespace ringbox::test {

// Page-aligned, zeroed memory standing in for the shared region.
class PrivateRegion {
 public:
  explicit PrivateRegion(const ring::Geometry& g)
      : size_(g.region_bytes()),
        mem_(static_cast<std::byte*>(std::aligned_alloc(proto::kPageSize, size_)), &std::free) {
    std::fill(mem_.get(), mem_.get() + size_, std::byte{0});
  }
  std::span<std::byte> bytes() { return {mem_.get(), size_}; }
  proto::ControlPage& control() { return *reinterpret_cast<proto::ControlPage*>(mem_.get()); }

 private:
  size_t size_;
  std::unique_ptr<std::byte, decltype(&std::free)> mem_;
};

struct ChannelPair {
  std::unique_ptr<transport::RingChannel> frontend;
  std::unique_ptr<transport::RingChannel> backend;
};

// Both ends of a local channel, connected through a socketpair (handshake run on a thread).
ChannelPair make_local_pair(const ring::Geometry& g);

}  // namespace ringbox::test
