// RingClient: the guest's RPC client over one RingChannel. Thread-safe; many calls in flight.
//
// Each call takes a data-area buffer (blocking while the area is full) and a waiter (blocking
// while all ring slots are in flight: back-pressure, never an error), publishes its request and
// waits. Completion is leader/follower: one waiting thread at a time polls the response ring
// (spinning for a window that starts at spin_us and adapts, spin.h, before it arms rsp_event
// and sleeps on the doorbell) and hands each
// response to its waiter; the others sleep on their own condition variable. A lone caller thus
// polls its own response with no thread hand-off, which is what keeps the round trip short.
// A long-poll call never takes the poller role (its thread would then sit between every quick
// response and its caller, one more wake-up per call); it sleeps and sweeps the response ring
// every kLongPollSweepMs while no other thread polls.
//
// The request id is (generation << 32 | waiter index): a response naming a waiter that is not
// waiting, or an old generation, is a broken peer, and every call fails from then on.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "shared/ring/data_allocator.h"
#include "shared/ring/frontend_ring.h"
#include "shared/rpc/call.h"
#include "shared/rpc/spin.h"
#include "shared/transport/channel.h"

namespace ringbox::rpc {

inline constexpr int kLongPollSweepMs = 20;

struct ClientOptions {
  int spin_us = 50;
};

class RingClient final : public Client {
 public:
  static Result<std::unique_ptr<RingClient>> create(std::unique_ptr<transport::RingChannel> ch,
                                                    ClientOptions opts);
  ~RingClient() override;
  Result<Reply> call(const Call& c) override;
  uint32_t max_payload() const override { return max_payload_; }
  // After the backend restarted (Xen: it re-attached to our pages): delivers the responses the
  // old backend had published, re-initialises the ring indexes and republishes every request
  // that still has no response, payloads copied afresh, after repeating the recorded kHello
  // (a new backend is a new connection: it refuses anything before kHello; one ring slot is
  // kept free for that kHello, so at most slots - 1 calls are in flight). The channel calls it
  // through its
  // restart handler (RingChannel::set_restart_handler), registered by create().
  Result<void> reset_and_replay();
  transport::RingChannel& channel() { return *channel_; }
  // The region guard (RingChannel::set_region_guard), registered by create(): waits up to
  // drain_ms for every call that is not a long poll to be answered, then runs `change` with the
  // region untouched by any other thread. Calls that start meanwhile (but long polls) are
  // parked until `change` ran: a caller with many calls to make (a write-back) cannot keep the
  // ring busy forever, and its next call goes to the backend after the change (for a vacate,
  // the restored domain's, by replay).
  Result<void> guard_region(int drain_ms, const transport::RingChannel::RegionChange& change);
  // True while guard_region parks new calls.
  bool parking();
  // Most requests that were in flight at the same moment since creation.
  uint32_t peak_in_flight();
  // Responses the polling thread handed to another, sleeping caller: each one is a thread
  // wake-up on the round trip.
  uint64_t handoffs();

 private:
  struct Waiter {
    uint32_t generation = 0;
    bool in_use = false;
    bool done = false;
    bool sleeping = false;
    bool long_poll = false;
    proto::RequestSlot slot{};
    std::span<const std::byte> in;
    proto::ResponseSlot rsp{};
    std::condition_variable cv;
  };

  RingClient(std::unique_ptr<transport::RingChannel> ch, ring::FrontendRing ring,
             ClientOptions opts);
  Result<void> wait_for(std::unique_lock<std::mutex>& lk, uint32_t idx);
  Result<void> lead(std::unique_lock<std::mutex>& lk, uint32_t idx);
  Result<void> deliver(const proto::ResponseSlot& rsp);
  Result<void> sweep_responses();
  void hand_over_polling();
  void fail_all(const Error& e);

  std::unique_ptr<transport::RingChannel> channel_;
  ClientOptions opts_;
  PollWindow poll_;  // guarded by mu_
  uint32_t max_payload_;
  ring::DataAllocator alloc_;

  // Held shared while a caller copies its payload into the data area outside mu_; exclusively
  // (with mu_) by guard_region().
  std::shared_mutex region_mu_;
  std::mutex mu_;  // guards everything below, and ring_
  ring::FrontendRing ring_;
  std::vector<Waiter> waiters_;
  std::vector<uint32_t> free_waiters_;
  std::condition_variable free_cv_;
  uint32_t peak_in_flight_ = 0;
  uint64_t handoffs_ = 0;
  bool leader_ = false;
  bool parked_ = false;  // guard_region is draining: new calls wait on free_cv_
  bool broken_ = false;
  Error broken_error_;
};

}  // namespace ringbox::rpc
