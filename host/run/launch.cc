#include "host/run/launch.h"

#include <string>
#include <vector>

namespace ringbox::host::run {

std::vector<std::string> agent_job_args(const RunConfig& cfg) {
  std::vector<std::string> args = {"--job", "--transport", transport_name(cfg.transport)};
  if (cfg.cache_max_mb > 0) {
    args.push_back("--cache-max-mb");
    args.push_back(std::to_string(cfg.cache_max_mb));
  }
  if (cfg.spin_us != RunConfig{}.spin_us) {
    args.push_back("--spin-us");
    args.push_back(std::to_string(cfg.spin_us));
  }
  return args;
}

Result<std::unique_ptr<Guest>> launch_guest(const RunConfig& cfg) {
  if (cfg.transport == Transport::kLocal || cfg.transport == Transport::kTcp)
    return launch_local_guest(cfg);
  if (cfg.transport == Transport::kXen) return launch_xen_guest(cfg);
  return make_error(Errc::kInvalidArgument,
                    "unknown transport '" + transport_name(cfg.transport) + "'");
}

}  // namespace ringbox::host::run
