#include "guest/job/event_watch.h"

#include <chrono>

#include "shared/util/log.h"

namespace ringbox::guest::job {

EventWatch::EventWatch(rpc::Client& client, std::function<void()> on_shutdown)
    : client_(client), on_shutdown_(std::move(on_shutdown)) {
  thread_ = std::thread([this] { run(); });
}

EventWatch::~EventWatch() {
  stop();
}

void EventWatch::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void EventWatch::run() {
  while (!stop_) {
    rpc::Call c;
    c.opcode = proto::Opcode::kWaitEvent;
    c.arg[0] = kEventPollMs;
    c.long_poll = true;
    auto r = client_.call(c);
    if (!r) {
      // The connection is gone for good (a transport that can reconnect does so inside
      // call()): nobody is left to serve the job's files or take its outputs. Stop it.
      log::warn("lost the host while waiting for events (" + r.error().message() +
                "); stopping the job");
      if (!shutdown_.exchange(true)) on_shutdown_();
      return;
    }
    if (!r->ok()) {
      // kAgain: another poll is outstanding (a replay after reconnect); back off briefly.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    switch (static_cast<proto::Event>(r->val[0])) {
      case proto::Event::kShutdown:
        if (!shutdown_.exchange(true)) {
          log::info("the host asked the job to shut down");
          on_shutdown_();
        }
        break;
      case proto::Event::kVacate:
        log::info("the host is vacating this domain");
        break;
      default:
        break;
    }
    if (shutdown_) {
      // Keep the connection quiet; the runner finishes the job's shutdown.
      while (!stop_) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

}  // namespace ringbox::guest::job
