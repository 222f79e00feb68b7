#include "host/service/job_request.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>

#include "shared/protocol/codec.h"
#include "shared/protocol/job_spec.h"

namespace ringbox::host::service {
namespace {

Error refuse(const std::string& why) {
  return make_error(Errc::kInvalidArgument, why);
}

Result<uint32_t> number_field(const ServiceMessage& m, const char* key, uint32_t fallback) {
  std::string v = m.get(key);
  if (v.empty()) return fallback;
  uint32_t out = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), out);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size())
    return refuse(std::string("the request's ") + key + " is not a whole number: '" + v + "'");
  return out;
}

std::string fd_path(int fd) {
  return "/proc/self/fd/" + std::to_string(fd);
}

}  // namespace

Result<std::optional<chirp::Endpoint>> submit_side_endpoint(const ServiceMessage& m) {
  std::string files = m.get("files", "scratch");
  if (files == "scratch") {
    if (m.has("chirp_config")) return refuse("chirp_config is only taken with files=submit");
    return std::optional<chirp::Endpoint>();
  }
  if (files != "submit")
    return refuse("files '" + files + "' is not where ringbox finds files (scratch, submit)");
  if (!m.has("chirp_config"))
    return refuse("files=submit needs the job's .chirp.config (chirp_config)");
  auto ep = chirp::parse_chirp_config(m.get("chirp_config"), "the job's .chirp.config");
  if (!ep) return refuse(ep.error().message());
  in_addr v4{};
  in6_addr v6{};
  bool loopback = false;
  if (::inet_pton(AF_INET, ep->host.c_str(), &v4) == 1)
    loopback = (ntohl(v4.s_addr) >> 24) == 127;
  else if (::inet_pton(AF_INET6, ep->host.c_str(), &v6) == 1)
    loopback = IN6_IS_ADDR_LOOPBACK(&v6);
  if (!loopback)
    return refuse("the job's .chirp.config names " + ep->host +
                  ", not a loopback address: ringbox relays only to the starter's IO proxy on "
                  "this machine (a Docker job's proxy is not supported)");
  return std::optional<chirp::Endpoint>(std::move(*ep));
}

Result<void> check_request_fds(const std::vector<UniqueFd>& fds) {
  if (fds.size() != 3 && fds.size() != 4)
    return refuse(
        "a job request carries 3 descriptors (export, stdout, stderr) and maybe a "
        "restore file, not " +
        std::to_string(fds.size()));
  struct stat st;
  if (::fstat(fds[0].get(), &st) != 0 || !S_ISDIR(st.st_mode))
    return refuse("the export descriptor is not a directory");
  for (int i = 1; i <= 2; ++i) {
    int fl = ::fcntl(fds[i].get(), F_GETFL);
    if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY || (fl & O_PATH))
      return refuse(std::string("the job's ") + (i == 1 ? "stdout" : "stderr") +
                    " descriptor is not open for writing");
    if (::fstat(fds[i].get(), &st) != 0 || S_ISDIR(st.st_mode))
      return refuse(std::string("the job's ") + (i == 1 ? "stdout" : "stderr") +
                    " descriptor is a directory");
  }
  if (fds.size() == 4) {
    int fl = ::fcntl(fds[3].get(), F_GETFL);
    if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY || (fl & O_PATH) ||
        ::fstat(fds[3].get(), &st) != 0 || !S_ISREG(st.st_mode))
      return refuse("the restore file descriptor is not a regular file open for reading");
  }
  return ok();
}

int vacate_ack_budget_ms(int grace_ms) {
  return std::clamp(grace_ms / 2, kMinVacateAckMs, kMaxVacateAckMs);
}

Result<run::RunConfig> build_run_config(const ServiceMessage& m, const ServicePolicy& policy,
                                        const std::vector<int>& fds) {
  run::RunConfig cfg;
  cfg.transport = policy.transport;
  std::string mode = m.get("mode", "lazy-file");
  if (!proto::parse_job_mode(mode, cfg.spec.mode) || cfg.spec.mode == proto::JobMode::kNode)
    return refuse("mode '" + mode +
                  "' is not one ringbox runs (auto, remote-io, lazy-file, eager)");
  cfg.spec.argv = m.all("arg");
  if (cfg.spec.argv.empty() || cfg.spec.argv[0].empty()) return refuse("the job has no command");
  cfg.spec.env = m.all("env");
  bool has_path = false;
  for (const auto& e : cfg.spec.env) has_path = has_path || e.rfind("PATH=", 0) == 0;
  if (!has_path) cfg.spec.env.insert(cfg.spec.env.begin(), "PATH=/usr/local/bin:/usr/bin:/bin");
  cfg.spec.cwd = m.get("cwd", ".");
  cfg.spec.inputs = m.all("input");
  for (const auto* list : {&cfg.spec.inputs})
    for (const auto& p : *list)
      if (!proto::is_canonical_path(p))
        return refuse("input '" + p + "' is not a path inside the scratch directory");
  if (cfg.spec.cwd != "." && !proto::is_canonical_path(cfg.spec.cwd))
    return refuse("cwd '" + cfg.spec.cwd + "' is not a path inside the scratch directory");

  bool root = m.get("root") == "1";
  if (root && (!policy.allow_root_in_guest || policy.transport != Transport::kXen))
    return refuse(policy.transport != Transport::kXen
                      ? "RingboxRunAsRoot: refused on the local transport (the job would be "
                        "root on this machine)"
                      : "RingboxRunAsRoot: refused by policy (allow_root_in_guest = false)");
  cfg.spec.uid = root ? 0 : proto::kDefaultJobUid;
  cfg.spec.gid = root ? 0 : proto::kDefaultJobGid;
  if (auto v = proto::validate_job_spec(cfg.spec); !v) return refuse(v.error().message());

  auto memory = number_field(m, "memory_mib", 0);
  auto vcpus = number_field(m, "vcpus", 1);
  auto cache = number_field(m, "cache_mb", 0);
  auto grace = number_field(m, "grace_ms", kDefaultStopGraceMs);
  for (auto* r : {&memory, &vcpus, &cache, &grace})
    if (!*r) return std::move(r->error());
  uint32_t mem = *memory == 0 ? policy.default_memory_mib : *memory;
  if (mem > policy.max_memory_mib)
    return refuse("the job asks for " + std::to_string(mem) + " MiB; this node's ringbox " +
                  "policy allows at most " + std::to_string(policy.max_memory_mib) +
                  " MiB per job (max_memory_mib)");
  if (mem < 64) mem = 64;  // a guest kernel and its agent need this much
  if (*vcpus == 0 || *vcpus > policy.max_vcpus)
    return refuse("the job asks for " + std::to_string(*vcpus) + " vCPUs; this node's ringbox " +
                  "policy allows 1.." + std::to_string(policy.max_vcpus) + " (max_vcpus)");
  std::string image = m.get("image", "default");
  auto img = policy.images.find(image);
  if (img == policy.images.end())
    return refuse("no guest image named '" + image + "' on this node (RingboxImage; the admin " +
                  "lists them as image.NAME in the service policy)");
  cfg.domain.kernel = img->second.kernel;
  cfg.domain.ramdisk = img->second.ramdisk;
  cfg.domain.memory_mib = mem;
  cfg.domain.vcpus = *vcpus;
  cfg.cache_max_mb = *cache;
  cfg.shutdown_grace_ms =
      std::min<int>(static_cast<int>(std::min<uint32_t>(*grace, kMaxStopGraceMs)), kMaxStopGraceMs);
  cfg.vacate_ack_timeout_ms = vacate_ack_budget_ms(cfg.shutdown_grace_ms);
  cfg.max_output_bytes = policy.max_output_mb;  // RunConfig counts MiB
  cfg.agent_path = policy.agent;
  if (fds.size() != 3) return refuse("internal: the request's descriptors are missing");
  cfg.export_dir = fd_path(fds[0]);
  cfg.stdout_path = fd_path(fds[1]);
  cfg.stderr_path = fd_path(fds[2]);
  if (cfg.transport == Transport::kXen) {
    cfg.accept_timeout_ms = 60000;
    cfg.guest_exit_wait_ms = 30000;
    if (auto v = domain::validate_domain_config(cfg.domain); !v)
      return refuse("guest image '" + image + "': " + v.error().message());
  }
  return cfg;
}

}  // namespace ringbox::host::service
