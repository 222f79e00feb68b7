// Starting a helper process of ringbox-host (the local agent, the confined file service).
#pragma once

#include <spawn.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "shared/util/result.h"

namespace ringbox::host {

// posix_spawn(3) of `path` with `argv` (argv[0] included) and `env` (NAME=VALUE), in a process
// group of its own and with an empty signal mask: a terminal's ^C then reaches only ringbox-host,
// which turns it into an orderly stop, and the child does not inherit the shutdown signals our
// threads block. `actions` may be null. Returns the pid; errors: posix_spawn's, naming `what`.
Result<pid_t> spawn_in_own_group(const std::string& path, std::vector<std::string> argv,
                                 std::vector<std::string> env,
                                 const posix_spawn_file_actions_t* actions,
                                 const std::string& what);

}  // namespace ringbox::host
