// What a ringbox guest domain is made of before any Xen call: the options that
// `ringbox-host boot` (and `run --transport xen`) take, their checks, and the guest kernel
// command line that carries the agent's arguments. Pure code, no libxl, so every rule here is
// unit-tested on any machine; host/domain/xen_domain.h turns a checked DomainConfig into a
// libxl domain.
//
// The argument encoding is the contract of kernel-image/guest-init.sh (ringbox.args=): each
// argument followed by one LF, the whole byte string base64-encoded (RFC 4648 section 4, "="
// padding, no line breaks), so the value is one word on the kernel command line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/util/result.h"

namespace ringbox::host::domain {

// Xen copies at most 1024 bytes of a PV guest's command line, the NUL included
// (MAX_GUEST_CMDLINE in xen/include/public/xen.h); a longer one is truncated silently.
inline constexpr size_t kMaxGuestCmdlineBytes = 1023;
// A PV Linux kernel with the ringbox initramfs needs about 64 MiB to boot; below 32 MiB the
// kernel does not even unpack its initramfs. The upper bound only catches typos (MiB vs KiB).
inline constexpr uint32_t kMinMemoryMib = 32;
inline constexpr uint32_t kMaxMemoryMib = 1024 * 1024;
// Xen's PV limit is far higher; a job sandbox with more vCPUs than this is a typo.
inline constexpr uint32_t kMaxVcpus = 128;
// xenconsoled names the console log guest-<name>.log and xl prints the name in a column:
// keep names short and file-name safe.
inline constexpr size_t kMaxDomainNameBytes = 64;
inline constexpr char kAgentArgsKey[] = "ringbox.args=";

struct DomainConfig {
  std::string name;                          // empty: default_domain_name()
  std::string kernel;                        // the guest kernel, an uncompressed ELF vmlinux
  std::string ramdisk;                       // the guest initramfs
  std::string kernel_args = "console=hvc0";  // put before ringbox.args=
  std::vector<std::string> agent_args;       // for ringbox-agent, through ringbox.args=
  uint32_t memory_mib = 256;
  uint32_t vcpus = 1;
  std::optional<uint32_t> pin_cpu;  // hard affinity of every vCPU to this physical CPU
};

// Standard base64 with padding (RFC 4648 section 4), no line breaks.
std::string base64_encode(std::string_view bytes);

// The value of ringbox.args= for `args`. Fails when an argument holds a LF (it ends an
// argument in the encoding) or a NUL (the guest's shell cannot hold it).
Result<std::string> encode_agent_args(const std::vector<std::string>& args);

// kernel_args, then " ringbox.args=<encoded>" when there are agent arguments. Fails when the
// result does not fit the PV command line, or kernel_args already sets ringbox.args= or holds
// a byte that is not printable ASCII.
Result<std::string> guest_cmdline(const DomainConfig& cfg);

// 1..64 bytes of [A-Za-z0-9._-], not all digits (xl would read it as a domain id) and not
// Domain-0.
Result<void> validate_domain_name(std::string_view name);

// Everything that can be checked without Xen: name, memory, vCPUs, the command line, and that
// the kernel and ramdisk are readable regular files. Does not check pin_cpu against the host
// (XenDomain::create does, it needs libxl).
Result<void> validate_domain_config(const DomainConfig& cfg);

// "ringbox-<pid>-<n>": unique among the domains this process creates, and the pid keeps
// concurrent ringbox-host processes apart.
std::string default_domain_name();

// True when `path` starts with the ELF magic. A bzImage works too, but libxenguest then
// decompresses it in dom0 userspace, which takes seconds (minutes under QEMU TCG).
bool looks_like_elf(const std::string& path);

}  // namespace ringbox::host::domain
