// Loading the kernel modules the agent needs, from the guest image's flat module directory.
//
// Debian builds the Xen device drivers as modules without device aliases, so opening
// /dev/xen/gntalloc loads nothing: the agent loads what it needs itself with finit_module(2),
// from <dir>/<name>.ko (kernel-image/build-guest-image installs them uncompressed, with their
// dependencies, in /lib/modules/ringbox). A module whose device already exists, or that the
// kernel reports as already loaded (EEXIST), is skipped; a kernel with the driver built in
// works without the file.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "shared/util/result.h"

namespace ringbox::guest {

inline constexpr char kDefaultModuleDir[] = "/lib/modules/ringbox";

struct KernelModule {
  std::string name;    // file name without .ko, e.g. "xen-gntalloc"
  std::string device;  // the node it provides ("/dev/xen/gntalloc"), or empty
  std::string params;  // module parameters, e.g. "limit=2048", or empty
};

enum class ModuleOutcome { kLoaded, kAlreadyPresent };

// Loads one module unless it is already present.
Result<ModuleOutcome> load_module(std::string_view dir, const KernelModule& m);

// The modules the xen transport's frontend needs, in load order. `gntalloc_pages`: the pages
// this agent will grant; when they exceed the driver's default limit, the limit is raised in
// the parameters (only effective if this call is what loads xen-gntalloc).
std::vector<KernelModule> xen_frontend_modules(size_t gntalloc_pages);

// Loads each module in order; stops at the first failure.
Result<void> load_modules(std::string_view dir, const std::vector<KernelModule>& modules);

}  // namespace ringbox::guest
