// `ringbox-host run`: runs one job in a guest and serves it until it ends.
//
// Builds the job's FileService (the export and its policy) and JobSession (spec, output
// files), launches the guest (launch.h: the only transport-specific step), serves both on one
// RingServer with worker threads (a slow file operation or the guest's event poll never holds
// up the others), and turns what the guest reported into the exit status: the job's exit code,
// or 128 + signal like a shell; 125 when ringbox itself failed (the guest ended without
// reporting the job's end, or outputs could not be returned), with a message on stderr.
//
// SIGUSR1 (xen) vacates the job: docs/vacate.md.
// SIGTERM, SIGINT or SIGHUP post a shutdown event to the guest (the job is stopped and returns
// no outputs); the guest is killed if it has not ended shutdown_grace_ms later, or on a second
// signal.
#pragma once

#include <string>
#include <vector>

#include "host/run/run_config.h"

namespace ringbox::host::run {

inline constexpr int kRingboxFailureStatus = 125;
inline constexpr int kUsageStatus = 2;
// The job was vacated: its domain is saved in the restore file (RunConfig::restore_file) and
// the same command resumes it (sysexits' EX_TEMPFAIL: try again later).
inline constexpr int kVacatedStatus = 75;

// Vacates the job of this process's `run` (xen): the same as sending it SIGUSR1. For callers
// inside ringbox-host (the HTCondor wrapper's SIGTERM path): it returns at once; run_job then
// saves the domain and returns kVacatedStatus, or, when the guest does not get ready within
// RunConfig::vacate_ack_timeout_ms, destroys it (the job will re-run from the start). A guest
// that refuses (docs/vacate.md) runs on, and so does run_job.
void request_vacate();

int run_job(const RunConfig& cfg);
// The command: parse args (everything after `run`), then run_job.
int cmd_run(const std::vector<std::string>& args);

}  // namespace ringbox::host::run
