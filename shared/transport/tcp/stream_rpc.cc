#include "shared/transport/tcp/stream_rpc.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstring>

#include <string>

#include "shared/rpc/request_check.h"
#include "shared/transport/tcp/tcp_socket.h"
#include "shared/util/file_io.h"
#include "shared/util/log.h"

namespace ringbox::transport {
namespace {

Result<void> write_frame(int fd, proto::FrameKind kind, const void* slot, size_t slot_len,
                         std::span<const std::byte> payload) {
  proto::FrameHeader h{proto::kMagic,
                       proto::kVersionMax,
                       static_cast<uint8_t>(kind),
                       0,
                       static_cast<uint32_t>(payload.size()),
                       0};
  // Gathered so header, slot and payload leave in one segment when they fit, with no copy.
  iovec iov[3] = {{&h, sizeof(h)},
                  {const_cast<void*>(slot), slot_len},
                  {const_cast<std::byte*>(payload.data()), payload.size()}};
  int count = payload.empty() ? 2 : 3;
  size_t total = sizeof(h) + slot_len + payload.size();
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = static_cast<size_t>(count);
  // MSG_NOSIGNAL: a peer that went away is an error to report, not a SIGPIPE that kills us.
  ssize_t n = retry_eintr([&] { return ::sendmsg(fd, &msg, MSG_NOSIGNAL); });
  if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
    return make_error(Errc::kPeerGone, "peer closed the TCP connection");
  if (n < 0) return sys_error("send frame on TCP connection");
  // A partial write (large payloads): continue from where the kernel stopped.
  size_t sent = static_cast<size_t>(n);
  for (int i = 0; i < count && sent < total; ++i) {
    size_t len = iov[i].iov_len;
    if (sent >= len) {
      sent -= len;
      total -= len;
      continue;
    }
    RINGBOX_TRY(write_all(fd, static_cast<char*>(iov[i].iov_base) + sent, len - sent));
    total -= len;
    sent = 0;
  }
  return ok();
}

Result<proto::FrameHeader> read_header(int fd, proto::FrameKind want) {
  proto::FrameHeader h;
  RINGBOX_TRY(read_all(fd, &h, sizeof(h)));
  if (h.magic != proto::kMagic || h.kind != static_cast<uint8_t>(want) || h.reserved0 != 0 ||
      h.reserved1 != 0 || h.version < proto::kVersionMin || h.version > proto::kVersionMax ||
      h.payload_len > proto::kMaxStreamPayload)
    return make_error(Errc::kPeerBroken, "malformed frame header on TCP connection (payload " +
                                             std::to_string(h.payload_len) + " bytes)");
  return h;
}

// The stream's buffer rule (the ring's is check_ring_request), then the shared steps.
rpc::Reply answer(const proto::RequestSlot& s, std::span<const std::byte> in,
                  std::vector<std::byte>& out, rpc::Session& session, rpc::Handler& handler,
                  std::string_view peer) {
  out.clear();
  if (auto fields = rpc::check_slot_fields(s); !fields) {
    log::warn("malformed request from " + std::string(peer) + ": " + fields.error().what);
    return rpc::Reply::error(proto::WireError::kProto);
  }
  if (s.in_len != in.size() || s.buf_off != 0 || s.buf_len > proto::kMaxStreamPayload) {
    log::warn("malformed request from " + std::string(peer) + ": in_len " +
              std::to_string(s.in_len) + ", buf_off " + std::to_string(s.buf_off) + ", buf_len " +
              std::to_string(s.buf_len) + " do not fit its frame");
    return rpc::Reply::error(proto::WireError::kProto);
  }
  out.resize(s.buf_len);
  const rpc::Request req = rpc::make_request(s, in, out);
  if (auto refusal = session.admit(req)) return *refusal;
  return rpc::invoke_handler(handler, req, peer);
}

}  // namespace

StreamClient::StreamClient(UniqueFd fd) : max_connections_(1), open_(1) {
  idle_.push_back(std::move(fd));
}

StreamClient::StreamClient(Dialer dial, size_t max_connections)
    : dial_(std::move(dial)), max_connections_(std::max<size_t>(1, max_connections)) {}

Result<UniqueFd> StreamClient::acquire() {
  std::unique_lock lk(mu_);
  for (;;) {
    if (!idle_.empty()) {
      UniqueFd fd = std::move(idle_.back());
      idle_.pop_back();
      return fd;
    }
    if (open_ < max_connections_ && dial_) break;
    if (open_ == 0) return make_error(Errc::kPeerGone, "the TCP connection to the host is gone");
    idle_cv_.wait(lk);
  }
  ++open_;
  lk.unlock();
  auto fd = dial_();
  // The host refuses everything before kHello on each connection: repeat the one that
  // negotiated this client's version and features (none yet when this dial is for it).
  if (auto args = hello_args(); fd && args) {
    rpc::Call hello;
    hello.opcode = proto::Opcode::kHello;
    hello.arg = *args;
    auto r = call_on(fd->get(), hello, next_id_++);
    Result<void> agreed = r ? rpc::check_repeated_hello(*this, *r) : Result<void>(r.error());
    if (!agreed) fd = std::move(agreed.error());
  }
  if (!fd) {
    lk.lock();
    --open_;
    idle_cv_.notify_one();
  }
  return fd;
}

void StreamClient::release(UniqueFd fd, bool healthy) {
  {
    std::lock_guard lk(mu_);
    if (healthy)
      idle_.push_back(std::move(fd));
    else
      --open_;
  }
  // A lost connection may have been the last one: every waiter must see that, not just one.
  if (healthy)
    idle_cv_.notify_one();
  else
    idle_cv_.notify_all();
}

Result<rpc::Reply> StreamClient::call(const rpc::Call& c) {
  if (c.in.size() > proto::kMaxStreamPayload || c.out.size() > proto::kMaxStreamPayload)
    return make_error(Errc::kTooLarge, "payload exceeds the TCP transport's message limit");
  auto fd = acquire();
  if (!fd) return std::move(fd.error());
  auto r = call_on(fd->get(), c, next_id_++);
  release(std::move(*fd), r.has_value());
  return r;
}

Result<rpc::Reply> StreamClient::call_on(int fd, const rpc::Call& c, uint64_t id) {
  const proto::RequestSlot s = rpc::encode_request(c, id, 0, static_cast<uint32_t>(c.out.size()));
  RINGBOX_TRY(write_frame(fd, proto::FrameKind::kRequest, &s, sizeof(s), c.in));
  auto h = read_header(fd, proto::FrameKind::kResponse);
  if (!h) return std::move(h.error());
  proto::ResponseSlot r;
  RINGBOX_TRY(read_all(fd, &r, sizeof(r)));
  if (r.id != s.id || r.out_len != h->payload_len)
    return make_error(Errc::kPeerBroken,
                      "TCP response does not match request " + std::to_string(s.id));
  auto reply = rpc::decode_response(r, c.out.size(), s.opcode);
  if (!reply) return reply;
  RINGBOX_TRY(read_all(fd, c.out.data(), r.out_len));
  return reply;
}

Result<void> serve_stream(int fd, rpc::Handler& handler, const StreamServeOptions& opts) {
  rpc::Session session(opts.features);
  std::vector<std::byte> in, out;
  while (opts.stop == nullptr || !opts.stop->load()) {
    auto h = read_header(fd, proto::FrameKind::kRequest);
    if (!h) return h.error().code == Errc::kPeerGone ? ok() : Result<void>(std::move(h.error()));
    proto::RequestSlot s;
    RINGBOX_TRY(read_all(fd, &s, sizeof(s)));
    in.resize(h->payload_len);  // <= kMaxStreamPayload (read_header)
    RINGBOX_TRY(read_all(fd, in.data(), in.size()));
    // The frame is consumed whole: a bad slot is answered, as on the ring, not fatal.
    rpc::Reply rep;
    try {
      rep = answer(s, in, out, session, handler, opts.peer);
    } catch (...) {  // the firewall's outer wall: our own code ran out of memory
      rep = rpc::Reply::error(proto::WireError::kIo);
    }
    const proto::ResponseSlot r = rpc::encode_response(s.id, rep);
    RINGBOX_TRY(write_frame(fd, proto::FrameKind::kResponse, &r, sizeof(r),
                            std::span<const std::byte>(out).first(r.out_len)));
  }
  return ok();
}

}  // namespace ringbox::transport
