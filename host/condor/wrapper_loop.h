// The HTCondor wrapper's life once ringbox's service has the job (wrapper.h): it waits for the
// job's end, turns HTCondor's stop signals into the service's op=stop / op=vacate, takes the
// job's own checkpoints, and keeps the restore file's rules (docs/vacate.md):
//   - ringbox.restore.part is created by this user for each save, and renamed ringbox.restore
//     only once the service reported the save complete and synced (result kind=vacated) and
//     the job's output so far is kept (saved_streams.h); it is removed on the other ends the
//     loop sees (SIGQUIT hangs up at once and leaves it: the relaunch removes a stale part);
//   - op=started restore=resumed: the restore file was used, so it is removed (a later exit
//     never ships it again); any other restore text: it was refused, and renamed aside;
//   - a checkpoint the guest refuses (op=refused) leaves the job running and tries again a
//     period later; a stop signal during a checkpoint is held, and acted on if it is refused;
//   - no answer within 95 % of the stop budget after a stop signal: the wrapper hangs up (the
//     service kills the guest) and ends by SIGTERM, so HTCondor never waits past its
//     MachineMaxVacateTime.
#pragma once

#include <iosfwd>
#include <string>

#include "host/condor/job_plan.h"

namespace ringbox::host::condor {

inline constexpr int kVacatedStatus = 75;     // as `ringbox-host run` (host/run/run_command.h)
inline constexpr int kCheckpointStatus = 85;  // HTCondor's checkpoint_exit_code (host/run/vacate.h)

// What the loop works with; every descriptor stays the caller's.
struct WrapperIo {
  int signals = -1;             // non-blocking, yields signalfd_siginfo records (a signalfd)
  int service = -1;             // the service's connection, the job already handed over
  int scratch = -1;             // the scratch dir (O_DIRECTORY), where the restore file lives
  int streams[2] = {-1, -1};    // the job's stdout and stderr
  std::ostream* err = nullptr;  // the job's stderr, for the wrapper's notes (std::cerr if null)
};

// How the wrapper is to end: die of `signal` (the job's end, or a stop HTCondor asked for;
// the caller hangs up first), exit with `status`, or report `failure` as a setup failure.
struct WrapperEnd {
  int status = 0;
  int signal = 0;
  std::string failure;
};

// Runs until the job's end. plan: stop_budget_ms, save_on_vacate and checkpoint_minutes are
// read. SIGQUIT ends it at once (signal SIGQUIT); the other signals read are stop signals.
WrapperEnd run_wrapper_loop(const JobPlan& plan, const WrapperIo& io);

}  // namespace ringbox::host::condor
