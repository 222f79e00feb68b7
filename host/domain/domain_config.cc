#include "host/domain/domain_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "shared/util/unique_fd.h"

namespace ringbox::host::domain {
namespace {

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

Result<void> check_readable_file(const std::string& path, std::string_view what) {
  if (path.empty())
    return make_error(Errc::kInvalidArgument,
                      std::string("no guest ") + std::string(what) + " given");
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd)
    return sys_error("open guest " + std::string(what) + " " + path +
                     " (build it with kernel-image/build-guest-image, or pass its path)");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return sys_error("stat guest " + std::string(what) + " " + path);
  if (!S_ISREG(st.st_mode))
    return make_error(Errc::kInvalidArgument,
                      "guest " + std::string(what) + " " + path + " is not a regular file");
  if (st.st_size == 0)
    return make_error(Errc::kInvalidArgument,
                      "guest " + std::string(what) + " " + path + " is empty");
  return ok();
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                 static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                 static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 2]));
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(kBase64Alphabet[(v >> 6) & 63]);
    out.push_back(kBase64Alphabet[v & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

Result<std::string> encode_agent_args(const std::vector<std::string>& args) {
  std::string joined;
  for (size_t i = 0; i < args.size(); ++i) {
    // LF ends an argument in the encoding; the guest's shell cannot carry NUL at all.
    if (args[i].find('\n') != std::string::npos || args[i].find('\0') != std::string::npos)
      return make_error(Errc::kInvalidArgument,
                        "agent argument " + std::to_string(i + 1) +
                            " holds a newline or NUL, which ringbox.args cannot carry");
    joined += args[i];
    joined.push_back('\n');
  }
  return base64_encode(joined);
}

Result<std::string> guest_cmdline(const DomainConfig& cfg) {
  if (!printable_ascii(cfg.kernel_args))
    return make_error(Errc::kInvalidArgument,
                      "guest kernel arguments hold a control or non-ASCII byte");
  // guest-init.sh takes the first ringbox.args= it sees; a second one would silently lose.
  if (cfg.kernel_args.find(kAgentArgsKey) != std::string::npos)
    return make_error(Errc::kInvalidArgument,
                      "guest kernel arguments already set ringbox.args=; pass the agent's "
                      "arguments with --agent-args instead");
  std::string line = cfg.kernel_args;
  if (!cfg.agent_args.empty()) {
    auto enc = encode_agent_args(cfg.agent_args);
    if (!enc) return std::move(enc.error());
    if (!line.empty()) line.push_back(' ');
    line += kAgentArgsKey;
    line += *enc;
  }
  if (line.size() > kMaxGuestCmdlineBytes)
    return make_error(Errc::kTooLarge,
                      "guest kernel command line is " + std::to_string(line.size()) +
                          " bytes, Xen keeps only " + std::to_string(kMaxGuestCmdlineBytes) +
                          " of a PV guest's; shorten the agent arguments (bulk data goes "
                          "over the ring)");
  return line;
}

Result<void> validate_domain_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxDomainNameBytes)
    return make_error(Errc::kInvalidArgument, "domain name must be 1.." +
                                                  std::to_string(kMaxDomainNameBytes) +
                                                  " bytes, got " + std::to_string(name.size()));
  bool ok_chars = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
  if (!ok_chars)
    return make_error(Errc::kInvalidArgument, "domain name '" + std::string(name) +
                                                  "' may only hold letters, digits, '.', '_' "
                                                  "and '-'");
  if (std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return make_error(Errc::kInvalidArgument,
                      "domain name '" + std::string(name) +
                          "' is all digits, which xl and xenstore tools read as a domain id");
  if (name == "Domain-0")
    return make_error(Errc::kInvalidArgument, "domain name Domain-0 is dom0's");
  return ok();
}

Result<void> validate_domain_config(const DomainConfig& cfg) {
  if (!cfg.name.empty()) RINGBOX_TRY(validate_domain_name(cfg.name));
  if (cfg.memory_mib < kMinMemoryMib || cfg.memory_mib > kMaxMemoryMib)
    return make_error(Errc::kInvalidArgument, "guest memory " + std::to_string(cfg.memory_mib) +
                                                  " MiB is outside " +
                                                  std::to_string(kMinMemoryMib) + ".." +
                                                  std::to_string(kMaxMemoryMib) + " MiB");
  if (cfg.vcpus < 1 || cfg.vcpus > kMaxVcpus)
    return make_error(Errc::kInvalidArgument, "guest vCPUs " + std::to_string(cfg.vcpus) +
                                                  " is outside 1.." + std::to_string(kMaxVcpus));
  auto line = guest_cmdline(cfg);
  if (!line) return std::move(line.error());
  RINGBOX_TRY(check_readable_file(cfg.kernel, "kernel"));
  RINGBOX_TRY(check_readable_file(cfg.ramdisk, "ramdisk"));
  return ok();
}

std::string default_domain_name() {
  static std::atomic<unsigned> counter{0};
  return "ringbox-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

bool looks_like_elf(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  char magic[4] = {};
  return ::read(fd.get(), magic, sizeof magic) == 4 && std::memcmp(magic,
                                                                   "\x7f"
                                                                   "ELF",
                                                                   4) == 0;
}

}  // namespace ringbox::host::domain
