#include "host/serve.h"

#include "shared/transport/local/local_channel.h"
#include "shared/transport/tcp/stream_server.h"
#include "shared/transport/tcp/tcp_socket.h"
#include "shared/transport/xen/xen_channel.h"
#include "shared/util/log.h"

namespace ringbox::host {

Result<void> serve_one(const ServeConfig& cfg, rpc::Handler& handler) {
  if (cfg.transport == Transport::kLocal) {
    auto listener = transport::LocalListener::listen(cfg.address);
    if (!listener) return std::move(listener.error());
    log::info("waiting for an agent on " + cfg.address);
    auto sock = listener->accept_socket(cfg.accept_timeout_ms);
    if (!sock) return std::move(sock.error());
    auto channel = transport::local_accept(std::move(*sock));
    if (!channel) return std::move(channel.error());
    auto server = rpc::RingServer::create(std::move(*channel), handler, cfg.server);
    if (!server) return std::move(server.error());
    return (*server)->serve();
  }
  if (cfg.transport == Transport::kTcp) {
    auto hp = transport::parse_host_port(cfg.address);
    if (!hp) return std::move(hp.error());
    auto listen_fd = transport::tcp_listen(*hp);
    if (!listen_fd) return std::move(listen_fd.error());
    log::info("waiting for an agent on tcp " + cfg.address);
    // Every connection the agent opens, until it closed them all. No token: this is the
    // benchmark's listener, which answers only the session opcodes (ping, bulk with --bench).
    transport::StreamServerOptions sopts;
    sopts.features = cfg.server.features;
    sopts.first_connection_timeout_ms = cfg.accept_timeout_ms;
    transport::StreamServer server(std::move(*listen_fd), handler, std::move(sopts));
    return server.serve();
  }
  if (cfg.transport == Transport::kXen) {
    log::info("waiting for the ringbox agent of domain " + std::to_string(cfg.domid));
    auto channel = transport::xen_accept(cfg.domid, cfg.accept_timeout_ms);
    if (!channel) return std::move(channel.error());
    auto server = rpc::RingServer::create(std::move(*channel), handler, cfg.server);
    if (!server) return std::move(server.error());
    return (*server)->serve();
  }
  return make_error(Errc::kInvalidArgument, "unknown transport '" + transport_name(cfg.transport) +
                                                "' (use local, tcp or xen)");
}

}  // namespace ringbox::host
