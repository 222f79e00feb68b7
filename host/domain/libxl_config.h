// Building the libxl_domain_config of a ringbox guest: a PV domain with a direct kernel boot,
// no NIC, no disk and no other device; on poweroff, reboot, watchdog, crash and soft reset the
// toolstack is to destroy it (a job domain is never restarted).
#pragma once

extern "C" {
#include <libxl.h>
}

#include <string>

#include "host/domain/domain_config.h"
#include "shared/util/result.h"

namespace ringbox::host::domain {

// Owner of a libxl_domain_config: init on construction, dispose on destruction. dispose()
// free()s every string and array in it, which is why fill_pv_config() copies strings with
// strdup() and allocates bitmaps through libxl.
class LibxlDomainConfig {
 public:
  LibxlDomainConfig() { libxl_domain_config_init(&config_); }
  LibxlDomainConfig(const LibxlDomainConfig&) = delete;
  LibxlDomainConfig& operator=(const LibxlDomainConfig&) = delete;
  ~LibxlDomainConfig() { libxl_domain_config_dispose(&config_); }
  libxl_domain_config* get() { return &config_; }

 private:
  libxl_domain_config config_;
};

struct PvDomainSpec {
  const DomainConfig* config;  // checked by validate_domain_config()
  std::string name;            // the final name (config->name or the default)
  std::string cmdline;         // guest_cmdline(*config)
  libxl_uuid uuid;             // chosen before creation, see reaper.h
};

// Fills a freshly initialised `out`. Fails if libxl cannot allocate a bitmap, or if `out`
// somehow lists a device (checked rather than assumed: the no-NIC rule is the point).
Result<void> fill_pv_config(libxl_ctx* ctx, const PvDomainSpec& spec, libxl_domain_config* out);

}  // namespace ringbox::host::domain
