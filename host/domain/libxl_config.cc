#include "host/domain/libxl_config.h"

#include <cstdlib>
#include <cstring>

#include "host/domain/libxl_context.h"

extern "C" {
#include <libxl_utils.h>
}

namespace ringbox::host::domain {
namespace {

// libxl owns the copy and free()s it in libxl_domain_config_dispose().
Result<char*> libxl_string(const std::string& s, const char* what) {
  char* copy = ::strdup(s.c_str());
  if (copy == nullptr) return sys_error(std::string("copy ") + what + " for libxl");
  return copy;
}

int device_count(const libxl_domain_config& c) {
  return c.num_disks + c.num_nics + c.num_pcidevs + c.num_rdms + c.num_dtdevs + c.num_vfbs +
         c.num_vkbs + c.num_vtpms + c.num_p9s + c.num_pvcallsifs + c.num_vdispls + c.num_vsnds +
         c.num_channels + c.num_usbctrls + c.num_usbdevs;
}

}  // namespace

Result<void> fill_pv_config(libxl_ctx* ctx, const PvDomainSpec& spec, libxl_domain_config* out) {
  const DomainConfig& cfg = *spec.config;
  libxl_domain_create_info& c = out->c_info;
  c.type = LIBXL_DOMAIN_TYPE_PV;
  auto name = libxl_string(spec.name, "the domain name");
  if (!name) return std::move(name.error());
  c.name = *name;
  // Xen stores this as the domain handle at creation: the reaper finds the domain by it.
  libxl_uuid_copy(ctx, &c.uuid, &spec.uuid);

  libxl_domain_build_info& b = out->b_info;
  libxl_domain_build_info_init_type(&b, LIBXL_DOMAIN_TYPE_PV);
  b.max_vcpus = static_cast<int>(cfg.vcpus);
  int rc = libxl_cpu_bitmap_alloc(ctx, &b.avail_vcpus, static_cast<int>(cfg.vcpus));
  if (rc != 0) return make_error(Errc::kSystem, "allocate the vCPU bitmap: " + libxl_rc_name(rc));
  libxl_bitmap_set_none(&b.avail_vcpus);
  for (uint32_t i = 0; i < cfg.vcpus; ++i) libxl_bitmap_set(&b.avail_vcpus, static_cast<int>(i));
  b.max_memkb = static_cast<uint64_t>(cfg.memory_mib) * 1024;
  b.target_memkb = b.max_memkb;
  if (cfg.pin_cpu) {
    // One hard-affinity bitmap per vCPU, as xl builds them. Not b.cpumap: libxl 4.17 expands
    // that into vcpu_hard_affinity with memory it frees itself at the end of the create call,
    // and libxl_domain_config_dispose() then frees it a second time (heap corruption).
    // calloc because dispose() releases the array with free().
    auto* affinity = static_cast<libxl_bitmap*>(std::calloc(cfg.vcpus, sizeof(libxl_bitmap)));
    if (affinity == nullptr) return sys_error("allocate the vCPU affinity array");
    b.vcpu_hard_affinity = affinity;
    b.num_vcpu_hard_affinity = static_cast<int>(cfg.vcpus);
    for (uint32_t i = 0; i < cfg.vcpus; ++i) {
      libxl_bitmap_init(&affinity[i]);
      rc = libxl_cpu_bitmap_alloc(ctx, &affinity[i], 0);
      if (rc != 0)
        return make_error(Errc::kSystem, "allocate the CPU affinity bitmap: " + libxl_rc_name(rc));
      libxl_bitmap_set_none(&affinity[i]);
      libxl_bitmap_set(&affinity[i], static_cast<int>(*cfg.pin_cpu));
    }
    // libxl refuses NUMA placement together with an explicit affinity.
    libxl_defbool_set(&b.numa_placement, false);
  }
  auto kernel = libxl_string(cfg.kernel, "the kernel path");
  if (!kernel) return std::move(kernel.error());
  b.kernel = *kernel;
  auto ramdisk = libxl_string(cfg.ramdisk, "the ramdisk path");
  if (!ramdisk) return std::move(ramdisk.error());
  b.ramdisk = *ramdisk;
  auto cmdline = libxl_string(spec.cmdline, "the kernel command line");
  if (!cmdline) return std::move(cmdline.error());
  b.cmdline = *cmdline;

  // Nothing restarts a job domain: every way out ends in destroy (done by the owner, see
  // domain_exit.h; libxl only records these).
  out->on_poweroff = LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
  out->on_reboot = LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
  out->on_watchdog = LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
  out->on_crash = LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
  out->on_soft_reset = LIBXL_ACTION_ON_SHUTDOWN_DESTROY;

  // No NIC, no disk, no device of any kind: the arrays are empty because nothing above fills
  // them. Checked, not assumed, because a vif would give a hostile job the network.
  if (device_count(*out) != 0)
    return make_error(Errc::kInvalidArgument, "internal error: the libxl config of " + spec.name +
                                                  " lists devices; refusing to create it");
  return ok();
}

}  // namespace ringbox::host::domain
