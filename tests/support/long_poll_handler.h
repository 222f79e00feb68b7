// Test helpers for calls that wait: a handler whose kWaitEvent blocks until released (like the
// host's event poll) and answers everything else as a session, and a checked ping.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <vector>

#include "shared/rpc/call.h"
#include "shared/rpc/handler.h"

namespace ringbox::test {

class LongPollHandler final : public rpc::Handler {
 public:
  // kWaitEvent answers with val[0] = event once released.
  explicit LongPollHandler(uint64_t event = 42) : event_(event) {}
  rpc::Reply handle(const rpc::Request& req) override {
    if (req.opcode == static_cast<uint16_t>(proto::Opcode::kWaitEvent)) {
      std::unique_lock lk(mu_);
      ++polling_;
      cv_.notify_all();
      cv_.wait(lk, [&] { return released_; });
      return rpc::Reply{0, 0, {event_, 0}};
    }
    return rpc::handle_session_opcode(req);
  }
  bool runs_inline(uint16_t opcode) const override {
    return opcode == static_cast<uint16_t>(proto::Opcode::kPing);
  }
  // Blocks until `n` kWaitEvent calls have reached the handler (the poll is really waiting).
  void wait_until_polling(int n = 1) {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return polling_ >= n; });
  }
  void release() {
    {
      std::lock_guard lk(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }

 private:
  uint64_t event_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  int polling_ = 0;
};

// One kPing of `bytes` bytes of `fill`; true when it came back intact.
inline bool ping_ok(rpc::Client& c, std::byte fill = std::byte{5}, size_t bytes = 64) {
  std::vector<std::byte> in(bytes, fill), out(bytes);
  rpc::Call call;
  call.opcode = proto::Opcode::kPing;
  call.in = in;
  call.out = out;
  auto r = c.call(call);
  return r && r->ok() && out == in;
}

}  // namespace ringbox::test
