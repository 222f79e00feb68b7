#include "shared/rpc/ring_server.h"

#include <chrono>
#include <string>
#include <utility>

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
    : channel_(std::move(ch)), ring_(std::move(ring)), handler_(h), opts_(o), session_(o.features) {
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
  handler_.connection_ended();  // no handler call is running any more
}

ServerStats RingServer::stats() const {
  return {requests_.load(), inline_.load(), malformed_.load(),
          refused_.load(),  kicks_.load(),  sleeps_.load()};
}

Result<void> RingServer::serve() {
  auto last_work = Clock::now();
  PollWindow poll(opts_.spin_us);
  proto::RequestSlot slot;
  Spinner spinner;
  bool slept = false;  // since the last request
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
      if (!std::exchange(slept, false)) poll.caught();
      try {
        dispatch(slot);
      } catch (...) {  // the firewall's outer wall: our own code ran out of memory
        try {
          log::error("answering request " + std::to_string(slot.id) + " from " +
                     channel_->describe() + " failed; answered kIo, serving on");
        } catch (...) {
        }
        respond(slot.id, Reply::error(proto::WireError::kIo));
      }
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
    slept = true;
    poll.slept(std::chrono::duration_cast<PollWindow::us>(last_work - slept_at), *woke);
  }
  return ok();
}

void RingServer::dispatch(const proto::RequestSlot& slot) {
  ++requests_;
  // slot is already our private copy (BackendRing::take_request): check it, then trust it.
  auto req = check_ring_request(slot, ring_.data_area(), ring_.geometry());
  if (!req) {
    ++malformed_;
    log::warn("malformed request from " + channel_->describe() + ": " + req.error().what);
    respond(slot.id, Reply::error(proto::WireError::kProto));
    return;
  }
  // On this thread, in ring order: the session's state changes with each request.
  if (auto answer = session_.admit(*req)) {
    if (!answer->ok()) ++refused_;
    respond(slot.id, *answer);
    return;
  }
  if (workers_.empty() || handler_.runs_inline(slot.opcode)) {
    if (!workers_.empty()) ++inline_;
    respond(slot.id, invoke_handler(handler_, *req, channel_->describe()));
    return;
  }
  {
    std::lock_guard lk(queue_mu_);
    queue_.push_back(*req);
  }
  queue_cv_.notify_one();
}

void RingServer::respond(uint64_t id, const Reply& reply) {
  const proto::ResponseSlot rsp = encode_response(id, reply);
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
    Request req;
    {
      std::unique_lock lk(queue_mu_);
      queue_cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      req = queue_.front();
      queue_.pop_front();
    }
    respond(req.id, invoke_handler(handler_, req, channel_->describe()));
  }
}

}  // namespace ringbox::rpc
