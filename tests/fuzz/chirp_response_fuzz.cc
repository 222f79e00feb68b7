// Fuzzes the client's view of Chirp responses: the bytes are what a hostile server sends,
// read by a real Connection over a socketpair while it makes one call after another (open,
// pread, stat, statfs, getdir, getlongdir, readlink, getfile, whoami). Every call must return
// a value within its bounds or a clean error; a broken stream must stay broken.
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "shared/chirp/connection.h"
#include "tests/fuzz/fuzz_target.h"

using namespace ringbox;
using namespace ringbox::chirp;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 60'000) return 0;  // must fit the socket buffer in one write
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 0;
  UniqueFd peer(sv[1]);
  Endpoint ep;
  ep.host = "fuzz";
  // The first byte picks the peer's dialect, so both reply-size rules are covered.
  ep.kind = (data[0] & 1) ? PeerKind::kCondorProxy : PeerKind::kChirpServer;
  ep.escaping = (data[0] & 1) ? Escaping::kBackslash : Escaping::kUrl;
  ++data;
  --size;
  if (size > 0 && ::write(peer.get(), data, size) != static_cast<ssize_t>(size)) return 0;
  ::shutdown(peer.get(), SHUT_WR);  // then EOF: no call may wait past the bytes
  Timeouts t;
  t.idle_ms = t.line_ms = t.io_ms = 1000;
  Connection c = Connection::adopt(ep, Stream(UniqueFd(sv[0]), t));
  std::byte buf[8192];
  for (int round = 0; round < 3 && !c.broken(); ++round) {
    if (auto o = c.open_file("f", 0, 0)) FUZZ_CHECK(o->fd >= 0);
    if (auto n = c.pread(0, std::span<std::byte>(buf, sizeof(buf)), 0))
      FUZZ_CHECK(*n <= sizeof(buf));
    (void)c.stat("f");
    (void)c.statfs("f");
    if (auto d = c.getdir("d", false)) {
      FUZZ_CHECK(d->size() <= kMaxDirEntries);
      for (auto& e : *d) FUZZ_CHECK(!e.name.empty());
    }
    (void)c.getdir("d", true);
    if (auto l = c.readlink("l")) FUZZ_CHECK(l->size() <= 4096);
    uint64_t seen = 0;
    auto g = c.getfile("g", [&](std::span<const std::byte> b, uint64_t off) -> Result<void> {
      FUZZ_CHECK(off == seen);
      seen += b.size();
      return ok();
    });
    if (g) FUZZ_CHECK(*g == seen);
    if (auto w = c.whoami()) FUZZ_CHECK(w->size() <= 1024);
  }
  if (c.broken()) FUZZ_CHECK(!c.stat("x").has_value());
  return 0;
}

std::vector<std::vector<uint8_t>> fuzz_seeds() {
  const char* replies[] = {
      // cctools: open + stat line, pread, stat, statfs, getdir, getlongdir, readlink, getfile
      "\x00"
      "3\n1 2 33188 1 0 0 0 11 4096 8 1 2 3\n5\nworld0\n1 2 33188 1 0 0 0 11 4096 8 1 2 3\n"
      "0\n1 4096 100 50 40 1000 900\n0\n.\n..\na\n\n0\na\n1 2 33188 1 0 0 0 11 4096 8 1 2 3\n\n"
      "3\nabc4\ndata17\naddress:127.0.0.1",
      // HTCondor: getdir answers a byte count
      "\x01"
      "-3\n-8\n0\n1 2 16877 2 0 0 0 0 4096 0 1 2 3\n-5\n6\na\nbb\n\n0\n-1\n0\n\n-127\n",
      "\x00"
      "9223372036854775807\n",
      "\x01"
      "-9223372036854775808\n-\n+\n 12 \r\n",
  };
  std::vector<std::vector<uint8_t>> seeds;
  for (const char* r : replies) {
    size_t n = 1 + std::strlen(r + 1);
    seeds.emplace_back(r, r + n);
  }
  return seeds;
}
