#include "host/domain/xen_domain.h"

#include "host/domain/device_check.h"
#include "host/domain/domain_lookup.h"
#include "host/domain/libxl_config.h"
#include "shared/util/log.h"

extern "C" {
#include <libxl_utils.h>
}

namespace ringbox::host::domain {
namespace {

std::string describe_config(const DomainConfig& cfg) {
  std::string s = std::to_string(cfg.memory_mib) + " MiB, " + std::to_string(cfg.vcpus) + " vCPU" +
                  (cfg.vcpus == 1 ? "" : "s");
  s += cfg.pin_cpu ? ", pinned to pCPU " + std::to_string(*cfg.pin_cpu) : ", not pinned";
  return s + ", kernel " + cfg.kernel + ", ramdisk " + cfg.ramdisk;
}

Result<void> check_pin_cpu(const LibxlContext& ctx, const DomainConfig& cfg) {
  if (!cfg.pin_cpu) return ok();
  int online = libxl_get_online_cpus(ctx.get());
  if (online <= 0)
    return make_error(Errc::kSystem, "cannot count this host's physical CPUs (libxl: " +
                                         libxl_rc_name(online) + ")");
  if (*cfg.pin_cpu >= static_cast<uint32_t>(online))
    return make_error(Errc::kInvalidArgument,
                      "cannot pin to physical CPU " + std::to_string(*cfg.pin_cpu) +
                          ": this host has " + std::to_string(online) + " online (0.." +
                          std::to_string(online - 1) + "; see xl info)");
  return ok();
}

Result<void> check_name_free(const LibxlContext& ctx, const std::string& name) {
  uint32_t existing = 0;
  // libxl would refuse a duplicate too, but only after loading the kernel.
  if (libxl_name_to_domid(ctx.get(), name.c_str(), &existing) == 0)
    return make_error(Errc::kInvalidArgument,
                      "a domain named " + name + " already exists (domain " +
                          std::to_string(existing) + "); choose another --name or destroy it");
  return ok();
}

}  // namespace

XenDomain::XenDomain(LibxlContext ctx, DomainReaper reaper, uint32_t domid, std::string name,
                     libxl_uuid uuid)
    : ctx_(std::move(ctx)),
      reaper_(std::move(reaper)),
      domid_(domid),
      name_(std::move(name)),
      uuid_(uuid),
      owned_(true) {}

XenDomain::XenDomain(XenDomain&& o) noexcept
    : ctx_(std::move(o.ctx_)),
      reaper_(std::move(o.reaper_)),
      domid_(std::exchange(o.domid_, kNoDomid)),
      name_(std::move(o.name_)),
      uuid_(o.uuid_),
      owned_(std::exchange(o.owned_, false)) {}

XenDomain& XenDomain::operator=(XenDomain&& o) noexcept {
  if (this != &o) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (owned_) {
        auto r = destroy_locked();
        if (!r) log::error(r.error().message());
      }
    }
    ctx_ = std::move(o.ctx_);
    reaper_ = std::move(o.reaper_);
    domid_ = std::exchange(o.domid_, kNoDomid);
    name_ = std::move(o.name_);
    uuid_ = o.uuid_;
    owned_ = std::exchange(o.owned_, false);
  }
  return *this;
}

XenDomain::~XenDomain() {
  auto r = destroy();
  // The reaper is still armed after a failed destroy; it tries again once we are gone.
  if (!r) log::error(r.error().message());
}

XenDomain::operator bool() const {
  std::lock_guard<std::mutex> lock(mu_);
  return owned_;
}

std::string XenDomain::uuid() const {
  return uuid_to_string(uuid_);
}

std::string XenDomain::console_log_hint() const {
  return "/var/log/xen/console/guest-" + name_ + ".log";
}

Result<XenDomain> XenDomain::create(const DomainConfig& cfg, const CreateOptions& opts) {
  return build(cfg, opts, -1);
}

Result<XenDomain> XenDomain::restore(const DomainConfig& cfg, int restore_fd,
                                     const CreateOptions& opts) {
  if (restore_fd < 0) return make_error(Errc::kInvalidArgument, "no restore stream to read");
  return build(cfg, opts, restore_fd);
}

Result<XenDomain> XenDomain::build(const DomainConfig& cfg, const CreateOptions& opts,
                                   int restore_fd) {
  RINGBOX_TRY(validate_domain_config(cfg));
  const std::string name = cfg.name.empty() ? default_domain_name() : cfg.name;
  auto cmdline = guest_cmdline(cfg);
  if (!cmdline) return std::move(cmdline.error());
  if (!looks_like_elf(cfg.kernel))
    log::warn("guest kernel " + cfg.kernel +
              " is not an ELF vmlinux; libxenguest will "
              "decompress it in dom0, which is slow (use the image's vmlinux)");

  auto ctx = LibxlContext::open(xtl_level_for(log::level()));
  if (!ctx) return std::move(ctx.error());
  RINGBOX_TRY(check_pin_cpu(*ctx, cfg));
  RINGBOX_TRY(check_name_free(*ctx, name));

  PvDomainSpec spec{&cfg, name, *cmdline, {}};
  libxl_uuid_generate(&spec.uuid);
  const std::string uuid_text = uuid_to_string(spec.uuid);
  // Armed before the domain exists: from here on, our death means its destruction.
  auto reaper = DomainReaper::spawn({uuid_text, name}, opts.reaper_exe);
  if (!reaper) return std::move(reaper.error());

  LibxlDomainConfig config;
  RINGBOX_TRY(fill_pv_config(ctx->get(), spec, config.get()));
  uint32_t domid = kNoDomid;
  int rc;
  if (restore_fd < 0) {
    rc = libxl_domain_create_new(ctx->get(), config.get(), &domid, nullptr, nullptr);
  } else {
    libxl_domain_restore_params params;
    libxl_domain_restore_params_init(&params);
    params.checkpointed_stream = LIBXL_CHECKPOINTED_STREAM_NONE;
    params.stream_version = 2;  // what libxl_domain_suspend writes (LIBXL_HAVE_SRM_V2)
    rc = libxl_domain_create_restore(ctx->get(), config.get(), &domid, restore_fd, -1, &params,
                                     nullptr, nullptr);
    libxl_domain_restore_params_dispose(&params);
  }
  if (rc != 0) {
    // libxl destroys what it half-built; a leftover with our UUID (ERROR_ABORTED) goes too.
    auto leftovers = destroy_domains_with_uuid(*ctx, spec.uuid);
    if (leftovers) {
      auto released = reaper->release();
      if (!released) log::warn(released.error().message());
    }  // else the reaper, dropped unreleased, tries once more
    if (restore_fd >= 0)
      return make_error(Errc::kSystem,
                        "libxl could not restore domain " + name + ": " + libxl_rc_name(rc) +
                            "; see the libxl messages above (a damaged or truncated restore "
                            "file, or a --memory-mib other than the saved domain's)");
    return make_error(Errc::kSystem,
                      "libxl could not create domain " + name + ": " + libxl_rc_name(rc) +
                          "; see the libxl messages above (common causes: not enough free "
                          "memory, see `xl info`; a kernel or ramdisk libxenguest cannot load)");
  }
  XenDomain domain(std::move(*ctx), std::move(*reaper), domid, name, spec.uuid);
  auto told = domain.reaper_.announce_domid(domid);
  if (!told) log::warn("could not tell the domain reaper the domain id: " + told.error().message());

  // The domain is still paused: nothing in it has run when this check decides.
  auto devices = check_no_devices(domid);
  if (!devices) return std::move(devices.error());  // ~XenDomain destroys it
  rc = libxl_domain_unpause(domain.ctx_.get(), domid, nullptr);
  if (rc != 0)
    return make_error(Errc::kSystem, "unpause domain " + std::to_string(domid) + " (" + name +
                                         "): libxl_domain_unpause failed: " + libxl_rc_name(rc));
  log::info(std::string(restore_fd < 0 ? "created" : "restored") + " domain " +
            std::to_string(domid) + " (" + name + ", uuid " + uuid_text +
            "): " + describe_config(cfg) + "; no NIC, no disk");
  return domain;
}

Result<ExitReason> XenDomain::wait_for_exit(int timeout_ms, int cancel_fd) const {
  if (domid_ == kNoDomid) return make_error(Errc::kInvalidArgument, "no domain to wait for");
  return wait_for_domain_exit(ctx_, domid_, timeout_ms, cancel_fd);
}

Result<void> XenDomain::destroy() {
  std::lock_guard<std::mutex> lock(mu_);
  return destroy_locked();
}

Result<void> XenDomain::destroy_locked() {
  if (!owned_) return ok();
  auto gone = destroy_if_ours(ctx_, domid_, uuid_);
  if (!gone)
    return make_error(gone.error().code, "destroy domain " + std::to_string(domid_) + " (" + name_ +
                                             "): " + gone.error().message() +
                                             "; the domain reaper (pid " +
                                             std::to_string(reaper_.pid()) +
                                             ") retries when this process exits, "
                                             "or run: xl destroy " +
                                             std::to_string(domid_));
  owned_ = false;
  remove_backend_dir(domid_);
  log::info(*gone ? "destroyed domain " + std::to_string(domid_) + " (" + name_ + ")"
                  : "domain " + std::to_string(domid_) + " (" + name_ + ") was already gone");
  auto released = reaper_.release();
  // Harmless: the domain is gone, an unreleased reaper finds nothing to destroy.
  if (!released) log::warn("standing the domain reaper down: " + released.error().message());
  return ok();
}

Result<void> XenDomain::save(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!owned_) return make_error(Errc::kInvalidArgument, "no domain to save");
  resumed_ = false;
  int rc = libxl_domain_suspend(ctx_.get(), domid_, fd, 0, nullptr);
  if (rc != 0) {
    int back = libxl_domain_resume(ctx_.get(), domid_, /*suspend_cancel=*/1, nullptr);
    resumed_ = back == 0;
    return make_error(Errc::kSystem,
                      "save domain " + std::to_string(domid_) + " (" + name_ +
                          "): libxl_domain_suspend failed: " + libxl_rc_name(rc) +
                          (back == 0 ? "; the domain runs on"
                                     : "; resuming it failed too: " + libxl_rc_name(back)));
  }
  log::info("saved domain " + std::to_string(domid_) + " (" + name_ + ")");
  return destroy_locked();
}

bool XenDomain::resumed_after_failed_save() const {
  std::lock_guard<std::mutex> lock(mu_);
  return owned_ && resumed_;
}

Result<void> XenDomain::set_memory_target(uint64_t target_kib, int wait_s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!owned_) return make_error(Errc::kInvalidArgument, "no domain to balloon");
  int rc = libxl_set_memory_target(ctx_.get(), domid_, static_cast<int64_t>(target_kib), 0, 1);
  if (rc != 0)
    return make_error(Errc::kSystem, "set the memory target of domain " + std::to_string(domid_) +
                                         " to " + std::to_string(target_kib) +
                                         " KiB: " + libxl_rc_name(rc));
  if (wait_s <= 0) return ok();
  rc = libxl_wait_for_memory_target(ctx_.get(), domid_, wait_s);
  if (rc != 0)
    return make_error(Errc::kTimeout, "domain " + std::to_string(domid_) + " did not reach " +
                                          std::to_string(target_kib) + " KiB within " +
                                          std::to_string(wait_s) + " s: " + libxl_rc_name(rc));
  return ok();
}

Result<void> XenDomain::release() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!owned_) return ok();
  auto released = reaper_.release();
  // A reaper that already died cannot destroy anything: the hand-over holds all the same.
  if (!released && released.error().code == Errc::kPeerGone)
    log::warn("domain reaper: " + released.error().message());
  else if (!released)
    return make_error(released.error().code, "hand over domain " + std::to_string(domid_) + " (" +
                                                 name_ + "): " + released.error().message());
  owned_ = false;
  log::info("released domain " + std::to_string(domid_) + " (" + name_ +
            "): it keeps running and ringbox-host no longer destroys it");
  return ok();
}

}  // namespace ringbox::host::domain
