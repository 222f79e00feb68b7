// The xen transport's Guest: one throw-away PV domain per job, created through libxl by
// domain::XenGuest (no NIC and no disk, proven against xenstore before it runs; a reaper
// destroys it if ringbox-host dies), whose init runs
//
//   ringbox-agent --job --transport xen [--cache-max-mb N] [--spin-us N]
//
// The agent's work directory is its default, /run/ringbox in the guest: a tmpfs, so the view,
// the lazy-file cache and eager inputs live in the domain's memory and vanish with it.
//
// This file only adapts: XenGuest already has run's Guest methods. What it adds is the agent's
// command line, and that cleanup() leaves nothing: the domain is destroyed by the time wait()
// returns, or by the destructor whatever happened before.
#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

#include "host/domain/xen_guest.h"
#include "host/run/launch.h"
#include "shared/transport/xen/vacate.h"
#include "shared/util/log.h"

namespace ringbox::host::run {
namespace {

// The guest image needs about 96 MiB to run (research notes on save/restore: 64 MiB got the
// job OOM-killed and the kernel panicked); ballooning is worth it only for a real gain.
constexpr uint64_t kBalloonFloorKib = 96 * 1024;
constexpr uint64_t kBalloonMinGainKib = 16 * 1024;
constexpr int kBalloonWaitS = 10;

class XenRunGuest final : public Guest {
 public:
  explicit XenRunGuest(std::unique_ptr<domain::XenGuest> guest) : guest_(std::move(guest)) {}

  Result<std::unique_ptr<rpc::Server>> connect(int timeout_ms, rpc::Handler& handler,
                                               const rpc::ServerOptions& opts) override {
    auto channel = guest_->connect(timeout_ms);
    if (!channel) return std::move(channel.error());
    auto server = rpc::RingServer::create(std::move(*channel), handler, opts);
    if (!server) return std::move(server.error());
    return std::unique_ptr<rpc::Server>(std::move(*server));
  }
  uint32_t xen_domid() const override { return guest_->domid(); }
  void kill() override { guest_->kill(); }
  std::string wait(int timeout_ms) override { return guest_->wait(timeout_ms); }
  void cleanup() override { guest_->cleanup(); }
  bool can_vacate() const override { return true; }
  Result<void> prepare_vacate(int timeout_ms) override {
    auto nonce = transport::xen::new_vacate_nonce();
    if (!nonce) return std::move(nonce.error());
    return transport::xen::request_vacate(guest_->domid(), *nonce, timeout_ms);
  }
  Result<void> save(int fd) override { return guest_->save(fd); }
  std::string shrink_for_save() override {
    auto need = transport::xen::read_vacate_need_kib(guest_->domid());
    const uint64_t full = uint64_t{memory_mib_} * 1024;
    if (!need) return "not shrunk (the guest did not say what it needs)";
    uint64_t target = std::clamp<uint64_t>(*need, kBalloonFloorKib, full);
    if (target + kBalloonMinGainKib > full) return "not shrunk (it needs nearly all of it)";
    auto t0 = std::chrono::steady_clock::now();
    auto r = guest_->set_memory_target(target, kBalloonWaitS);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!r) {
      // A saved target below what the domain still holds makes the restore fail ("Failed to
      // populate physmap", research notes): save it at full size instead.
      (void)guest_->set_memory_target(full, 0);
      return "not shrunk: " + r.error().message();
    }
    return "ballooned from " + std::to_string(full / 1024) + " to " +
           std::to_string(target / 1024) + " MiB in " + std::to_string(s).substr(0, 4) + " s";
  }
  void grow_after_restore() override {
    if (auto r = guest_->set_memory_target(uint64_t{memory_mib_} * 1024, 0); !r)
      log::warn("after the restore: " + r.error().message());
  }
  Result<void> cancel_vacate() override { return transport::xen::withdraw_vacate(guest_->domid()); }
  bool resumed_after_failed_save() const override {
    return guest_->domain().resumed_after_failed_save();
  }
  std::pair<uint32_t, uint32_t> memory_mib_and_vcpus() const override {
    return {memory_mib_, vcpus_};
  }
  uint32_t memory_mib_ = 0;
  uint32_t vcpus_ = 0;

 private:
  std::unique_ptr<domain::XenGuest> guest_;
};

}  // namespace

Result<std::unique_ptr<Guest>> launch_xen_guest(const RunConfig& cfg, int restore_fd) {
  domain::DomainConfig d = cfg.domain;
  d.agent_args = agent_job_args(cfg);
  auto guest = domain::XenGuest::launch(d, {}, restore_fd);
  if (!guest) return std::move(guest.error());
  auto g = std::make_unique<XenRunGuest>(std::move(*guest));
  g->memory_mib_ = d.memory_mib;
  g->vcpus_ = d.vcpus;
  return std::unique_ptr<Guest>(std::move(g));
}

}  // namespace ringbox::host::run
