// The admin's policy for ringbox's root service (`ringbox-host daemon --policy FILE`, default
// /etc/ringbox/hostd.conf; the format is in docs/condor.md): which local users may run jobs,
// how many guests at once, the memory and vCPU caps, the transport and the guest images.
//
// One `key = value` per line, `#` starts a comment. Unknown keys, bad numbers and repeated
// keys are errors with the line number, so a typo stops the service at start instead of
// loosening the policy. Who calls it: the daemon (host/service/daemon.cc), once at start.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "shared/transport/transport_kind.h"
#include "shared/util/result.h"

namespace ringbox::host::service {

struct GuestImage {
  std::string kernel;
  std::string ramdisk;
};

struct ServicePolicy {
  Transport transport = Transport::kXen;  // xen | local (local isolates nothing: tests only)
  std::vector<std::string> allow_users;   // names; "*" = every user but root
  std::vector<std::string> allow_groups;
  uint32_t max_domains = 4;  // guests at once, all users
  uint32_t max_domains_per_user = 4;
  uint32_t max_memory_mib = 4096;  // per guest
  uint32_t max_vcpus = 4;          // per guest
  uint32_t default_memory_mib = 512;
  bool allow_root_in_guest = true;           // xen only: the job may run as root inside its domain
  std::map<std::string, GuestImage> images;  // "default" unless the file names others
  std::string agent;                         // local: ringbox-agent (default: beside us)
  uint32_t max_output_mb = 1024;             // per stream

  // The user with these credentials may run jobs (by name, "*" or a group). Root only when
  // named explicitly.
  bool allows(uid_t uid, const std::vector<gid_t>& groups) const;
};

// Parses the policy text. `origin` names it in errors ("/etc/ringbox/hostd.conf").
Result<ServicePolicy> parse_service_policy(const std::string& text, const std::string& origin);
Result<ServicePolicy> read_service_policy(const std::string& path);

}  // namespace ringbox::host::service
