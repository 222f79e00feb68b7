// Starting the job's process: its own process group, stdin from /dev/null, stdout and stderr
// into pipes the agent streams to the host, the working directory in the job's view, and
// (unless the spec asks for root) no privileges: supplementary groups dropped, then gid, then
// uid. The job dies with the agent (PR_SET_PDEATHSIG), so a killed agent never leaves it
// writing into a view nobody serves.
//
// Everything the child needs is built before fork(): the agent has threads, so between fork
// and exec the child only makes system calls (no allocation, no locks).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "shared/util/unique_fd.h"

namespace ringbox::guest::job {

struct SpawnSpec {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd;  // absolute
  uint32_t uid = 0;
  uint32_t gid = 0;
  rlimit nofile{};  // the job's RLIMIT_NOFILE (the agent's own may be higher: fd_limit.h)
};

struct Spawned {
  pid_t pid = -1;  // also the process group id
  UniqueFd stdout_fd;
  UniqueFd stderr_fd;
};

// What went wrong before the job's program started. exit_code follows the shell: 127 when the
// program was not found, 126 when it could not be run or the set-up failed.
struct SpawnFailure {
  std::string message;
  int exit_code = 126;
};

// Either the running job, or a failure (the child already reaped). An Error is the agent's own
// failure (no pipes, no fork).
Result<Spawned> spawn_job(const SpawnSpec& spec, SpawnFailure& failure);

}  // namespace ringbox::guest::job
