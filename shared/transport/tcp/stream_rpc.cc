#include "shared/transport/tcp/stream_rpc.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstring>

#include <string>

#include "shared/transport/tcp/tcp_socket.h"

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
  ssize_t n;
  do {
    // MSG_NOSIGNAL: a peer that went away is an error to report, not a SIGPIPE that kills us.
    n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
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
  proto::RequestSlot s{};
  s.id = id;
  s.opcode = static_cast<uint16_t>(c.opcode);
  s.flags = c.flags;
  s.buf_len = static_cast<uint32_t>(c.out.size());
  s.in_len = static_cast<uint32_t>(c.in.size());
  for (int i = 0; i < 4; ++i) s.arg[i] = c.arg[i];
  RINGBOX_TRY(write_frame(fd, proto::FrameKind::kRequest, &s, sizeof(s), c.in));
  auto h = read_header(fd, proto::FrameKind::kResponse);
  if (!h) return std::move(h.error());
  proto::ResponseSlot r;
  RINGBOX_TRY(read_all(fd, &r, sizeof(r)));
  if (r.id != s.id || r.out_len != h->payload_len || r.out_len > c.out.size())
    return make_error(Errc::kPeerBroken,
                      "TCP response does not match request " + std::to_string(s.id));
  RINGBOX_TRY(read_all(fd, c.out.data(), r.out_len));
  return rpc::Reply{r.status, r.out_len, {r.val[0], r.val[1]}};
}

Result<void> serve_stream(int fd, rpc::Handler& handler, const std::atomic<bool>* stop) {
  std::vector<std::byte> in, out;
  while (stop == nullptr || !stop->load()) {
    auto h = read_header(fd, proto::FrameKind::kRequest);
    if (!h) return h.error().code == Errc::kPeerGone ? ok() : Result<void>(std::move(h.error()));
    proto::RequestSlot s;
    RINGBOX_TRY(read_all(fd, &s, sizeof(s)));
    if (s.in_len != h->payload_len || s.buf_off != 0 || s.buf_len > proto::kMaxStreamPayload ||
        s.reserved0 != 0 || s.reserved1 != 0)
      return make_error(Errc::kPeerBroken, "malformed request frame on TCP connection");
    in.resize(s.in_len);
    RINGBOX_TRY(read_all(fd, in.data(), in.size()));
    out.resize(s.buf_len);
    rpc::Request req;
    req.id = s.id;
    req.opcode = s.opcode;
    req.flags = s.flags;
    for (int i = 0; i < 4; ++i) req.arg[i] = s.arg[i];
    req.in = rpc::SharedBytes(in);
    req.out = out;
    rpc::Reply rep = handler.handle(req);
    proto::ResponseSlot r{};
    r.id = s.id;
    r.status = rep.status;
    r.out_len = rep.status == 0 ? std::min<uint32_t>(rep.out_len, s.buf_len) : 0;
    r.val[0] = rep.val[0];
    r.val[1] = rep.val[1];
    RINGBOX_TRY(write_frame(fd, proto::FrameKind::kResponse, &r, sizeof(r),
                            std::span<const std::byte>(out).first(r.out_len)));
  }
  return ok();
}

}  // namespace ringbox::transport
