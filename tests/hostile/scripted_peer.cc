#include "tests/hostile/scripted_peer.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>

#include "shared/ring/shared_memory.h"
#include "tests/support/ring_fixture.h"

namespace ringbox::test {

ScriptedPeer::ScriptedPeer(rpc::Handler& handler, rpc::ServerOptions opts, bool hello) {
  ChannelPair pair = make_local_pair(geometry_);
  frontend_ = std::move(pair.frontend);
  auto view = ring::view_region(frontend_->region(), geometry_);
  REQUIRE(view);
  view_ = *view;
  auto server = rpc::RingServer::create(std::move(pair.backend), handler, opts);
  REQUIRE(server);
  server_ = std::move(*server);
  server_thread_ = std::thread([this] {
    server_result_ = server_->serve();
    server_done_ = true;
  });
  if (hello) {
    auto r = call(proto::Opcode::kHello, "", {proto::kVersionMin, proto::kVersionMax, 0, 0});
    REQUIRE(r.status == 0);
  }
}

ScriptedPeer::~ScriptedPeer() {
  if (server_) server_->stop();
  if (server_thread_.joinable()) server_thread_.join();
  server_.reset();
}

uint32_t ScriptedPeer::stage(const proto::RequestSlot& slot, std::string_view payload) {
  const uint32_t index = req_prod_++;
  ring::copy_to_shared(&request_slot(index), &slot, sizeof(slot));
  const uint64_t end = uint64_t{slot.buf_off} + payload.size();
  if (!payload.empty() && end <= data().size())
    ring::copy_to_shared(data().data() + slot.buf_off, payload.data(), payload.size());
  return index;
}

void ScriptedPeer::publish(uint32_t prod) {
  // release: slots and payloads are visible /before/ the index that publishes them
  ring::store_release(view_.control->req_prod, prod);
  REQUIRE(frontend_->doorbell().ring());
}

std::optional<proto::ResponseSlot> ScriptedPeer::next_response(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    // acquire: the response slot is read /after/ the index that covers it
    uint32_t prod = ring::load_acquire(view_.control->rsp_prod);
    if (prod != rsp_cons_) {
      auto r = ring::copy_struct_from_shared(view_.responses[rsp_cons_ & mask()]);
      ++rsp_cons_;
      return r;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return std::nullopt;
}

proto::ResponseSlot ScriptedPeer::call(proto::Opcode op, std::string_view payload,
                                       std::array<uint64_t, 4> arg, uint16_t flags,
                                       uint32_t buf_len) {
  REQUIRE(payload.size() <= buf_len);
  proto::RequestSlot s{};
  s.id = next_id_++;
  s.opcode = static_cast<uint16_t>(op);
  s.flags = flags;
  s.buf_off = buffer_of(req_prod_);
  s.buf_len = buf_len;
  s.in_len = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) s.arg[i] = arg[i];
  uint32_t index = stage(s, payload);
  publish(index + 1);
  auto r = next_response();
  REQUIRE(r.has_value());
  CHECK(r->id == s.id);
  CHECK(r->out_len <= buf_len);
  return *r;
}

std::string ScriptedPeer::payload(const proto::ResponseSlot& r, uint32_t buf_off) {
  REQUIRE(uint64_t{buf_off} + r.out_len <= data().size());
  std::string s(r.out_len, '\0');
  ring::copy_from_shared(s.data(), data().data() + buf_off, r.out_len);
  return s;
}

bool ScriptedPeer::host_answers() {
  if (!serving()) return false;
  const std::string probe = "still there? #" + std::to_string(next_id_);
  const uint32_t buf = buffer_of(req_prod_);
  auto r = call(proto::Opcode::kPing, probe);
  return r.status == 0 && payload(r, buf) == probe;
}

Result<void> ScriptedPeer::wait_server(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!server_done_ && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!server_done_) return make_error(Errc::kTimeout, "serve() did not return");
  server_thread_.join();
  return server_result_;
}

void ScriptedPeer::disconnect() {
  ring::store_byte(view_.control->frontend_live, 0);
  view_ = {};
  frontend_.reset();  // closes the socket and the eventfds: the host's doorbell sees it
}

}  // namespace ringbox::test
