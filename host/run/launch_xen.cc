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
#include <memory>
#include <string>

#include "host/domain/xen_guest.h"
#include "host/run/launch.h"

namespace ringbox::host::run {
namespace {

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
  void kill() override { guest_->kill(); }
  std::string wait(int timeout_ms) override { return guest_->wait(timeout_ms); }
  void cleanup() override { guest_->cleanup(); }

 private:
  std::unique_ptr<domain::XenGuest> guest_;
};

}  // namespace

Result<std::unique_ptr<Guest>> launch_xen_guest(const RunConfig& cfg) {
  domain::DomainConfig d = cfg.domain;
  d.agent_args = agent_job_args(cfg);
  auto guest = domain::XenGuest::launch(d);
  if (!guest) return std::move(guest.error());
  return std::unique_ptr<Guest>(std::make_unique<XenRunGuest>(std::move(*guest)));
}

}  // namespace ringbox::host::run
