// `ringbox-host boot`: create one ringbox guest domain through libxl and own it until it ends.
//
//   ringbox-host boot --kernel K --ramdisk R [--memory-mib M] [--vcpus N] [--pin-cpu C]
//       [--name NAME] [--kernel-args S] [--domid-file F] [--serve] [...]
//       [--agent-args ARG...]          (last: every word after it goes to ringbox-agent)
//
// Without --serve it waits for the domain to end (another process may serve it: `ringbox-host
// serve --transport xen --domid N` attaches without owning). With --serve it also accepts the
// agent over the Xen transport and serves it until the agent finishes. Either way it destroys
// the domain at the end, and exits 0 only if the domain powered itself off (and, with --serve,
// the agent was served without error). A boot that dies leaves the destruction to its reaper.
#pragma once

#include <string>
#include <vector>

namespace ringbox::host::domain {

int cmd_boot(const std::vector<std::string>& args);

}  // namespace ringbox::host::domain
