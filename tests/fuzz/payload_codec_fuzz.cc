// Fuzzes every opcode's payload decoder (shared/protocol/codec.h) and the host's copy-and-check
// barrier in front of the request decoders (host/files/request_decode.h): paths (kOpen, kStat,
// kMkdir, ...), kRename, kSymlink, kLink, kSetattr, kPutfile's split, open flags, modes,
// offsets and extents on the host's side; the WireStat, kReaddir and status replies on the
// guest's side. Byte 0 picks the decoder, bytes 1..8 are an untrusted u64 (a split length, a
// count, flags or a status), the rest the payload. The host's copy_* and the codec must agree,
// and what a decoder accepts must hold the contract and re-encode to the very bytes it came from.
#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "host/files/request_decode.h"
#include "shared/protocol/codec.h"
#include "tests/fuzz/fuzz_target.h"

using namespace ringbox;
using namespace ringbox::proto;
namespace files = ringbox::host::files;

namespace {

// The host's barrier and the codec accept and refuse the same payloads.
template <typename T>
void same(const Result<T>& a, const Result<T>& b) {
  FUZZ_CHECK(a.has_value() == b.has_value());
}

void check_bytes(const Result<size_t>& n, const std::vector<std::byte>& out,
                 std::string_view payload) {
  FUZZ_CHECK(n && *n == payload.size());
  FUZZ_CHECK(std::memcmp(out.data(), payload.data(), payload.size()) == 0);
}

// A decoded two-path payload must be exactly its two halves, split where arg said.
template <typename Pair>
void check_split(const Pair& first, const Pair& second, uint64_t arg, std::string_view payload) {
  FUZZ_CHECK(first.size() == arg);
  FUZZ_CHECK(first + second == payload);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto in = parse_selector_input(data, size);
  if (!in) return 0;
  const uint64_t arg = in->arg;
  const std::string_view payload = in->payload;
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(payload.data()),
                                   payload.size());
  rpc::SharedBytes shared(bytes);
  std::vector<std::byte> out(payload.size() + 64);
  switch (in->which % 11) {
    case 0: {  // one path: kOpen, kStat, kLstat, kMkdir, kRmdir, kUnlink, kTruncate, ...
      auto p = decode_path(payload);
      auto c = files::copy_path(shared);
      same(p, c);
      if (!p) return 0;
      FUZZ_CHECK(*p == payload && *c == *p);
      FUZZ_CHECK(is_canonical_path(*p) && p->size() <= kMaxPathBytes);
      FUZZ_CHECK(*p == "." || (p->front() != '/' && p->back() != '/'));
      FUZZ_CHECK(p->find("//") == std::string::npos && p->find('\0') == std::string::npos);
      check_bytes(encode_path(*p, out), out, payload);
      return 0;
    }
    case 1: {  // a symlink target (link text, not a wire path)
      auto t = decode_link_target(payload);
      if (!t) return 0;
      FUZZ_CHECK(!t->empty() && t->size() <= kMaxPathBytes);
      FUZZ_CHECK(t->find('\0') == std::string::npos);
      return 0;
    }
    case 2: {  // kRename
      auto r = decode_rename(payload, arg);
      auto c = files::copy_rename(shared, arg);
      same(r, c);
      if (!r) return 0;
      FUZZ_CHECK(c->from == r->from && c->to == r->to);
      check_split(r->from, r->to, arg, payload);
      FUZZ_CHECK(is_canonical_path(r->from) && is_canonical_path(r->to));
      check_bytes(encode_rename(r->from, r->to, out), out, payload);
      return 0;
    }
    case 3: {  // kSymlink
      auto s = decode_symlink(payload, arg);
      auto c = files::copy_symlink(shared, arg);
      same(s, c);
      if (!s) return 0;
      FUZZ_CHECK(c->target == s->target && c->link == s->link);
      check_split(s->target, s->link, arg, payload);
      FUZZ_CHECK(decode_link_target(s->target).has_value() && is_canonical_path(s->link));
      check_bytes(encode_symlink(s->target, s->link, out), out, payload);
      return 0;
    }
    case 4: {  // kLink through the host's barrier
      auto l = decode_link(payload, arg);
      auto c = files::copy_link(shared, arg);
      same(l, c);
      if (l) FUZZ_CHECK(c->from == l->from && c->to == l->to);
      return 0;
    }
    case 5: {  // kSetattr through the host's barrier
      const bool by_handle = arg & 1;
      auto s = decode_setattr(payload, by_handle);
      auto c = files::copy_setattr(shared, by_handle);
      same(s, c);
      if (!s) return 0;
      FUZZ_CHECK(std::memcmp(&c->attr, &s->attr, sizeof(WireSetattr)) == 0);
      FUZZ_CHECK(c->path == s->path);
      return 0;
    }
    case 6: {  // kPutfile: path (arg bytes) then data
      auto l = putfile_layout(payload.size(), arg);
      if (!l) return 0;
      FUZZ_CHECK(l->path_len == arg && l->path_len >= 1 && l->path_len <= kMaxPathBytes);
      FUZZ_CHECK(l->data_off == l->path_len && l->data_off + l->data_len == payload.size());
      auto p = files::copy_path_prefix(shared, l->path_len);
      same(p, decode_path(payload.substr(0, l->path_len)));
      if (p) FUZZ_CHECK(*p == payload.substr(0, l->path_len));
      return 0;
    }
    case 7: {  // kOpen's flags and mode, offsets and extents (kPread, kPwrite, kTruncate, ...)
      if (auto o = decode_open_flags(arg)) {
        FUZZ_CHECK(o->read || o->write);
        FUZZ_CHECK(!o->exclusive || o->create);
        FUZZ_CHECK(!o->append || o->write);
        FUZZ_CHECK(!o->directory || !(o->write || o->create || o->truncate || o->append));
        // The guest's open(2) flags for this intent map back to exactly these wire flags.
        int posix = o->read && o->write ? O_RDWR : o->write ? O_WRONLY : O_RDONLY;
        if (o->create) posix |= O_CREAT;
        if (o->exclusive) posix |= O_EXCL;
        if (o->truncate) posix |= O_TRUNC;
        if (o->append) posix |= O_APPEND;
        if (o->directory) posix |= O_DIRECTORY;
        FUZZ_CHECK(wire_open_flags_from_posix(posix) == arg);
      }
      auto m = decode_mode(arg);
      auto wm = files::wire_mode(arg, "mode");
      FUZZ_CHECK(m.has_value() == wm.has_value());
      if (m) FUZZ_CHECK(*m == arg && *m <= kMaxWireMode && static_cast<uint64_t>(*wm) == arg);
      auto off = files::wire_offset(arg, "offset");
      FUZZ_CHECK(off.has_value() == (arg <= static_cast<uint64_t>(INT64_MAX)));
      if (off) {
        uint64_t len = 0;
        if (payload.size() >= 8) std::memcpy(&len, payload.data(), 8);
        auto e = files::check_extent(*off, static_cast<size_t>(len));
        FUZZ_CHECK(e.has_value() == (len <= static_cast<uint64_t>(INT64_MAX) - arg));
      }
      return 0;
    }
    case 8: {  // WireStat reply (kFstat, kStat, kLstat, kOpen's val)
      auto s = decode_wire_stat(bytes);
      if (!s) return 0;
      FUZZ_CHECK(bytes.size() == sizeof(WireStat));
      check_bytes(encode_wire_stat(*s, out), out, payload);
      struct stat st = stat_from_wire(*s);
      FUZZ_CHECK(st.st_size >= 0);
      for (const struct timespec* t : {&st.st_atim, &st.st_mtim, &st.st_ctim})
        FUZZ_CHECK(t->tv_nsec >= 0 && t->tv_nsec < 1000000000);
      return 0;
    }
    case 9: {  // kReaddir reply: val[0] records
      auto d = decode_dirents(bytes, arg);
      if (!d) return 0;
      FUZZ_CHECK(d->size() == arg);
      DirentWriter w(std::span(out.data(), payload.size()));
      for (const auto& e : *d) {
        FUZZ_CHECK(is_valid_name(e.name));
        auto put = w.append(e.ino, e.next_cookie, e.type, e.name);
        FUZZ_CHECK(put && *put);
      }
      FUZZ_CHECK(w.count() == arg && w.bytes() == payload.size());
      FUZZ_CHECK(std::memcmp(out.data(), payload.data(), payload.size()) == 0);
      return 0;
    }
    default: {  // ResponseSlot::status
      const auto status = static_cast<int32_t>(arg);
      const int err = errno_from_wire_status(status);
      if (status >= 0) {
        FUZZ_CHECK(err == 0);
      } else if (is_wire_status(status)) {
        FUZZ_CHECK(err != 0 && wire_status(wire_error_from_errno(err)) == status);
      } else {
        FUZZ_CHECK(err == EIO);
      }
      return 0;
    }
  }
}

std::vector<std::vector<uint8_t>> fuzz_seeds() {
  std::vector<std::vector<uint8_t>> seeds;
  auto seed = [&](uint8_t which, uint64_t arg, std::string_view payload) {
    seeds.push_back(selector_seed(which, arg, payload));
  };
  seed(0, 0, "in/data.txt");
  seed(0, 0, ".");
  seed(1, 0, "../shared/lib.so");
  seed(2, 6, "a/b.cca/b.o");
  seed(3, 7,
       "../t.so"
       "lib/t.so");
  seed(4, 5, "a.txtb.txt");
  WireSetattr sa{};
  sa.valid = kSetMode | kSetMtime;
  sa.mode = 0644;
  sa.mtime_ns = -1;
  std::string head(reinterpret_cast<const char*>(&sa), sizeof(sa));
  seed(5, 0, head + "out/log");
  seed(5, 1, head);
  seed(6, 7,
       "out/res"
       "0123456789");
  seed(7, kOpenRead | kOpenWrite | kOpenCreate | kOpenExclusive,
       "\x00\x10\x00\x00\x00\x00\x00\x00");
  seed(7, 0644, "");
  WireStat ws{};
  ws.mode = S_IFREG | 0644;
  ws.size = 11;
  ws.mtime_ns = -1;
  seed(8, 0, std::string_view(reinterpret_cast<const char*>(&ws), sizeof(ws)));
  std::vector<std::byte> dir(256);
  DirentWriter w(dir);
  (void)w.append(2, 1, 4, "sub");
  (void)w.append(3, 2, 8, "file.with.a.long.name");
  seed(9, w.count(), std::string_view(reinterpret_cast<const char*>(dir.data()), w.bytes()));
  seed(10, static_cast<uint32_t>(-static_cast<int32_t>(WireError::kNoEnt)), "");
  seed(10, static_cast<uint32_t>(-1000), "");
  return seeds;
}
