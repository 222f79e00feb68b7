#include "host/run/launch.h"

namespace ringbox::host::run {

Result<std::unique_ptr<Guest>> launch_guest(const RunConfig& cfg) {
  if (cfg.transport == "local" || cfg.transport == "tcp") return launch_local_guest(cfg);
  if (cfg.transport == "xen") return launch_xen_guest(cfg);
  return make_error(Errc::kInvalidArgument, "unknown transport '" + cfg.transport + "'");
}

}  // namespace ringbox::host::run
