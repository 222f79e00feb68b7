// `ringbox-host daemon`: ringbox's root service on an execute node. Listens on a Unix stream
// socket (default /run/ringbox/hostd.sock, mode 0666: any local user may ask, the policy
// decides), authenticates each client by SO_PEERCRED/SO_PEERGROUPS, applies the admin's
// policy (service_policy.h: who, how many guests in all and per user) and forks one child per
// accepted job (job_runner.h), which owns that job's guest until it ends.
//
// The accept loop is single-threaded (fork is safe) and never reads a client's bytes itself.
// SIGTERM/SIGINT stop it: the children are told (SIGTERM: each kills its guest) and waited for.
#pragma once

#include <string>
#include <vector>

#include "host/service/service_policy.h"

namespace ringbox::host::service {

struct DaemonConfig {
  std::string socket_path;  // default kDefaultServiceSocket
  std::string policy_path = "/etc/ringbox/hostd.conf";
};

// Runs the service until a stop signal. Returns the process exit status.
int run_daemon(const DaemonConfig& cfg, const ServicePolicy& policy);
// The command: parse args (everything after `daemon`), read the policy, run_daemon.
int cmd_daemon(const std::vector<std::string>& args);

}  // namespace ringbox::host::service
