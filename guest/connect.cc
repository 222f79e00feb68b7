#include "guest/connect.h"

#include <cstdlib>

#include "shared/rpc/ring_client.h"
#include "shared/transport/local/local_channel.h"
#include "shared/transport/tcp/stream_rpc.h"
#include "shared/transport/tcp/tcp_socket.h"
#include "shared/transport/xen/xen_channel.h"

namespace ringbox::guest {
namespace {

// The host's connection token for this agent (ringbox_proto.h, kStreamTokenBytes), taken out
// of the environment so that nothing the agent starts inherits it.
Result<std::string> take_connect_token() {
  const char* t = std::getenv(proto::kConnectTokenEnv);
  if (t == nullptr) return std::string();
  std::string token(t);
  ::unsetenv(proto::kConnectTokenEnv);
  if (token.size() != proto::kStreamTokenBytes)
    return make_error(Errc::kInvalidArgument,
                      std::string(proto::kConnectTokenEnv) + " must hold exactly " +
                          std::to_string(proto::kStreamTokenBytes) + " bytes");
  return token;
}

}  // namespace

Result<std::unique_ptr<rpc::Client>> connect_to_host(const ConnectConfig& cfg) {
  std::unique_ptr<rpc::Client> client;
  if (cfg.transport == Transport::kLocal) {
    auto ch = transport::local_connect(cfg.address, cfg.geometry);
    if (!ch) return std::move(ch.error());
    auto rc = rpc::RingClient::create(std::move(*ch), rpc::ClientOptions{cfg.spin_us});
    if (!rc) return std::move(rc.error());
    client = std::move(*rc);
  } else if (cfg.transport == Transport::kTcp) {
    auto hp = transport::parse_host_port(cfg.address);
    if (!hp) return std::move(hp.error());
    auto token = take_connect_token();
    if (!token) return std::move(token.error());
    auto dial = [hp = *hp, token = *token]() -> Result<UniqueFd> {
      auto fd = transport::tcp_connect(hp);
      if (!fd) return fd;
      if (!token.empty()) RINGBOX_TRY(transport::write_all(fd->get(), token.data(), token.size()));
      return fd;
    };
    // A wrong address fails in negotiate_version below, the pool's first dial.
    client = std::make_unique<transport::StreamClient>(dial, kMaxTcpConnections);
  } else if (cfg.transport == Transport::kXen) {
    transport::XenConnectOptions xen{cfg.connect_timeout_ms, cfg.reconnect_timeout_ms,
                                     cfg.on_quiesce, cfg.on_resume};
    auto ch = transport::xen_connect(cfg.geometry, xen);
    if (!ch) return std::move(ch.error());
    auto rc = rpc::RingClient::create(std::move(*ch), rpc::ClientOptions{cfg.spin_us});
    if (!rc) return std::move(rc.error());
    client = std::move(*rc);
  } else {
    return make_error(
        Errc::kInvalidArgument,
        "unknown transport '" + transport_name(cfg.transport) + "' (use local, tcp or xen)");
  }
  auto v = rpc::negotiate_version(*client, cfg.features);
  if (!v) return std::move(v.error());
  return client;
}

}  // namespace ringbox::guest
