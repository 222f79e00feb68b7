// The "no NIC, no disk, ever" check, made against xenstore after libxl has built a domain and
// before it is unpaused: the guest's device directory and dom0's backend directories must show
// no network or block device for it. ringbox domains reach the outside world only through the
// ring; a vif would let a hostile job talk to the network, a vbd would hand it a disk.
//
// The libxl config never lists a NIC or a disk (XenDomain builds it with none); this check is
// the independent proof, against what the toolstack actually wrote, that nothing (a libxl
// default, a changed library, a hotplug script) added one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "shared/util/result.h"

namespace ringbox::host::domain {

// Device classes a ringbox domain may have under /local/domain/<id>/device: only "suspend"
// (the event channel libxl sets up for save/restore), which carries no data.
bool device_class_allowed(const std::string& device_class);

// The names in `device_classes` that are not allowed, e.g. {"vif", "vbd"}.
std::vector<std::string> forbidden_device_classes(const std::vector<std::string>& device_classes);

// Reads xenstore and fails, naming every offending node, when domain `domid` has a device
// class other than "suspend", or dom0 has a vif/vbd/qdisk/vbd3/vscsi/9pfs backend for it.
Result<void> check_no_devices(uint32_t domid);

}  // namespace ringbox::host::domain
