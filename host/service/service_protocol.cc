#include "host/service/service_protocol.h"

#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>

#include "shared/util/file_io.h"

namespace ringbox::host::service {
namespace {

void put_u32(std::vector<std::byte>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
}

uint32_t get_u32(const std::byte* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}

// Waits until sock is readable or the deadline passes.
Result<void> wait_readable(int sock, std::chrono::steady_clock::time_point deadline, bool limited) {
  for (;;) {
    int ms = -1;
    if (limited) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) return make_error(Errc::kTimeout, "no complete message in time");
      ms = static_cast<int>(left);
    }
    pollfd p{sock, POLLIN, 0};
    int r = poll_retry(&p, 1, ms);
    if (r < 0) return sys_error("poll the service socket");
    if (r > 0) return ok();
  }
}

}  // namespace

std::string ServiceMessage::get(std::string_view key, std::string_view fallback) const {
  for (const auto& [k, v] : fields)
    if (k == key) return v;
  return std::string(fallback);
}

std::vector<std::string> ServiceMessage::all(std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : fields)
    if (k == key) out.push_back(v);
  return out;
}

bool ServiceMessage::has(std::string_view key) const {
  for (const auto& f : fields)
    if (f.first == key) return true;
  return false;
}

std::vector<std::byte> encode_service_message(const ServiceMessage& m) {
  std::vector<std::byte> out;
  for (const auto& [k, v] : m.fields) {
    for (const std::string* s : {&k, &v}) {
      put_u32(out, static_cast<uint32_t>(s->size()));
      const auto* b = reinterpret_cast<const std::byte*>(s->data());
      out.insert(out.end(), b, b + s->size());
    }
  }
  return out;
}

Result<ServiceMessage> decode_service_message(std::span<const std::byte> in) {
  if (in.size() > kMaxServiceMessageBytes)
    return make_error(Errc::kTooLarge, "service message of " + std::to_string(in.size()) +
                                           " bytes (limit " +
                                           std::to_string(kMaxServiceMessageBytes) + ")");
  ServiceMessage m;
  size_t off = 0;
  while (off < in.size()) {
    std::string kv[2];
    for (auto& s : kv) {
      if (in.size() - off < 4)
        return make_error(Errc::kProtocol, "service message: a field is cut short");
      uint32_t len = get_u32(in.data() + off);
      off += 4;
      if (len > in.size() - off)
        return make_error(Errc::kProtocol, "service message: a field of " + std::to_string(len) +
                                               " bytes overruns the message");
      s.assign(reinterpret_cast<const char*>(in.data() + off), len);
      off += len;
    }
    if (m.fields.size() >= kMaxServiceFields)
      return make_error(Errc::kTooLarge, "service message: more than " +
                                             std::to_string(kMaxServiceFields) + " fields");
    m.add(std::move(kv[0]), std::move(kv[1]));
  }
  return m;
}

Result<void> send_service_message(int sock, const ServiceMessage& m, std::span<const int> fds) {
  std::vector<std::byte> payload = encode_service_message(m);
  if (payload.size() > kMaxServiceMessageBytes)
    return make_error(Errc::kTooLarge, "the job's request is " + std::to_string(payload.size()) +
                                           " bytes, more than the service takes (" +
                                           std::to_string(kMaxServiceMessageBytes) + ")");
  if (fds.size() > kMaxServiceFds) return make_error(Errc::kInvalidArgument, "too many fds");
  std::vector<std::byte> frame;
  put_u32(frame, static_cast<uint32_t>(payload.size()));
  frame.insert(frame.end(), payload.begin(), payload.end());
  size_t sent = 0;
  while (sent < frame.size()) {
    iovec iov{frame.data() + sent, frame.size() - sent};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxServiceFds)] = {};
    if (sent == 0 && !fds.empty()) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    ssize_t n = retry_eintr([&] { return ::sendmsg(sock, &msg, MSG_NOSIGNAL); });
    if (n < 0) return sys_error("send to the ringbox service");
    sent += static_cast<size_t>(n);
  }
  return ok();
}

Result<ServiceMessage> recv_service_message(int sock, int timeout_ms, std::vector<UniqueFd>* fds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool limited = timeout_ms >= 0;
  std::byte head[4];
  size_t got = 0;
  while (got < sizeof(head)) {
    if (auto w = wait_readable(sock, deadline, limited); !w) return std::move(w.error());
    iovec iov{head + got, sizeof(head) - got};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxServiceFds)];
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = retry_eintr([&] { return ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); });
    if (n < 0) return sys_error("receive from the service socket");
    // Take ownership of every descriptor that came, whatever happens next.
    std::vector<UniqueFd> came;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        came.emplace_back(fd);
      }
    }
    if (msg.msg_flags & MSG_CTRUNC)
      return make_error(Errc::kProtocol, "more descriptors than a service message may carry");
    if (!came.empty()) {
      if (!fds || got != 0)
        return make_error(Errc::kProtocol, "descriptors on a message that takes none");
      for (auto& f : came) fds->push_back(std::move(f));
    }
    if (n == 0)
      return got == 0 ? make_error(Errc::kPeerGone, "the peer hung up")
                      : make_error(Errc::kProtocol, "the peer hung up inside a message");
    got += static_cast<size_t>(n);
  }
  uint32_t len = get_u32(head);
  if (len > kMaxServiceMessageBytes)
    return make_error(Errc::kTooLarge, "a service message of " + std::to_string(len) +
                                           " bytes (limit " +
                                           std::to_string(kMaxServiceMessageBytes) + ")");
  std::vector<std::byte> payload(len);
  got = 0;
  while (got < len) {
    if (auto w = wait_readable(sock, deadline, limited); !w) return std::move(w.error());
    ssize_t n = retry_eintr([&] { return ::recv(sock, payload.data() + got, len - got, 0); });
    if (n < 0) return sys_error("receive from the service socket");
    if (n == 0) return make_error(Errc::kProtocol, "the peer hung up inside a message");
    got += static_cast<size_t>(n);
  }
  return decode_service_message(payload);
}

}  // namespace ringbox::host::service
