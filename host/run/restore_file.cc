#include "host/run/restore_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <vector>

namespace ringbox::host::run {
namespace {

constexpr char kMagic[] = "ringbox-restore 1";

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

}  // namespace

std::string format_restore_header(const RestoreHeader& h) {
  return std::string(kMagic) + "\nmemory-mib " + std::to_string(h.memory_mib) + "\nvcpus " +
         std::to_string(h.vcpus) + "\ncompression " + (h.zstd ? "zstd" : "none") +
         "\nstream-bytes " + std::to_string(h.stream_bytes) + "\n";
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
  if (lines.size() != 5 || lines[0] != kMagic)
    return make_error(Errc::kInvalidArgument,
                      "not a ringbox restore file (no '" + std::string(kMagic) + "' header)");
  RestoreHeader h;
  auto mem = field(lines[1], "memory-mib", 32, 1u << 20);
  if (!mem) return std::move(mem.error());
  auto vcpus = field(lines[2], "vcpus", 1, 128);
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
  if (file_bytes != kRestoreHeaderBytes + h.stream_bytes)
    return make_error(Errc::kInvalidArgument,
                      "restore file is " + std::to_string(file_bytes) + " bytes, its header says " +
                          std::to_string(kRestoreHeaderBytes + h.stream_bytes) +
                          ": truncated or damaged");
  return h;
}

Result<uint64_t> write_restore_fd(int fd, const std::string& name, RestoreHeader h,
                                  const std::function<Result<void>(int fd)>& write_stream) {
  if (::ftruncate(fd, 0) != 0) return sys_error("empty " + name);
  if (::lseek(fd, kRestoreHeaderBytes, SEEK_SET) < 0) return sys_error("seek in " + name);
  RINGBOX_TRY(write_stream(fd));
  struct stat st {};
  if (::fstat(fd, &st) != 0) return sys_error("stat " + name);
  if (static_cast<uint64_t>(st.st_size) <= kRestoreHeaderBytes)
    return make_error(Errc::kSystem, "the save wrote nothing into " + name);
  // The header goes last: a save killed before this point leaves a file whose first 4 KiB are
  // zero, which parse_restore_header refuses.
  h.stream_bytes = static_cast<uint64_t>(st.st_size) - kRestoreHeaderBytes;
  std::string head = format_restore_header(h);
  head.resize(kRestoreHeaderBytes, '\0');
  if (::pwrite(fd, head.data(), head.size(), 0) != static_cast<ssize_t>(head.size()))
    return sys_error("write the header of " + name);
  if (::fsync(fd) != 0) return sys_error("sync " + name);
  return static_cast<uint64_t>(st.st_size);
}

Result<uint64_t> write_restore_file(const std::string& path, RestoreHeader h,
                                    const std::function<Result<void>(int fd)>& write_stream) {
  const std::string part = path + ".part";
  ::unlink(part.c_str());
  UniqueFd fd(::open(part.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return sys_error("create the restore file " + part);
  auto size = write_restore_fd(fd.get(), part, h, write_stream);
  if (size && ::rename(part.c_str(), path.c_str()) != 0)
    size = sys_error("rename " + part + " to " + path);
  if (!size) ::unlink(part.c_str());
  return size;
}

Result<OpenedRestore> check_restore_fd(UniqueFd fd, const std::string& name) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return sys_error("stat " + name);
  if (!S_ISREG(st.st_mode))
    return make_error(Errc::kInvalidArgument, name + " is not a regular file");
  std::string head(kRestoreHeaderBytes, '\0');
  ssize_t n = ::pread(fd.get(), head.data(), head.size(), 0);
  if (n < 0) return sys_error("read the header of " + name);
  head.resize(static_cast<size_t>(n));
  auto h = parse_restore_header(head, static_cast<uint64_t>(st.st_size));
  if (!h) return make_error(h.error().code, name + ": " + h.error().message());
  // The stream must start as libxl's (its ident "LibxlFmt") or zstd's frame magic: anything
  // else is refused here with a clear message, before libxl parses it.
  unsigned char magic[8] = {};
  if (::pread(fd.get(), magic, sizeof magic, kRestoreHeaderBytes) != sizeof magic)
    return sys_error("read the stream of " + name);
  static constexpr unsigned char kLibxl[8] = {'L', 'i', 'b', 'x', 'l', 'F', 'm', 't'};
  static constexpr unsigned char kZstd[4] = {0x28, 0xb5, 0x2f, 0xfd};
  bool ok_magic = h->zstd ? std::memcmp(magic, kZstd, 4) == 0 : std::memcmp(magic, kLibxl, 8) == 0;
  if (!ok_magic)
    return make_error(Errc::kInvalidArgument,
                      name + ": the stream after the header is not " +
                          (h->zstd ? "a zstd frame" : "a libxl save stream") + ": damaged");
  if (::lseek(fd.get(), kRestoreHeaderBytes, SEEK_SET) < 0) return sys_error("seek in " + name);
  return OpenedRestore{std::move(fd), *h};
}

Result<OpenedRestore> open_restore_file(const std::string& path) {
  ::unlink((path + ".part").c_str());  // a save that never finished
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return make_error(Errc::kNotFound, "no restore file " + path);
    return sys_error("open the restore file " + path);
  }
  return check_restore_fd(std::move(fd), path);
}

}  // namespace ringbox::host::run
