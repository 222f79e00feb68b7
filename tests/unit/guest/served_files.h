// A real host file service for the guest's unit tests: a TempTree export served by the real
// FileService behind a real RingServer, and a RingClient over a local (memfd + eventfd) channel
// that has negotiated the protocol. The export on disk is the reference the tests compare with.
#pragma once

#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <thread>

#include "host/files/file_service.h"
#include "shared/rpc/ring_client.h"
#include "shared/rpc/ring_server.h"
#include "tests/support/ring_fixture.h"
#include "tests/unit/host/files/temp_tree.h"

namespace ringbox::test {

// File opcodes to the FileService, the session opcodes to the shared session handler.
class FileRouter final : public rpc::Handler {
 public:
  explicit FileRouter(host::files::FileService& files) : files_(files) {}
  rpc::Reply handle(const rpc::Request& req) override {
    if (!host::files::FileService::owns_opcode(req.opcode)) return rpc::handle_session_opcode(req);
    if (intercept) return intercept(req, files_);
    return files_.handle(req);
  }
  // Set before the calls it is for: sees each file request first and answers it (a test's
  // stand-in for what happens around the real service: a host replaced, a request replayed).
  std::function<rpc::Reply(const rpc::Request&, host::files::FileService&)> intercept;

 private:
  host::files::FileService& files_;
};

class ServedFiles {
 public:
  // 16 slots, 64 KiB data area: one message holds 16 KiB, so bigger transfers take chunks.
  explicit ServedFiles(ring::Geometry g = {4, 16}) {
    host::files::FileServiceConfig cfg;
    cfg.export_dir = tree.export_dir;
    cfg.policy = host::files::Policy::read_write();
    auto s = host::files::FileService::create(std::move(cfg));
    REQUIRE(s);
    files = std::move(*s);
    router = std::make_unique<FileRouter>(*files);
    auto pair = make_local_pair(g);
    auto server = rpc::RingServer::create(std::move(pair.backend), *router, {.spin_us = 10});
    REQUIRE(server);
    server_ = std::move(*server);
    thread_ = std::thread([this] { (void)server_->serve(); });
    auto c = rpc::RingClient::create(std::move(pair.frontend), {10});
    REQUIRE(c);
    client = std::move(*c);
    REQUIRE(rpc::negotiate_version(*client));
  }
  ~ServedFiles() {
    client.reset();  // the frontend goes: serve() returns
    server_->stop();
    thread_.join();
  }

  TempTree tree;
  std::unique_ptr<host::files::FileService> files;
  std::unique_ptr<FileRouter> router;
  std::unique_ptr<rpc::RingClient> client;

 private:
  std::unique_ptr<rpc::RingServer> server_;
  std::thread thread_;
};

}  // namespace ringbox::test
