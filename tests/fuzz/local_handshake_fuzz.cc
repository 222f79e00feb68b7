// Fuzzes the host's side of the local transport's handshake (local_accept): the 16-byte hello
// and the descriptors a local agent passes with it. Any local user who can reach the socket
// controls both. Input: the 16 hello bytes (magic u32, version u16, reserved u16, ring_order
// u32, data_pages u32), then one control byte: bits 0-1 = how many descriptors are passed
// (0..3), bit 2 = the memfd is sealed against shrinking, bit 3 = the memfd has the size the
// hello's geometry implies (else one page more), bit 4 = the first descriptor is an eventfd
// instead of the memfd, bit 5 = the doorbells are a directory instead of eventfds (a way out of
// the confined service's sandbox, host/confine). An accepted channel must map exactly the
// geometry's region, and never with a directory for a doorbell.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "shared/ring/layout.h"
#include "shared/transport/local/fd_passing.h"
#include "shared/transport/local/local_channel.h"
#include "tests/fuzz/fuzz_target.h"

using namespace ringbox;

namespace {
constexpr size_t kHelloBytes = 16;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kHelloBytes + 1) return 0;
  const uint8_t ctl = data[kHelloBytes];
  uint32_t order = 0, pages = 0;
  std::memcpy(&order, data + 8, 4);
  std::memcpy(&pages, data + 12, 4);
  auto g = ring::validate_geometry(order, pages);
  size_t mem_bytes = g ? g->region_bytes() : proto::kPageSize;
  if ((ctl & 8) == 0) mem_bytes += proto::kPageSize;

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 0;
  UniqueFd agent(sv[0]), host(sv[1]);
  UniqueFd mem(::memfd_create("fuzz-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  UniqueFd kick(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  UniqueFd kicked(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (ctl & 32) {
    kick.reset(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    kicked.reset(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }
  if (!mem || !kick || !kicked) return 0;
  if (::ftruncate(mem.get(), static_cast<off_t>(mem_bytes)) != 0) return 0;
  if (ctl & 4) ::fcntl(mem.get(), F_ADD_SEALS, F_SEAL_SHRINK);
  const int all[3] = {(ctl & 16) ? kick.get() : mem.get(), kick.get(), kicked.get()};
  std::span<const int> fds(all, ctl & 3);
  if (!transport::send_with_fds(agent.get(), std::as_bytes(std::span(data, kHelloBytes)), fds))
    return 0;
  auto ch = transport::local_accept(std::move(host));
  if (!ch) return 0;  // a clean refusal
  FUZZ_CHECK(g.has_value());
  FUZZ_CHECK((ctl & 32) == 0);
  FUZZ_CHECK((*ch)->region().size() == g->region_bytes());
  FUZZ_CHECK((*ch)->geometry().ring_order == order);
  FUZZ_CHECK((*ch)->geometry().data_pages == pages);
  return 0;
}

std::vector<std::vector<uint8_t>> fuzz_seeds() {
  auto hello = [](uint32_t magic, uint16_t version, uint32_t order, uint32_t pages, uint8_t ctl) {
    std::vector<uint8_t> v(kHelloBytes + 1, 0);
    std::memcpy(v.data(), &magic, 4);
    std::memcpy(v.data() + 4, &version, 2);
    std::memcpy(v.data() + 8, &order, 4);
    std::memcpy(v.data() + 12, &pages, 4);
    v[kHelloBytes] = ctl;
    return v;
  };
  const uint8_t good = 3 | 4 | 8;
  return {
      hello(proto::kMagic, proto::kVersionMax, 4, 16, good),       // what a real agent sends
      hello(proto::kMagic, proto::kVersionMax, 2, 16, good),       // the smallest ring
      hello(proto::kMagic, 1, 4, 16, good),                        // an old version
      hello(proto::kMagic, proto::kVersionMax, 4, 16, 3 | 8),      // unsealed
      hello(proto::kMagic, proto::kVersionMax, 4, 16, 3 | 4),      // wrong size
      hello(proto::kMagic, proto::kVersionMax, 4, 16, 2 | 4 | 8),  // a descriptor short
      hello(proto::kMagic, proto::kVersionMax, 4, 16, good | 16),  // an eventfd as the region
      hello(proto::kMagic, proto::kVersionMax, 4, 16, good | 32),  // directories as doorbells
      hello(proto::kMagic, proto::kVersionMax, 13, 16, good),      // order past the bound
  };
}
