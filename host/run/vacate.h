// The steps of a vacate that `ringbox-host run` and the root service's job runner
// (host/service/job_runner.cc) share (docs/vacate.md): where a vacate stands, the save of a
// prepared guest into a restore file's descriptor, and the restore of a guest from one.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "host/run/launch.h"
#include "host/run/restore_file.h"
#include "host/run/run_config.h"

namespace ringbox::host::run {

// HTCondor's checkpoint_exit_code for `--checkpoint-every`: the job saved itself and asks to be
// relaunched from its checkpoint files (condor_submit's manual, "checkpoint_exit_code").
inline constexpr int kCheckpointStatus = 85;

// Where a vacate stands: the thread that asks the guest moves it on, the serving thread waits
// for it to settle once the guest's connection ended.
class VacateState {
 public:
  enum class Step { kNone, kAsking, kReady, kFailed };
  void set(Step s) {
    std::lock_guard lk(mu_);
    step_ = s;
    cv_.notify_all();
  }
  Step get() {
    std::lock_guard lk(mu_);
    return step_;
  }
  // Waits while the guest is being asked; returns where it settled.
  Step settle() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return step_ != Step::kAsking; });
    return step_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  Step step_ = Step::kNone;
};

// Asks the guest to get ready for a save (bounded by cfg.vacate_ack_timeout_ms) and moves
// `state` to kReady, or to kFailed after destroying the guest (the job re-runs from the start;
// logged). A guest that refused (it cannot be saved now, and runs on untouched) is left running
// with the request withdrawn and `state` back at kNone when go_on_when_refused (`run`: the job
// goes on here), else destroyed as above (HTCondor takes the job away anyway). `why` names the
// trigger in the log ("SIGUSR1", "the wrapper's vacate"). Returns where `state` settled.
VacateState::Step prepare_guest_vacate(Guest& guest, const RunConfig& cfg, VacateState& state,
                                       const std::string& why, bool go_on_when_refused);

// Saves the prepared guest into fd (write_restore_fd: header last, synced), zstd-compressed when
// cfg.restore_zstd, ballooned first when cfg.vacate_balloon. Returns the file's size. On
// failure the guest runs on (the caller withdraws the vacate).
Result<uint64_t> save_guest(Guest& guest, const RunConfig& cfg, int fd, const std::string& name);

// The same into PATH.part, renamed to PATH once complete (removed when the save failed).
Result<uint64_t> save_guest_to_path(Guest& guest, const RunConfig& cfg, const std::string& path);

// Restores the job's domain from a checked restore file (memory and vCPUs from its header,
// decompressing when it says zstd) and sets its memory target back to full. `seconds`: how
// long the restore took.
Result<std::unique_ptr<Guest>> restore_guest(const RunConfig& cfg, OpenedRestore& restore,
                                             double* seconds);

// "12.34": seconds since t0, for the log.
std::string seconds_since(std::chrono::steady_clock::time_point t0);

}  // namespace ringbox::host::run
