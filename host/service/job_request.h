// From a wrapper's op=run message (service_protocol.h) and the admin's policy to the RunConfig
// that host/run's launchers and the job runner take: every field checked, every cap applied.
// A refusal says what was refused and which policy key or job attribute to change.
//
// Trust: the message comes from an unprivileged local user; nothing in it is trusted. The
// export and output files are not paths from the message but the descriptors it carried,
// reached as /proc/self/fd/N, so the service never looks a user-chosen path up as root.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "host/run/run_config.h"
#include "host/service/service_policy.h"
#include "host/service/service_protocol.h"
#include "shared/chirp/endpoint.h"

namespace ringbox::host::service {

// Who is on the other end of the socket (SO_PEERCRED, SO_PEERGROUPS).
struct ClientCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary, as the client process had them
};

inline constexpr int kMaxStopGraceMs = 600000;  // HTCondor's default MaxVacateTime
inline constexpr int kDefaultStopGraceMs = 10000;
inline constexpr int kMinVacateAckMs = 1000;   // under the guest's margin (2 s) it drains nothing
inline constexpr int kMaxVacateAckMs = 30000;  // `ringbox-host run`'s default

// The guest's time to get ready for a save (stop the job, let its file requests finish, end
// its grants) under a stop grace of grace_ms: half of it, the other half being the save and
// the wrapper's report, within [kMinVacateAckMs, kMaxVacateAckMs] (a guest given less than its
// 2 s margin drains nothing: it answers at once). HTCondor's
// MaxVacateTime and JobMaxVacateTime set the grace (host/condor/job_plan.cc).
int vacate_ack_budget_ms(int grace_ms);

// fds: the export directory, the job's stdout, the job's stderr (in this order), already
// checked by check_request_fds. Errors are kInvalidArgument with a message for the job's owner.
Result<run::RunConfig> build_run_config(const ServiceMessage& request, const ServicePolicy& policy,
                                        const std::vector<int>& fds);

// Where the job's files are when the request says files=submit: the starter's Chirp IO proxy
// named by chirp_config, the text of the job's .chirp.config ("<ip> <port> <cookie>",
// io_proxy.cpp) that the wrapper read with the job's rights. Only a numeric loopback address is
// taken (the starter's proxy listens on 127.0.0.1), so a client cannot point the root service
// at another machine; the caller connects with the client's fsuid (sockets owned by the job's
// user). nullopt for files=scratch (the default). Errors are kInvalidArgument.
Result<std::optional<chirp::Endpoint>> submit_side_endpoint(const ServiceMessage& request);

// The descriptors an op=run carries: exactly three; the first a directory, the other two
// open for writing and not directories.
Result<void> check_request_fds(const std::vector<UniqueFd>& fds);

}  // namespace ringbox::host::service
