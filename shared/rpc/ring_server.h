// RingServer: the host's request loop over one RingChannel.
//
// Takes each request slot as a private copy, checks it (reserved fields, buffer inside the data
// area, lengths), hands the Request to the Handler and publishes the Reply. A malformed request
// gets a kProto reply; a broken ring contract (impossible index) ends serve() with
// Errc::kPeerBroken and a logged reason. The host never crashes on guest input.
//
// Waiting: spin for spin_us after the last request before sleeping, so a busy guest never pays
// for a doorbell; before sleeping arm req_event and look once more (shared/ring/backend_ring.h).
// With workers > 0, requests run on a thread pool and responses go out in completion order.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "shared/ring/backend_ring.h"
#include "shared/rpc/handler.h"
#include "shared/transport/channel.h"

namespace ringbox::rpc {

struct ServerOptions {
  int spin_us = 50;
  int workers = 0;
};

struct ServerStats {
  uint64_t requests = 0;
  uint64_t malformed = 0;
  uint64_t kicks_sent = 0;
  uint64_t sleeps = 0;
};

class RingServer {
 public:
  static Result<std::unique_ptr<RingServer>> create(std::unique_ptr<transport::RingChannel> ch,
                                                    Handler& handler, ServerOptions opts);
  ~RingServer();
  // Serves until the peer goes away (returns ok), stop() is called (ok) or the peer breaks the
  // contract (error).
  Result<void> serve();
  // Thread-safe; serve() returns within ~100 ms.
  void stop() { stopping_ = true; }
  ServerStats stats() const;

 private:
  RingServer(std::unique_ptr<transport::RingChannel> ch, ring::BackendRing ring, Handler& h,
             ServerOptions o);
  void dispatch(const proto::RequestSlot& untrusted_slot);
  Reply run(const proto::RequestSlot& slot);
  void respond(uint64_t id, const Reply& reply);
  void worker_loop();

  std::unique_ptr<transport::RingChannel> channel_;
  ring::BackendRing ring_;
  Handler& handler_;
  ServerOptions opts_;
  std::mutex ring_mu_;  // BackendRing is single-threaded; workers share it through this
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> requests_{0}, malformed_{0}, kicks_{0}, sleeps_{0};

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<proto::RequestSlot> queue_;
  std::vector<std::thread> workers_;
};

}  // namespace ringbox::rpc
