#include "shared/rpc/ring_server.h"

#include <chrono>
#include <string>

#include "shared/rpc/request_check.h"
#include "shared/rpc/spin.h"
#include "shared/util/log.h"

namespace ringbox::rpc {
namespace {
using Clock = std::chrono::steady_clock;
constexpr int kWaitSliceMs = 100;  // how often a sleeping server re-checks stop() and liveness

}  // namespace

Result<std::unique_ptr<RingServer>> RingServer::create(std::unique_ptr<transport::RingChannel> ch,
                                                       Handler& handler, ServerOptions opts) {
  auto ring = ring::BackendRing::attach(ch->region(), ch->geometry());
  if (!ring) return std::move(ring.error());
  return std::unique_ptr<RingServer>(
      new RingServer(std::move(ch), std::move(*ring), handler, opts));
}

RingServer::RingServer(std::unique_ptr<transport::RingChannel> ch, ring::BackendRing ring,
                       Handler& h, ServerOptions o)
    : channel_(std::move(ch)), ring_(std::move(ring)), handler_(h), opts_(o) {
  ring_.set_backend_alive(true);
  for (int i = 0; i < opts_.workers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

RingServer::~RingServer() {
  {
    std::lock_guard lk(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  for (auto& t : workers_) t.join();
  ring_.set_backend_alive(false);
}

ServerStats RingServer::stats() const {
  return {requests_.load(), inline_.load(), malformed_.load(), kicks_.load(), sleeps_.load()};
}

Result<void> RingServer::serve() {
  auto last_work = Clock::now();
  PollWindow poll(opts_.spin_us);
  proto::RequestSlot slot;
  Spinner spinner;
  while (!stopping_) {
    Result<bool> got = false;
    {
      std::lock_guard lk(ring_mu_);
      got = ring_.take_request(slot);
    }
    if (!got) {
      log::error("dropping " + channel_->describe() + ": " + got.error().message());
      return std::move(got.error());
    }
    if (*got) {
      dispatch(slot);
      last_work = Clock::now();
      continue;
    }
    if (Clock::now() - last_work < poll.window()) {
      spinner.pause();
      continue;
    }
    Result<bool> pending = false;
    {
      std::lock_guard lk(ring_mu_);
      pending = ring_.final_check_requests();
    }
    if (!pending) return std::move(pending.error());
    if (*pending) continue;
    ++sleeps_;
    const auto slept_at = Clock::now();
    auto woke = channel_->doorbell().wait(kWaitSliceMs);
    if (!woke) {
      if (woke.error().code == Errc::kPeerGone) return ok();
      return std::move(woke.error());
    }
    if (!*woke && !ring_.frontend_alive()) return ok();
    last_work = Clock::now();
    poll.slept(std::chrono::duration_cast<PollWindow::us>(last_work - slept_at), *woke);
  }
  return ok();
}

void RingServer::dispatch(const proto::RequestSlot& slot) {
  ++requests_;
  // slot.opcode is our private copy: whatever it says, run() checks the request in full.
  if (workers_.empty() || handler_.runs_inline(slot.opcode)) {
    if (!workers_.empty()) ++inline_;
    respond(slot.id, run(slot));
    return;
  }
  {
    std::lock_guard lk(queue_mu_);
    queue_.push_back(slot);
  }
  queue_cv_.notify_one();
}

Reply RingServer::run(const proto::RequestSlot& slot) {
  // slot is already our private copy (BackendRing::take_request); check it, then trust it.
  auto req = check_ring_request(slot, ring_.data_area(), ring_.geometry());
  if (!req) {
    ++malformed_;
    log::warn("malformed request from " + channel_->describe() + ": " + req.error().what);
    return Reply::error(proto::WireError::kProto);
  }
  Reply r = handler_.handle(*req);
  if (r.out_len > slot.buf_len) {
    log::error("handler bug: opcode " + std::to_string(slot.opcode) + " produced " +
               std::to_string(r.out_len) + " bytes for a " + std::to_string(slot.buf_len) +
               "-byte buffer");
    r = Reply::error(proto::WireError::kIo);
  }
  return r;
}

void RingServer::respond(uint64_t id, const Reply& reply) {
  proto::ResponseSlot rsp{};  // zeroed: no stale private bytes reach the guest
  rsp.id = id;
  rsp.status = reply.status;
  rsp.out_len = reply.status == 0 ? reply.out_len : 0;
  rsp.val[0] = reply.val[0];
  rsp.val[1] = reply.val[1];
  bool kick;
  {
    std::lock_guard lk(ring_mu_);
    if (auto put = ring_.put_response(rsp); !put) {
      log::error("cannot answer request " + std::to_string(id) + ": " + put.error().message());
      return;
    }
    kick = ring_.push_responses();
  }
  if (kick) {
    ++kicks_;
    if (auto r = channel_->doorbell().ring(); !r) log::warn(r.error().message());
  }
}

void RingServer::worker_loop() {
  for (;;) {
    proto::RequestSlot slot;
    {
      std::unique_lock lk(queue_mu_);
      queue_cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      slot = queue_.front();
      queue_.pop_front();
    }
    respond(slot.id, run(slot));
  }
}

}  // namespace ringbox::rpc
