// JobSession: the host's side of one job (opcodes kJobGet..kWaitEvent of ringbox_proto.h).
//
// Hands the guest its encoded JobSpec, appends the job's stdout/stderr chunks to the host-side
// output files, records the job's exit, and answers the guest's long poll for events
// (shutdown, vacate) that the host posts from outside (a signal from HTCondor, a timeout).
//
// Trust: every request comes from the guest. Arguments are checked before use, output bytes are
// bounded (OutputSink), at most kMaxEventWaiters long polls may block a worker at once and each
// for at most kMaxWaitEventMs, so a guest cannot tie up the host's worker pool. Called
// concurrently from RingServer workers; post_event() and close() from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "host/job/output_sink.h"
#include "shared/protocol/job_spec.h"
#include "shared/rpc/handler.h"

namespace ringbox::host::job {

inline constexpr uint64_t kMaxWaitEventMs = 60000;  // a longer or unlimited poll is cut to this
inline constexpr int kMaxEventWaiters = 2;
inline constexpr uint64_t kDefaultMaxOutputBytes = uint64_t{1} << 30;  // 1 GiB per stream

struct JobSessionConfig {
  proto::JobSpec spec;
  std::string stdout_path = "_condor_stdout";
  std::string stderr_path = "_condor_stderr";
  uint64_t max_output_bytes = kDefaultMaxOutputBytes;
  // A job resumed after a vacate: its guest already has the spec, and its output files keep
  // what the run before the save wrote (appended to, never truncated).
  bool resumed = false;
};

// What the guest reported with kJobExit.
struct JobOutcome {
  proto::ExitKind kind = proto::ExitKind::kExited;
  uint32_t value = 0;               // exit code, or signal number
  uint32_t writeback_failures = 0;  // outputs the guest could not return
  // The shell's convention: the exit code, or 128 + signal.
  int shell_status() const {
    return kind == proto::ExitKind::kExited ? static_cast<int>(value)
                                            : 128 + static_cast<int>(value);
  }
};

class JobSession final : public rpc::Handler {
 public:
  static Result<std::unique_ptr<JobSession>> create(const JobSessionConfig& cfg);

  static bool owns(uint16_t opcode) { return opcode >= 16 && opcode <= 20; }
  // Opcodes 16..20; anything else is kNoSys.
  rpc::Reply handle(const rpc::Request& req) override;

  // Queues an event for the guest's next (or current) kWaitEvent. kShutdown stays posted
  // (every later poll sees it); kVacate is delivered once.
  void post_event(proto::Event e);
  // Wakes every blocked poll with kShutdown and makes new ones return at once. Call before the
  // server's workers are joined.
  void close();

  std::optional<JobOutcome> outcome() const;
  bool spec_delivered() const;

 private:
  JobSession(std::vector<std::byte> encoded, OutputSink out, OutputSink err)
      : encoded_(std::move(encoded)), stdout_(std::move(out)), stderr_(std::move(err)) {}
  rpc::Reply job_get(const rpc::Request& req);
  rpc::Reply job_exit(const rpc::Request& req);
  void log_lost_outputs(const rpc::Request& req);  // mu_ held, outcome_ set
  rpc::Reply wait_event(const rpc::Request& req);

  const std::vector<std::byte> encoded_;
  OutputSink stdout_;
  OutputSink stderr_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool delivered_ = false;
  std::optional<JobOutcome> outcome_;
  bool shutdown_ = false;
  bool vacate_ = false;
  bool closed_ = false;
  int waiters_ = 0;
};

}  // namespace ringbox::host::job
