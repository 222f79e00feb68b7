#include "shared/rpc/ring_client.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "shared/ring/shared_memory.h"
#include "shared/rpc/request_check.h"
#include "shared/rpc/spin.h"
#include "shared/util/log.h"

namespace ringbox::rpc {
namespace {
using Clock = std::chrono::steady_clock;
constexpr int kWaitSliceMs = 100;
// The id of the kHello reset_and_replay() puts before the replayed requests: no waiter has it.
constexpr uint64_t kReplayHelloId = ~uint64_t{0};
}  // namespace

Result<std::unique_ptr<RingClient>> RingClient::create(std::unique_ptr<transport::RingChannel> ch,
                                                       ClientOptions opts) {
  auto ring = ring::FrontendRing::adopt(ch->region(), ch->geometry());
  if (!ring) return std::move(ring.error());
  std::unique_ptr<RingClient> client(new RingClient(std::move(ch), std::move(*ring), opts));
  // Unregistered first thing in the destructor, so the channel never calls a dead client.
  client->channel_->set_restart_handler([c = client.get()] { return c->reset_and_replay(); });
  client->channel_->set_region_guard(
      [c = client.get()](int drain_ms, const transport::RingChannel::RegionChange& change) {
        return c->guard_region(drain_ms, change);
      });
  return client;
}

RingClient::RingClient(std::unique_ptr<transport::RingChannel> ch, ring::FrontendRing ring,
                       ClientOptions opts)
    : channel_(std::move(ch)),
      opts_(opts),
      poll_(opts.spin_us),
      max_payload_(ring.geometry().max_message_bytes()),
      alloc_(static_cast<uint32_t>(ring.geometry().data_bytes()), max_payload_),
      ring_(std::move(ring)),
      waiters_(ring_.geometry().slots() - 1) {  // one slot stays free for a replayed kHello
  for (uint32_t i = ring_.geometry().slots() - 1; i > 0; --i) free_waiters_.push_back(i - 1);
}

RingClient::~RingClient() {
  channel_->set_restart_handler(nullptr);  // waits for a replay in progress on another thread
  channel_->set_region_guard(nullptr);
  alloc_.cancel();
  std::lock_guard lk(mu_);
  ring_.set_frontend_alive(false);
}

Result<Reply> RingClient::call(const Call& c) {
  size_t need = std::max(c.in.size(), c.out.size());
  if (need > max_payload_)
    return make_error(Errc::kTooLarge, "payload of " + std::to_string(need) +
                                           " bytes exceeds the ring message limit of " +
                                           std::to_string(max_payload_) + " bytes");
  auto extent = alloc_.allocate(static_cast<uint32_t>(need));
  if (!extent) return std::move(extent.error());
  auto buffer = ring_.data_area().subspan(extent->offset, extent->length);
  if (!c.in.empty()) {
    std::shared_lock rl(region_mu_);
    ring::copy_to_shared(buffer.data(), c.in.data(), c.in.size());
  }

  std::unique_lock lk(mu_);
  free_cv_.wait(lk,
                [&] { return (!free_waiters_.empty() && (!parked_ || c.long_poll)) || broken_; });
  if (broken_) {
    lk.unlock();
    alloc_.release(*extent);
    return broken_error_;
  }
  uint32_t idx = free_waiters_.back();
  free_waiters_.pop_back();
  peak_in_flight_ = std::max<uint32_t>(
      peak_in_flight_, static_cast<uint32_t>(waiters_.size() - free_waiters_.size()));
  Waiter& w = waiters_[idx];
  w.in_use = true;
  w.done = false;
  w.long_poll = c.long_poll;
  ++w.generation;
  w.in = c.in;
  w.slot = encode_request(c, (uint64_t{w.generation} << 32) | idx, extent->offset, extent->length);
  ring_.put_request(w.slot);
  bool kick = ring_.push_requests();
  if (kick) {
    lk.unlock();
    auto rang = channel_->doorbell().ring();
    lk.lock();
    if (!rang) fail_all(rang.error());
  }

  auto waited = wait_for(lk, idx);
  Result<Reply> result = Reply{};
  if (!waited) {
    result = std::move(waited.error());
  } else {
    // w.rsp is the private copy deliver() took
    result = decode_response(w.rsp, std::min<size_t>(c.out.size(), extent->length), w.slot.opcode);
    if (result) ring::copy_from_shared(c.out.data(), buffer.data(), result->out_len);
  }
  w.in_use = false;
  w.in = {};
  free_waiters_.push_back(idx);
  const bool parked = parked_;  // parked callers may be first in line: wake a long poll too
  lk.unlock();
  if (parked)
    free_cv_.notify_all();
  else
    free_cv_.notify_one();
  alloc_.release(*extent);
  return result;
}

Result<void> RingClient::wait_for(std::unique_lock<std::mutex>& lk, uint32_t idx) {
  Waiter& w = waiters_[idx];
  for (;;) {
    if (w.done) return ok();
    if (broken_) return broken_error_;
    if (!leader_ && !w.long_poll) {
      leader_ = true;
      auto led = lead(lk, idx);
      leader_ = false;
      if (!led) fail_all(led.error());
      hand_over_polling();
      continue;
    }
    if (w.long_poll && !leader_) {
      if (auto swept = sweep_responses(); !swept) fail_all(swept.error());
      if (w.done || broken_) continue;
    }
    w.sleeping = true;
    if (w.long_poll)
      w.cv.wait_for(lk, std::chrono::milliseconds(kLongPollSweepMs));
    else
      w.cv.wait(lk);
    w.sleeping = false;
  }
}

// One quick call still waiting must poll next, or nobody would see its response. Long polls
// sweep by themselves.
void RingClient::hand_over_polling() {
  for (Waiter& other : waiters_) {
    if (other.in_use && other.sleeping && !other.done && !other.long_poll) {
      other.cv.notify_one();
      return;
    }
  }
}

Result<void> RingClient::sweep_responses() {
  proto::ResponseSlot rsp;
  for (;;) {
    auto got = ring_.take_response(rsp);
    if (!got) return std::move(got.error());
    if (!*got) return ok();
    RINGBOX_TRY(deliver(rsp));
  }
}

Result<void> RingClient::lead(std::unique_lock<std::mutex>& lk, uint32_t idx) {
  const Waiter& w = waiters_[idx];
  auto spin_start = Clock::now();
  Spinner spinner;
  bool slept = false;
  for (;;) {
    RINGBOX_TRY(sweep_responses());
    if (w.done && !slept) poll_.caught();
    if (w.done || broken_) return ok();
    if (Clock::now() - spin_start < poll_.window()) {
      lk.unlock();  // let other threads publish while we spin
      spinner.pause();
      lk.lock();
      continue;
    }
    auto pending = ring_.final_check_responses();
    if (!pending) return std::move(pending.error());
    if (*pending) continue;
    const auto slept_at = Clock::now();
    lk.unlock();
    auto woke = channel_->doorbell().wait(kWaitSliceMs);
    lk.lock();
    if (!woke) return std::move(woke.error());
    spin_start = Clock::now();
    slept = true;
    poll_.slept(std::chrono::duration_cast<PollWindow::us>(spin_start - slept_at), *woke);
  }
}

Result<void> RingClient::deliver(const proto::ResponseSlot& rsp) {
  if (rsp.id == kReplayHelloId) {
    Reply hello{rsp.status, 0, {rsp.val[0], rsp.val[1]}};
    return check_repeated_hello(*this, hello);
  }
  uint32_t idx = static_cast<uint32_t>(rsp.id);
  uint32_t gen = static_cast<uint32_t>(rsp.id >> 32);
  if (idx >= waiters_.size() || !waiters_[idx].in_use || waiters_[idx].done ||
      waiters_[idx].generation != gen)
    return make_error(Errc::kPeerBroken, "host answered request id " + std::to_string(rsp.id) +
                                             " that is not in flight");
  Waiter& w = waiters_[idx];
  w.rsp = rsp;
  w.done = true;
  if (w.sleeping) {
    ++handoffs_;
    w.cv.notify_one();
  }
  return ok();
}

void RingClient::fail_all(const Error& e) {
  if (broken_) return;
  broken_ = true;
  broken_error_ = e;
  for (Waiter& w : waiters_)
    if (w.sleeping) w.cv.notify_one();
  free_cv_.notify_all();
}

uint64_t RingClient::handoffs() {
  std::lock_guard lk(mu_);
  return handoffs_;
}

uint32_t RingClient::peak_in_flight() {
  std::lock_guard lk(mu_);
  return peak_in_flight_;
}

Result<void> RingClient::reset_and_replay() {
  std::unique_lock lk(mu_);
  // Responses the old backend published before it went are good: deliver them rather than run
  // their requests twice. A broken index from the dying backend just ends the draining.
  proto::ResponseSlot rsp;
  int delivered = 0, replayed = 0;
  for (;;) {
    auto got = ring_.take_response(rsp);
    if (!got || !*got) break;
    if (!deliver(rsp)) break;
    ++delivered;
  }
  auto fresh = ring::FrontendRing::create(channel_->region(), channel_->geometry());
  if (!fresh) return std::move(fresh.error());
  ring_ = std::move(*fresh);
  if (auto args = hello_args()) {
    Call hello;
    hello.opcode = proto::Opcode::kHello;
    hello.arg = *args;
    ring_.put_request(encode_request(hello, kReplayHelloId, 0, 0));
  }
  for (Waiter& w : waiters_) {
    if (!w.in_use || w.done) continue;
    auto buffer = ring_.data_area().subspan(w.slot.buf_off, w.slot.buf_len);
    // the old backend may have written a partial response over the request payload
    if (!w.in.empty()) ring::copy_to_shared(buffer.data(), w.in.data(), w.in.size());
    ring_.put_request(w.slot);
    ++replayed;
  }
  ring_.push_requests();
  lk.unlock();
  log::info("ring reset for a new backend: " + std::to_string(delivered) +
            " published responses delivered, " + std::to_string(replayed) +
            " unanswered requests replayed");
  return channel_->doorbell().ring();
}

bool RingClient::parking() {
  std::lock_guard lk(mu_);
  return parked_;
}

Result<void> RingClient::guard_region(int drain_ms,
                                      const transport::RingChannel::RegionChange& change) {
  // Quiet means: under both locks (nothing can be published), every response the host wrote
  // delivered, and no call but long polls still waiting. A response written after `change`
  // copied the region would be lost and its request replayed, so wait for quiet, bounded.
  const auto until = Clock::now() + std::chrono::milliseconds(drain_ms);
  {
    std::lock_guard lk(mu_);
    parked_ = true;
  }
  for (;;) {
    {
      std::unique_lock rl(region_mu_);
      std::lock_guard lk(mu_);
      if (!broken_) {
        if (auto swept = sweep_responses(); !swept) fail_all(swept.error());
      }
      int busy = 0;
      for (const Waiter& w : waiters_)
        if (w.in_use && !w.done && !w.long_poll) ++busy;
      if (busy == 0 || Clock::now() >= until) {
        if (busy > 0)
          log::warn(std::to_string(busy) + " call(s) still unanswered after " +
                    std::to_string(drain_ms) + " ms: kept, and replayed after the restore");
        struct Unpark {  // also when change() throws: parked calls must not wait for ever
          RingClient& c;
          ~Unpark() {
            c.parked_ = false;  // mu_ held
            c.free_cv_.notify_all();
          }
        } unpark{*this};
        return change();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace ringbox::rpc
