// One job of ringbox's root service, run for one connected wrapper: in a child process of the
// daemon (daemon.cc forks one per connection), so a job's threads, descriptors and guest die
// with that process and never touch the daemon's accept loop.
//
// Reads the wrapper's op=run with its three descriptors, checks it against the policy
// (job_request.h), then runs the job exactly as `ringbox-host run` does, with host/run's
// launchers (local or xen) and the same FileService, JobSession and HostHandler; what differs:
//   - the export, stdout and stderr are the wrapper's descriptors, opened again as
//     /proc/self/fd/N with the client's file-system identity (as_user.h), and every guest
//     request is served with that identity: the job can reach nothing its user could not;
//   - the wrapper's op=stop posts a shutdown to the guest (killed if it has not ended after
//     the request's grace_ms); the wrapper's hang-up (its death, SIGKILL included) or a
//     SIGTERM/SIGINT/SIGHUP to this process kills the guest at once;
//   - the wrapper's op=vacate (xen) saves the job's domain into the restore file it carries and
//     reports kind=vacated; a 4th descriptor on op=run is a restore file to resume from
//     (docs/vacate.md);
//   - the outcome goes back as op=result (exited / signaled / failed with a message).
#pragma once

#include "host/service/job_request.h"
#include "host/service/service_policy.h"
#include "shared/util/unique_fd.h"

namespace ringbox::host::service {

// How long a connected wrapper has to send its op=run.
inline constexpr int kRequestTimeoutMs = 10000;

// Runs the client's job to its end and reports to it. Returns the child's exit status (0 when
// a result was reported, whatever the job's own status).
int run_client_job(UniqueFd sock, const ClientCredentials& who, const ServicePolicy& policy);

}  // namespace ringbox::host::service
