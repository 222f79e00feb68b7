#include "shared/transport/local/local_channel.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <string_view>

#include "shared/ring/frontend_ring.h"
#include "shared/transport/local/eventfd_doorbell.h"
#include "shared/transport/local/fd_passing.h"
#include "shared/util/mapping.h"

namespace ringbox::transport {
namespace {

struct LocalHello {
  uint32_t magic;
  uint16_t version;
  uint16_t reserved;
  uint32_t ring_order;
  uint32_t data_pages;
};
static_assert(sizeof(LocalHello) == 16);
constexpr int kHandshakeTimeoutMs = 10000;

class LocalChannel final : public RingChannel {
 public:
  LocalChannel(UniqueFd socket, Mapping mapping, ring::Geometry g, UniqueFd kick_peer,
               UniqueFd kicked, std::string what)
      : socket_(std::move(socket)),
        mapping_(std::move(mapping)),
        geometry_(g),
        doorbell_(std::move(kick_peer), std::move(kicked), socket_.get()),
        what_(std::move(what)) {}
  std::span<std::byte> region() override { return mapping_.bytes(); }
  const ring::Geometry& geometry() const override { return geometry_; }
  Doorbell& doorbell() override { return doorbell_; }
  std::string describe() const override { return what_; }

 private:
  UniqueFd socket_;
  Mapping mapping_;
  ring::Geometry geometry_;
  EventfdDoorbell doorbell_;
  std::string what_;
};

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path))
    return make_error(Errc::kInvalidArgument,
                      "Unix socket path '" + path + "' is empty or longer than " +
                          std::to_string(sizeof(addr.sun_path) - 1) + " bytes");
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

Result<UniqueFd> make_eventfd() {
  UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd) return sys_error("create eventfd");
  return fd;
}

}  // namespace

Result<std::unique_ptr<RingChannel>> local_connect(UniqueFd socket, const ring::Geometry& g) {
  UniqueFd mem(::memfd_create("ringbox-region", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!mem) return sys_error("create memfd for the ring region");
  if (::ftruncate(mem.get(), static_cast<off_t>(g.region_bytes())) != 0)
    return sys_error("size memfd to " + std::to_string(g.region_bytes()) + " bytes");
  if (::fcntl(mem.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
    return sys_error("seal the ring memfd");
  auto mapping = Mapping::map_shared(mem.get(), g.region_bytes(), "ring region (frontend)");
  if (!mapping) return std::move(mapping.error());
  auto ring = ring::FrontendRing::create(mapping->bytes(), g);  // writes the control page
  if (!ring) return std::move(ring.error());
  auto to_backend = make_eventfd();
  if (!to_backend) return std::move(to_backend.error());
  auto to_frontend = make_eventfd();
  if (!to_frontend) return std::move(to_frontend.error());

  LocalHello hello{proto::kMagic, proto::kVersionMax, 0, g.ring_order, g.data_pages};
  std::array<int, 3> fds = {mem.get(), to_backend->get(), to_frontend->get()};
  RINGBOX_TRY(send_with_fds(socket.get(), std::as_bytes(std::span(&hello, 1)), fds));
  std::byte ack[1];
  auto got = recv_with_fds(socket.get(), ack, 0, kHandshakeTimeoutMs);
  if (!got) return std::move(got.error());
  return std::unique_ptr<RingChannel>(std::make_unique<LocalChannel>(
      std::move(socket), std::move(*mapping), g, std::move(*to_backend), std::move(*to_frontend),
      "local memfd channel (frontend)"));
}

Result<std::unique_ptr<RingChannel>> local_connect(const std::string& path,
                                                   const ring::Geometry& g) {
  auto addr = unix_address(path);
  if (!addr) return std::move(addr.error());
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return sys_error("create Unix socket");
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) != 0)
    return sys_error("connect to ringbox host socket " + path +
                     " (is `ringbox-host` running with --transport local?)");
  return local_connect(std::move(s), g);
}

Result<std::unique_ptr<RingChannel>> local_accept(UniqueFd socket) {
  LocalHello untrusted_hello{};
  auto fds = recv_with_fds(socket.get(), std::as_writable_bytes(std::span(&untrusted_hello, 1)), 3,
                           kHandshakeTimeoutMs);
  if (!fds) return std::move(fds.error());
  // sanitize start
  if (fds->size() != 3)
    return make_error(Errc::kPeerBroken, "local handshake carried " + std::to_string(fds->size()) +
                                             " fds instead of 3");
  if (untrusted_hello.magic != proto::kMagic || untrusted_hello.reserved != 0)
    return make_error(Errc::kPeerBroken, "local handshake has a bad magic or reserved field");
  if (untrusted_hello.version < proto::kVersionMin)
    return make_error(Errc::kProtocol, "peer speaks protocol version " +
                                           std::to_string(untrusted_hello.version) +
                                           ", older than we support");
  auto g = ring::validate_geometry(untrusted_hello.ring_order, untrusted_hello.data_pages);
  if (!g) return std::move(g.error());
  int mem = (*fds)[0].get();
  struct stat st {};
  if (::fstat(mem, &st) != 0) return sys_error("fstat peer's ring memfd");
  if (!S_ISREG(st.st_mode) || static_cast<size_t>(st.st_size) != g->region_bytes())
    return make_error(Errc::kPeerBroken, "peer's ring memfd is " + std::to_string(st.st_size) +
                                             " bytes, its geometry says " +
                                             std::to_string(g->region_bytes()));
  int seals = ::fcntl(mem, F_GET_SEALS);
  if (seals < 0 || (seals & F_SEAL_SHRINK) == 0)
    return make_error(Errc::kPeerBroken, "peer's ring memfd is not sealed against shrinking");
  // The doorbells must be eventfds: a peer's directory or file would be a way out of a sandbox.
  for (size_t i : {1, 2}) {
    const std::string link = "/proc/self/fd/" + std::to_string((*fds)[i].get());
    char target[32] = {};
    ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    if (n < 0 || std::string_view(target, static_cast<size_t>(n)) != "anon_inode:[eventfd]")
      return make_error(Errc::kPeerBroken, "peer's doorbell (descriptor " + std::to_string(i) +
                                               " of the handshake) is not an eventfd");
  }
  // sanitize end
  auto mapping = Mapping::map_shared(mem, g->region_bytes(), "ring region (backend)");
  if (!mapping) return std::move(mapping.error());
  std::byte ack[1] = {std::byte{1}};
  RINGBOX_TRY(send_with_fds(socket.get(), ack, {}));
  return std::unique_ptr<RingChannel>(std::make_unique<LocalChannel>(
      std::move(socket), std::move(*mapping), *g, std::move((*fds)[2]), std::move((*fds)[1]),
      "local memfd channel (backend)"));
}

Result<LocalListener> LocalListener::listen(const std::string& path) {
  auto addr = unix_address(path);
  if (!addr) return std::move(addr.error());
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return sys_error("create Unix socket");
  ::unlink(path.c_str());
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) != 0)
    return sys_error("bind Unix socket " + path);
  if (::listen(s.get(), 16) != 0) return sys_error("listen on Unix socket " + path);
  return LocalListener(std::move(s), path);
}

Result<UniqueFd> LocalListener::accept_socket(int timeout_ms) {
  pollfd p{fd_.get(), POLLIN, 0};
  int r = ::poll(&p, 1, timeout_ms);
  if (r < 0) return sys_error("poll listening socket " + path_);
  if (r == 0) return make_error(Errc::kTimeout, "no agent connected to " + path_);
  UniqueFd c(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!c) return sys_error("accept on " + path_);
  return c;
}

LocalListener::~LocalListener() {
  if (fd_) ::unlink(path_.c_str());
}

}  // namespace ringbox::transport
