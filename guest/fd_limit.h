// The agent's open-file limit. lazy-file keeps one descriptor per cached file (its anonymous
// copy lives only through it), so a job that reads thousands of files needs thousands of
// descriptors in the agent: raise_fd_limit() lifts the soft limit to the hard one (and, as root,
// the hard one up to fs.nr_open, at most kAgentFdLimit), as virtiofsd does for the same reason.
// The job must not inherit that: spawn_job() puts back the limit the agent was started with.
#pragma once

#include <sys/resource.h>

namespace ringbox::guest {

inline constexpr rlim_t kAgentFdLimit = 1 << 20;

// Call once at start-up, before any thread. Returns the limit the agent was started with.
rlimit raise_fd_limit();
// What raise_fd_limit() found (the current limit if it was never called): the job's limit.
rlimit job_fd_limit();

}  // namespace ringbox::guest
