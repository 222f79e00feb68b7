// OutputPump: streams the job's stdout and stderr to the host as they are written (kJobStdout,
// kJobStderr), one thread, one call in flight per stream, so each stream arrives in order.
//
// A stream the host refuses (its output limit, kFBig) is still drained, so the job never
// blocks on a full pipe. finish() waits for both pipes to close; if something outside the job's
// process group still holds one open after the grace time, the pump stops anyway.
#pragma once

#include <atomic>
#include <string_view>
#include <thread>

#include "shared/rpc/call.h"
#include "shared/util/unique_fd.h"

namespace ringbox::guest::job {

class OutputPump {
 public:
  OutputPump(rpc::Client& client, UniqueFd stdout_fd, UniqueFd stderr_fd);
  ~OutputPump();
  void finish(int grace_ms);
  uint64_t bytes_sent() const { return sent_; }

 private:
  void run();
  void send(proto::Opcode op, std::string_view bytes, bool& refused);

  rpc::Client& client_;
  UniqueFd out_;
  UniqueFd err_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  std::atomic<uint64_t> sent_{0};
  std::thread thread_;
};

// Sends one message on the job's stderr stream, prefixed "ringbox-agent: ", so the person
// reading _condor_stderr learns why the job did not run or what did not come back.
void report_to_job_stderr(rpc::Client& client, std::string_view message);

}  // namespace ringbox::guest::job
