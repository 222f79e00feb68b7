#include "host/run/restore_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <vector>

#include "host/run/zstd_pipe.h"
#include "shared/util/file_io.h"
#include "shared/util/log.h"

namespace ringbox::host::run {
namespace {

constexpr char kMagic[] = "ringbox-restore 2";
constexpr char kMacPrefix[] = "mac hmac-sha256 ";

// "key N" with N canonical decimal in [min, max].
Result<uint64_t> field(std::string_view line, std::string_view key, uint64_t min, uint64_t max) {
  auto bad = [&] {
    return make_error(Errc::kInvalidArgument, "restore file header: expected '" + std::string(key) +
                                                  " N' with N in " + std::to_string(min) + ".." +
                                                  std::to_string(max));
  };
  if (line.size() <= key.size() + 1 || line.substr(0, key.size()) != key || line[key.size()] != ' ')
    return bad();
  auto digits = line.substr(key.size() + 1);
  if (digits.size() > 1 && digits[0] == '0') return bad();
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || p != digits.data() + digits.size() || v < min || v > max) return bad();
  return v;
}

// The longest stream a save of a domain of memory_mib can be: every page with libxl's per-page
// record overhead (well under 1/8), and 64 MiB for the rest of the stream (vCPU context, the
// p2m, records); bounds the private copy a restore makes.
uint64_t max_stream_bytes(uint64_t memory_mib) {
  return (memory_mib + memory_mib / 8 + 64) << 20;
}

// Reads and writes of the stream: 1 MiB at a time.
constexpr size_t kCopyChunkBytes = size_t{1} << 20;

}  // namespace

std::string restore_header_fields(const RestoreHeader& h) {
  return std::string(kMagic) + "\nmemory-mib " + std::to_string(h.memory_mib) + "\nvcpus " +
         std::to_string(h.vcpus) + "\ncompression " + (h.zstd ? "zstd" : "none") +
         "\nstream-bytes " + std::to_string(h.stream_bytes) + "\n";
}

std::string format_restore_header(const RestoreHeader& h) {
  return restore_header_fields(h) + kMacPrefix + hex_encode(h.mac) + "\n";
}

Result<RestoreHeader> parse_restore_header(std::string_view untrusted, uint64_t file_bytes) {
  if (untrusted.size() != kRestoreHeaderBytes || file_bytes < kRestoreHeaderBytes)
    return make_error(
        Errc::kInvalidArgument,
        "restore file is shorter than its " + std::to_string(kRestoreHeaderBytes) + "-byte header");
  auto text = untrusted.substr(0, untrusted.find('\0'));
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto nl = text.find('\n');
    if (nl == std::string_view::npos)
      return make_error(Errc::kInvalidArgument, "restore file header: unterminated line");
    lines.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  if (lines.empty() || lines[0] != kMagic)
    return make_error(Errc::kInvalidArgument,
                      lines.size() == 5 && lines[0] == "ringbox-restore 1"
                          ? "a restore file of an older ringbox, without a MAC: not trusted"
                          : "not a ringbox restore file (no '" + std::string(kMagic) + "' header)");
  if (lines.size() != 6)
    return make_error(
        Errc::kInvalidArgument,
        "restore file header: " + std::to_string(lines.size()) + " lines where 6 belong");
  RestoreHeader h;
  auto mem = field(lines[1], "memory-mib", 32, kMaxRestoreMemoryMib);
  if (!mem) return std::move(mem.error());
  auto vcpus = field(lines[2], "vcpus", 1, kMaxRestoreVcpus);
  if (!vcpus) return std::move(vcpus.error());
  if (lines[3] != "compression none" && lines[3] != "compression zstd")
    return make_error(Errc::kInvalidArgument,
                      "restore file header: expected 'compression none' or 'compression zstd'");
  h.zstd = lines[3] == "compression zstd";
  auto stream = field(lines[4], "stream-bytes", 1, uint64_t{1} << 44);
  if (!stream) return std::move(stream.error());
  h.memory_mib = static_cast<uint32_t>(*mem);
  h.vcpus = static_cast<uint32_t>(*vcpus);
  h.stream_bytes = *stream;
  const std::string_view mac_line = lines[5];
  const std::string_view mac_hex =
      mac_line.substr(std::min(mac_line.size(), sizeof kMacPrefix - 1));
  if (mac_line.substr(0, sizeof kMacPrefix - 1) != kMacPrefix || !hex_decode(mac_hex, h.mac) ||
      hex_encode(h.mac) != mac_hex)  // lower case only: one text per header
    return make_error(Errc::kInvalidArgument, "restore file header: expected '" +
                                                  std::string(kMacPrefix) +
                                                  "' and 64 lower-case hex digits");
  if (file_bytes != kRestoreHeaderBytes + h.stream_bytes)
    return make_error(Errc::kInvalidArgument,
                      "restore file is " + std::to_string(file_bytes) + " bytes, its header says " +
                          std::to_string(kRestoreHeaderBytes + h.stream_bytes) +
                          ": truncated or damaged");
  return h;
}

Result<uint64_t> write_restore_fd(int fd, const std::string& name, RestoreHeader h,
                                  const RestoreKey& key,
                                  const std::function<Result<void>(int fd)>& write_stream) {
  auto mac = RestoreMac::start(key);
  if (!mac) return std::move(mac.error());
  // Positioned writes only: the descriptor may be an unprivileged wrapper's, whose shared
  // offset it could move; O_APPEND would make pwrite(2) append (Linux), so it is refused.
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0) return sys_error("look at " + name);
  if (fl & O_APPEND)
    return make_error(Errc::kInvalidArgument, name + " is open for appending: cannot write it");
  if (::ftruncate(fd, 0) != 0) return sys_error("empty " + name);
  uint64_t stream = 0;
  RINGBOX_TRY(pump_through(write_stream, [&](int rd) -> Result<void> {
    std::vector<std::byte> buf(kCopyChunkBytes);
    for (;;) {
      ssize_t n = retry_eintr([&] { return ::read(rd, buf.data(), buf.size()); });
      if (n < 0) return sys_error("read the save stream");
      if (n == 0) return ok();
      const auto piece = std::span(buf).first(static_cast<size_t>(n));
      mac->update(piece);
      auto w = write_fully(fd, piece, static_cast<off_t>(kRestoreHeaderBytes + stream));
      if (!w) return sys_error(w.error().sys_errno, "write " + name);
      if (*w != piece.size())
        return make_error(Errc::kSystem, "write " + name + ": short write (disk full?)");
      stream += static_cast<uint64_t>(n);
    }
  }));
  if (stream == 0) return make_error(Errc::kSystem, "the save wrote nothing into " + name);
  // The header goes last: a save killed before this point leaves a file whose first 4 KiB are
  // zero, which parse_restore_header refuses.
  h.stream_bytes = stream;
  mac->update(restore_header_fields(h));
  auto value = mac->finish();
  if (!value) return std::move(value.error());
  h.mac = *value;
  std::string head = format_restore_header(h);
  head.resize(kRestoreHeaderBytes, '\0');
  auto w = write_fully(fd, std::as_bytes(std::span(head)), 0);
  if (!w) return sys_error(w.error().sys_errno, "write the header of " + name);
  if (*w != head.size())
    return make_error(Errc::kSystem, "write the header of " + name + ": short write (disk full?)");
  if (::fsync(fd) != 0) return sys_error("sync " + name);
  return kRestoreHeaderBytes + stream;
}

Result<uint64_t> write_restore_file(const std::string& path, RestoreHeader h, const RestoreKey& key,
                                    const std::function<Result<void>(int fd)>& write_stream) {
  const std::string part = path + ".part";
  ::unlink(part.c_str());
  UniqueFd fd(::open(part.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return sys_error("create the restore file " + part);
  auto size = write_restore_fd(fd.get(), part, h, key, write_stream);
  if (size && ::rename(part.c_str(), path.c_str()) != 0)
    size = sys_error("rename " + part + " to " + path);
  if (!size) ::unlink(part.c_str());
  return size;
}

namespace {

// Reads the stream of h from fd (after the header), computes its MAC under each key (then the
// header's fields) and returns the one whose MAC equals h.mac; with copy_fd >= 0 also writes
// what it read there. Errc::kInvalidArgument when the file is short or no MAC matches (the
// file's fault); other codes for this machine's failures.
Result<const RestoreKey*> mac_stream(int fd, const RestoreHeader& h,
                                     std::span<const RestoreKey* const> keys,
                                     const std::string& name, int copy_fd) {
  std::vector<RestoreMac> macs;
  for (const RestoreKey* k : keys) {
    auto mac = RestoreMac::start(*k);
    if (!mac) return std::move(mac.error());
    macs.push_back(std::move(*mac));
  }
  std::vector<std::byte> buf(kCopyChunkBytes);
  for (uint64_t done = 0; done < h.stream_bytes;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), h.stream_bytes - done));
    auto got =
        read_fully(fd, std::span(buf).first(want), static_cast<off_t>(kRestoreHeaderBytes + done));
    if (!got) return sys_error(got.error().sys_errno, "read the stream of " + name);
    if (*got != want)
      return make_error(Errc::kInvalidArgument, name + ": shrank while it was read: damaged");
    for (auto& mac : macs) mac.update(std::span(buf).first(want));
    if (copy_fd >= 0) {
      auto w = write_all(copy_fd, std::span(buf).first(want));
      if (!w) return sys_error(w.error().sys_errno, "copy the stream of " + name + " into memory");
    }
    done += want;
  }
  const std::string fields = restore_header_fields(h);
  for (size_t i = 0; i < macs.size(); ++i) {
    macs[i].update(fields);
    auto value = macs[i].finish();
    if (!value) return std::move(value.error());
    if (same_mac(*value, h.mac)) return keys[i];
  }
  std::string names = keys[0]->path;
  if (keys.size() > 1) names += " (nor the previous key " + keys[1]->path + ")";
  return make_error(Errc::kInvalidArgument,
                    name + ": its MAC does not match the restore key " + names +
                        ": it was changed after its save, or saved by an execute point with "
                        "another key (give every execute point of the pool the same key "
                        "file; docs/vacate.md)");
}

}  // namespace

Result<OpenedRestore> check_restore_fd(UniqueFd fd, const std::string& name,
                                       const std::string& key_file, uint32_t max_memory_mib,
                                       uint32_t max_vcpus) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return sys_error("stat " + name);
  if (!S_ISREG(st.st_mode))
    return make_error(Errc::kInvalidArgument, name + " is not a regular file");
  std::string head(kRestoreHeaderBytes, '\0');
  auto n = read_fully(fd.get(), std::as_writable_bytes(std::span(head)), 0);
  if (!n) return sys_error(n.error().sys_errno, "read the header of " + name);
  head.resize(*n);
  auto h = parse_restore_header(head, static_cast<uint64_t>(st.st_size));
  if (!h) return make_error(h.error().code, name + ": " + h.error().message());
  if (h->memory_mib > max_memory_mib)
    return make_error(Errc::kInvalidArgument,
                      name + ": its domain has " + std::to_string(h->memory_mib) +
                          " MiB, more than the " + std::to_string(max_memory_mib) +
                          " MiB this job may have");
  if (h->vcpus > max_vcpus)
    return make_error(Errc::kInvalidArgument, name + ": its domain has " +
                                                  std::to_string(h->vcpus) +
                                                  " vCPUs, more than the " +
                                                  std::to_string(max_vcpus) + " this job may have");
  if (h->stream_bytes > max_stream_bytes(h->memory_mib))
    return make_error(Errc::kInvalidArgument, name + ": its " + std::to_string(h->stream_bytes) +
                                                  "-byte stream is longer than any save of a " +
                                                  std::to_string(h->memory_mib) +
                                                  " MiB domain: damaged");
  auto key = load_restore_key(key_file);
  if (!key) return std::move(key.error());
  auto previous = load_previous_restore_key(key_file);
  if (!previous) return std::move(previous.error());
  std::vector<const RestoreKey*> keys{&*key};
  if (*previous) keys.push_back(&**previous);
  // The first pass only computes the MAC (constant memory), so a forged file costs this process
  // nothing but reads.
  auto signer = mac_stream(fd.get(), *h, keys, name, -1);
  if (!signer) return std::move(signer.error());
  if (*signer != &*key)
    log::info(name + ": saved under the previous restore key " + (*signer)->path);
  // A file only we could have opened for writing (ours, no write bit for group or others: a
  // root run's own) cannot change between this check and libxl's read: libxl reads it. Any
  // other (the root service's, an unprivileged wrapper's file) is copied into memory only this
  // process can change, the MAC checked again on what was copied, and the copy sealed.
  const bool only_ours = st.st_uid == ::geteuid() && (st.st_mode & 022) == 0;
  UniqueFd stream;
  off_t start = static_cast<off_t>(kRestoreHeaderBytes);
  if (only_ours) {
    stream = std::move(fd);
  } else {
    stream = UniqueFd(::memfd_create("ringbox-restore", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!stream) return sys_error("make a private copy of " + name);
    auto again = mac_stream(fd.get(), *h, std::span(&*signer, 1), name, stream.get());
    if (!again) return std::move(again.error());
    if (::fcntl(stream.get(), F_ADD_SEALS,
                F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
      return sys_error("seal the private copy of " + name);
    start = 0;
  }
  // The stream must start as libxl's (its ident "LibxlFmt") or zstd's frame magic: anything
  // else is refused here with a clear message, before libxl parses it.
  unsigned char magic[8] = {};
  auto m = read_fully(stream.get(), std::as_writable_bytes(std::span(magic)), start);
  if (!m || *m != sizeof magic)
    return make_error(Errc::kSystem, "read the first bytes of the stream of " + name);
  static constexpr unsigned char kLibxl[8] = {'L', 'i', 'b', 'x', 'l', 'F', 'm', 't'};
  static constexpr unsigned char kZstd[4] = {0x28, 0xb5, 0x2f, 0xfd};
  bool ok_magic = h->zstd ? std::memcmp(magic, kZstd, 4) == 0 : std::memcmp(magic, kLibxl, 8) == 0;
  if (!ok_magic)
    return make_error(Errc::kInvalidArgument,
                      name + ": the stream after the header is not " +
                          (h->zstd ? "a zstd frame" : "a libxl save stream") + ": damaged");
  if (::lseek(stream.get(), start, SEEK_SET) < 0) return sys_error("seek in " + name);
  return OpenedRestore{std::move(stream), *h};
}

Result<OpenedRestore> open_restore_file(const std::string& path, const std::string& key_file,
                                        uint32_t max_memory_mib, uint32_t max_vcpus) {
  ::unlink((path + ".part").c_str());  // a save that never finished
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return make_error(Errc::kNotFound, "no restore file " + path);
    return sys_error("open the restore file " + path);
  }
  return check_restore_fd(std::move(fd), path, key_file, max_memory_mib, max_vcpus);
}

}  // namespace ringbox::host::run
