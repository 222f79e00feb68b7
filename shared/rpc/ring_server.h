// RingServer: the host's request loop over one RingChannel.
//
// Takes each request slot as a private copy, checks it (reserved fields, buffer inside the data
// area, lengths), passes it through the connection's Session (kHello first, the opcode table:
// request_check.h), hands the Request to the Handler behind the exception firewall and
// publishes the Reply. A malformed or refused request gets an error reply; a broken ring
// contract (impossible index) ends serve() with Errc::kPeerBroken and a logged reason. The host
// never crashes on guest input, nor on an exception or allocation failure in a handler.
//
// Waiting: spin after the last request before sleeping (a window that starts at spin_us and
// adapts to how soon the next request comes, spin.h), so a busy guest never pays
// for a doorbell; before sleeping arm req_event and look once more (shared/ring/backend_ring.h).
// With workers > 0, requests the handler marks as quick (Handler::runs_inline) still run on the
// ring thread, and the rest on a thread pool; responses go out in completion order. A hand-off
// to a worker is a thread wake-up, which costs more than a quick request itself.
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
#include "shared/rpc/request_check.h"
#include "shared/rpc/server.h"
#include "shared/transport/channel.h"

namespace ringbox::rpc {

struct ServerOptions {
  int spin_us = 50;
  int workers = 0;
  uint64_t features = 0;  // proto::Feature bits granted to a guest that asks (kHello)
};

struct ServerStats {
  uint64_t requests = 0;
  uint64_t inline_runs = 0;  // requests answered on the ring thread (no worker hand-off)
  uint64_t malformed = 0;    // bad slot or buffer (kProto)
  uint64_t refused = 0;      // refused by the Session: before kHello, opcode table
  uint64_t kicks_sent = 0;
  uint64_t sleeps = 0;
};

class RingServer final : public Server {
 public:
  static Result<std::unique_ptr<RingServer>> create(std::unique_ptr<transport::RingChannel> ch,
                                                    Handler& handler, ServerOptions opts);
  ~RingServer() override;
  // The peer breaking the contract is an impossible ring index; a malformed request is only
  // answered with kProto.
  Result<void> serve() override;
  void stop() override { stopping_ = true; }
  ServerStats stats() const;

 private:
  RingServer(std::unique_ptr<transport::RingChannel> ch, ring::BackendRing ring, Handler& h,
             ServerOptions o);
  void dispatch(const proto::RequestSlot& untrusted_slot);
  void respond(uint64_t id, const Reply& reply);
  void worker_loop();

  std::unique_ptr<transport::RingChannel> channel_;
  ring::BackendRing ring_;
  Handler& handler_;
  ServerOptions opts_;
  std::mutex ring_mu_;  // BackendRing is single-threaded; workers share it through this
  std::atomic<bool> stopping_{false};
  Session session_;  // touched by the ring thread only (dispatch)
  std::atomic<uint64_t> requests_{0}, inline_{0}, malformed_{0}, refused_{0}, kicks_{0}, sleeps_{0};

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Request> queue_;  // admitted requests for the workers
  std::vector<std::thread> workers_;
};

}  // namespace ringbox::rpc
