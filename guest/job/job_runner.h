// The agent's job mode (ringbox-agent --job): fetch the job from the host, build its file view
// for the job's mode, run it, stream its output, return its outputs and report how it ended.
//
//   kJobGet -> view (remote-io, lazy-file: FUSE mount; eager: stage-in) -> fork/exec as the
//   job's uid/gid -> stream stdout/stderr -> wait -> kill what is left of its process group
//   -> unmount -> write back (lazy-file, eager; only if the job exited by itself and no
//   shutdown was asked for) -> kJobExit -> return.
//
// A job killed by a signal, or stopped by a host shutdown, returns no outputs: nothing it was
// half-way through writing reaches the export. The agent's own problems (no view, a failed
// write-back) are written to the job's stderr stream with a "ringbox-agent:" prefix.
#pragma once

#include <cstdint>
#include <string>

#include "shared/rpc/call.h"

namespace ringbox::guest::job {

struct JobOptions {
  // Where the view, the lazy-file cache and the eager staging directory live (tmpfs in the
  // domain). Created if missing.
  std::string work_dir = "/run/ringbox";
  uint64_t cache_max_bytes = UINT64_MAX;  // lazy-file cache bound, on top of the free space
  int kill_grace_ms = 5000;               // SIGTERM -> SIGKILL on a host shutdown
};

// Returns the agent's exit status: 0 when the job's end was reported to the host (whatever the
// job's own status), non-zero when the agent could not get that far.
int run_job(rpc::Client& client, const JobOptions& opts);

}  // namespace ringbox::guest::job
