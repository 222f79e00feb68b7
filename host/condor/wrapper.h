// `ringbox-condor` (also `ringbox-host condor`): ringbox's HTCondor job wrapper. Unprivileged:
// it runs as the job's user, as USER_JOB_WRAPPER (argv = the job's executable and arguments)
// or as a vanilla-universe executable whose arguments are the real job. It
//   - reads $_CONDOR_JOB_AD and $_CONDOR_MACHINE_AD (class_ad.h) and plans the job (job_plan.h);
//   - connects to ringbox's root service ($RINGBOX_SOCKET, default /run/ringbox/hostd.sock)
//     and hands it open descriptors: the scratch dir ($_CONDOR_SCRATCH_DIR, else the working
//     directory) as the export, and its own stdout and stderr, which the starter opened on the
//     job's output files; so the service acts with no more than this user's rights; and when
//     the job's files are on the submit side (RingboxFiles = "submit", the default with
//     WantIOProxy), the text of $_CONDOR_CHIRP_CONFIG, which it reads as the job's user;
//   - waits for the job's end and exits with its status: the exit code, or the same signal
//     (it kills itself with it, as HTCondor reports a job killed by a signal);
//   - on SIGTERM/SIGINT/SIGHUP (vacate, condor_rm, condor_hold) asks the service to stop the
//     job and exits within min(MachineMaxVacateTime, JobMaxVacateTime); on SIGQUIT it hangs up
//     at once (the service kills the guest when the socket closes);
//   - but on SIGTERM, for a xen job whose restore file HTCondor carries (ON_EXIT_OR_EVICT), and
//     every RingboxCheckpointMinutes: creates ringbox.restore.part in the scratch dir, has the
//     service save the domain into it (op=vacate), keeps the job's output so far in
//     ringbox.stdout/.stderr (saved_streams.h), renames it ringbox.restore and exits 75 (85 for
//     a checkpoint); a relaunch that finds ringbox.restore puts that output back into the
//     streams the starter truncated and hands the file to the service, which resumes the job
//     from it (docs/vacate.md);
//   - reports a setup failure (no service, refused by policy, bad attribute, no image, ...) in
//     $_CONDOR_WRAPPER_ERROR_FILE and on stderr with exit status 125, so that as
//     USER_JOB_WRAPPER the starter counts a wrapper failure and puts the job back to idle,
//     never a completed job.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ringbox::host::condor {

inline constexpr int kSetupFailureStatus = 125;  // as `ringbox-host run`
inline constexpr char kSocketEnv[] = "RINGBOX_SOCKET";
inline constexpr size_t kMaxChirpConfigBytes = 4096;  // one "<ip> <port> <cookie>" line

// argv: the job's executable and arguments. Returns the exit status, or does not return when
// the job was killed by a signal (the wrapper dies of the same signal).
int wrapper_main(const std::vector<std::string>& argv);
// `ringbox-host condor [--] JOB ARGS...` and the `ringbox-condor` binary.
int cmd_condor(const std::vector<std::string>& args);

}  // namespace ringbox::host::condor
