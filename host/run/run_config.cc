#include "host/run/run_config.h"

#include <pwd.h>
#include <sys/stat.h>

#include <boost/program_options.hpp>
#include <charconv>
#include <sstream>

#include "shared/chirp/endpoint.h"
#include "shared/protocol/codec.h"

namespace po = boost::program_options;

namespace ringbox::host::run {
namespace {

constexpr const char* kDefaultJobPath = "PATH=/usr/local/bin:/usr/bin:/bin";
// A domain boots its kernel and init before its agent can attach: seconds on hardware, tens
// of seconds under the nested harness's QEMU TCG.
constexpr int kXenAcceptTimeoutMs = 60000;
// After its agent is done the guest's init waits 1 s (so the console drains) and powers off.
constexpr int kXenPoweroffWaitMs = 30000;
// Spinning longer than this only burns CPU: a sleeping doorbell wakes within milliseconds.
constexpr int kMaxSpinUs = 100000;

// "./a/b/" -> "a/b": the forms people type, brought to wire form; the rest is left for
// is_canonical_path to refuse.
std::string tidy_path(std::string p) {
  while (p.size() > 2 && p.compare(0, 2, "./") == 0) p.erase(0, 2);
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p.empty() ? "." : p;
}

ParsedRun bad(std::string msg) {
  ParsedRun r;
  r.what = ParsedRun::What::kBadUsage;
  r.message = std::move(msg);
  return r;
}

// The options of one transport make no sense with the other: say so rather than ignore them.
// For xen, everything about the domain that can be checked without Xen is checked here
// (kernel and ramdisk readable, memory, name, command line), so a typo is status 2, not a
// half-created domain.
Result<void> check_transport_options(RunConfig& cfg, const po::variables_map& vm, int pin_cpu) {
  if (cfg.transport == Transport::kLocal || cfg.transport == Transport::kTcp) {
    for (const char* o :
         {"kernel", "ramdisk", "memory-mib", "vcpus", "pin-cpu", "kernel-args", "name",
          "restore-file", "restore-compression", "vacate-ack-timeout-ms", "checkpoint-every"})
      if (vm.count(o) && !vm[o].defaulted())
        return make_error(Errc::kInvalidArgument,
                          std::string("--") + o + " is for --transport xen (a domain); the " +
                              transport_name(cfg.transport) + " transport runs a process");
    return ok();
  }
  if (!cfg.agent_path.empty())
    return make_error(Errc::kInvalidArgument,
                      "--agent is for --transport local; with xen the agent is the one in the "
                      "guest image (--ramdisk)");
  if (vm.count("pin-cpu")) {
    if (pin_cpu < 0) return make_error(Errc::kInvalidArgument, "--pin-cpu needs a CPU number >= 0");
    cfg.domain.pin_cpu = static_cast<uint32_t>(pin_cpu);
  }
  if (vm["accept-timeout-ms"].defaulted()) cfg.accept_timeout_ms = kXenAcceptTimeoutMs;
  cfg.guest_exit_wait_ms = kXenPoweroffWaitMs;
  return domain::validate_domain_config(cfg.domain);
}

// --confine-user USER or UID:GID: the user, and the combinations the confined service
// supports today.
Result<void> check_confinement(RunConfig& cfg) {
  if (cfg.confine_user.empty()) return ok();
  if (cfg.transport == Transport::kTcp || cfg.export_dir.empty() || cfg.checkpoint_every_s > 0)
    return make_error(Errc::kInvalidArgument,
                      "--confine-user works with --transport local or xen and --export, without "
                      "--checkpoint-every, for now (docs/file-service.md, \"The confined "
                      "service\")");
  const std::string& u = cfg.confine_user;
  auto number = [](std::string_view text, uint32_t& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size() && !text.empty();
  };
  if (auto colon = u.find(':'); colon != std::string::npos) {
    // Numbers, for machines without that user in /etc/passwd (the nested harness's dom0).
    if (!number(std::string_view(u).substr(0, colon), cfg.confine_uid) ||
        !number(std::string_view(u).substr(colon + 1), cfg.confine_gid))
      return make_error(Errc::kInvalidArgument,
                        "--confine-user " + u + ": give a user name, a uid, or UID:GID");
  } else {
    const passwd* pw = ::getpwnam(u.c_str());
    uint32_t uid = 0;
    if (!pw && number(u, uid)) pw = ::getpwuid(uid);
    if (!pw)
      return make_error(Errc::kInvalidArgument,
                        "--confine-user " + u + ": no such user on this machine (or give UID:GID)");
    cfg.confine_uid = pw->pw_uid;
    cfg.confine_gid = pw->pw_gid;
  }
  if (cfg.confine_uid == 0 || cfg.confine_gid == 0)
    return make_error(Errc::kInvalidArgument,
                      "--confine-user must name an unprivileged user (the one who owns the "
                      "export), not root nor one whose group is root");
  return ok();
}

}  // namespace

ParsedRun parse_run_args(const std::vector<std::string>& all_args) {
  ParsedRun out;
  RunConfig& cfg = out.cfg;
  // Everything after "--" is the job's command line, taken as is.
  std::vector<std::string> args, command;
  bool in_command = false;
  for (const auto& a : all_args) {
    if (!in_command && a == "--") {
      in_command = true;
      continue;
    }
    (in_command ? command : args).push_back(a);
  }

  std::string mode;
  bool root = false;
  std::vector<std::string> env;
  int pin_cpu = -1;
  std::string restore_compression;
  double checkpoint_minutes = 0;
  po::options_description desc(
      "ringbox-host run: run one job in a guest and serve its files and output\n"
      "usage: ringbox-host run [--mode M] (--export DIR | --submit chirp://HOST:PORT[/DIR] | "
      "--chirp-config FILE) [options] -- CMD ARGS...");
  desc.add_options()("help,h", "show this help")(
      "transport", po::value(&cfg.transport)->default_value(Transport::kLocal),
      "local: the agent as a process on this machine (isolates nothing); tcp: the same, over "
      "TCP on the loopback instead of a ring (the network path, for comparison); xen: a PV "
      "domain")("mode", po::value(&mode)->default_value("auto"),
                "auto | remote-io | lazy-file | eager (docs/modes.md)")(
      "export", po::value(&cfg.export_dir), "the job's files in this directory (the default)")(
      "submit", po::value(&cfg.submit_url),
      "the job's files on a Chirp server (ringbox-submitd, chirp_server): chirp://HOST:PORT[/DIR]")(
      "chirp-config", po::value(&cfg.chirp_config),
      "the job's files through HTCondor's IO proxy or submitd: its .chirp.config file")(
      "input", po::value(&cfg.spec.inputs), "a declared input, relative to --export (repeat)")(
      "output", po::value(&cfg.spec.outputs), "a declared output, relative to --export (repeat)")(
      "readable", po::value(&cfg.readable), "policy: a path the job may read (repeat)")(
      "writable", po::value(&cfg.writable), "policy: a path the job may write (repeat)")(
      "stdout", po::value(&cfg.stdout_path)->default_value(cfg.stdout_path),
      "file for the job's stdout")("stderr",
                                   po::value(&cfg.stderr_path)->default_value(cfg.stderr_path),
                                   "file for the job's stderr")(
      "root", po::bool_switch(&root), "run the job as root in the guest (default: uid/gid 65534)")(
      "env", po::value(&env), "NAME=VALUE for the job's environment (repeat)")(
      "cwd", po::value(&cfg.spec.cwd)->default_value("."),
      "the job's working directory, relative to --export")(
      "max-output-mb", po::value(&cfg.max_output_bytes)->default_value(0),
      "limit on each of stdout and stderr in MiB (0 = 1024)")(
      "agent", po::value(&cfg.agent_path),
      "local, tcp: the ringbox-agent binary (default: beside this one)")(
      "cache-max-mb", po::value(&cfg.cache_max_mb)->default_value(0),
      "lazy-file: the guest's cache limit in MiB (0 = its free space)")(
      "workers", po::value(&cfg.workers)->default_value(cfg.workers),
      "handler threads, so slow file operations do not hold up others (>= 2)")(
      "accept-timeout-ms", po::value(&cfg.accept_timeout_ms)->default_value(cfg.accept_timeout_ms),
      "give up if the agent does not connect in time")(
      "shutdown-grace-ms", po::value(&cfg.shutdown_grace_ms)->default_value(cfg.shutdown_grace_ms),
      "after SIGTERM/SIGINT: how long the guest gets to stop the job before it is killed")(
      "spin-us", po::value(&cfg.spin_us)->default_value(cfg.spin_us),
      "both ends busy-poll this long before sleeping on the doorbell (xen: passed to the agent)")(
      "transfer-log", po::value(&cfg.transfer_log),
      "write what moved between the guest and the export to this file (docs/jobs.md)")(
      "confine-user", po::value(&cfg.confine_user),
      "serve the job's files from a confined process (namespaces, no capabilities, seccomp) "
      "running as this user (a name, a uid, or UID:GID); local or xen transport, --export "
      "(docs/file-service.md)");
  po::options_description xen_desc("--transport xen: the guest domain (docs/domain-lifecycle.md)");
  xen_desc.add_options()("kernel",
                         po::value(&cfg.domain.kernel)->default_value(kDefaultGuestKernel),
                         "guest kernel: the uncompressed ELF vmlinux of the guest image")(
      "ramdisk", po::value(&cfg.domain.ramdisk)->default_value(kDefaultGuestRamdisk),
      "guest initramfs (kernel-image/build-guest-image)")(
      "memory-mib", po::value(&cfg.domain.memory_mib)->default_value(cfg.domain.memory_mib),
      "guest memory; its tmpfs (half of it) holds the lazy-file cache and eager inputs")(
      "vcpus", po::value(&cfg.domain.vcpus)->default_value(cfg.domain.vcpus), "guest vCPUs")(
      "restore-file", po::value(&cfg.restore_file)->default_value(cfg.restore_file),
      "SIGUSR1 saves the domain here; a run that finds it resumes from it (docs/vacate.md)")(
      "restore-key", po::value(&cfg.restore_key_file)->default_value(cfg.restore_key_file),
      "the key that signs restore files and must have signed one to resume it (made if "
      "absent; copy one key to every execute point that resumes another's jobs)")(
      "restore-compression", po::value(&restore_compression)->default_value("zstd"),
      "zstd | none: how the restore file's stream is stored")(
      "vacate-balloon", po::bool_switch(&cfg.vacate_balloon),
      "before a save, balloon the guest down to what it says it needs (at least 96 MiB)")(
      "vacate-ack-timeout-ms",
      po::value(&cfg.vacate_ack_timeout_ms)->default_value(cfg.vacate_ack_timeout_ms),
      "how long the guest may take to get ready for a save before it is destroyed")(
      "checkpoint-every", po::value(&checkpoint_minutes),
      "MINUTES (decimals allowed): save the domain into --restore-file and exit 85 (HTCondor's "
      "checkpoint_exit_code); the next run resumes it (docs/condor.md)")(
      "pin-cpu", po::value(&pin_cpu), "pin every guest vCPU to this physical CPU")(
      "kernel-args", po::value(&cfg.domain.kernel_args)->default_value(cfg.domain.kernel_args),
      "guest kernel arguments (before ringbox.args=)")("name", po::value(&cfg.domain.name),
                                                       "domain name (default ringbox-<pid>-<n>)");
  desc.add(xen_desc);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    if (vm.count("help")) {
      std::ostringstream s;
      s << desc;
      out.what = ParsedRun::What::kHelp;
      out.message = s.str();
      return out;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return bad(std::string(e.what()));
  }

  if (!proto::parse_job_mode(mode, cfg.spec.mode))
    return bad("unknown mode '" + mode + "' (use auto, remote-io, lazy-file or eager)");
  if (cfg.spec.mode == proto::JobMode::kNode)
    return bad("mode '" + mode +
               "' is not implemented yet; use auto, remote-io, lazy-file or eager");
  if (command.empty()) return bad("no command to run: put it after '--'");
  if (cfg.spin_us < 0 || cfg.spin_us > kMaxSpinUs)
    return bad("--spin-us must be 0.." + std::to_string(kMaxSpinUs) + " microseconds");
  if (cfg.workers < 2)
    return bad("--workers must be at least 2 (the guest's event poll holds one)");
  int sources = !cfg.export_dir.empty() + !cfg.submit_url.empty() + !cfg.chirp_config.empty();
  if (sources != 1)
    return bad(
        "give exactly one of --export DIR, --submit chirp://HOST:PORT[/DIR] and "
        "--chirp-config FILE (where the job's files are)");
  struct stat st;
  if (!cfg.export_dir.empty() && (::stat(cfg.export_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)))
    return bad("--export " + cfg.export_dir + " is not a directory");
  if (!cfg.submit_url.empty()) {
    if (auto ep = chirp::parse_chirp_url(cfg.submit_url); !ep)
      return bad("--submit: " + ep.error().message());
  }
  if (!cfg.chirp_config.empty()) {
    if (auto ep = chirp::read_chirp_config(cfg.chirp_config); !ep)
      return bad("--chirp-config: " + ep.error().message());
  }
  if (auto t = check_transport_options(cfg, vm, pin_cpu); !t) return bad(t.error().message());
  if (restore_compression != "zstd" && restore_compression != "none")
    return bad("--restore-compression takes zstd or none, not '" + restore_compression + "'");
  cfg.restore_zstd = restore_compression == "zstd";
  if (vm.count("checkpoint-every")) {
    // At least 3 s, at most a week: a checkpoint costs a save and a restore.
    if (!(checkpoint_minutes >= kMinCheckpointMinutes && checkpoint_minutes <= 7 * 24 * 60))
      return bad("--checkpoint-every takes minutes in " + std::to_string(kMinCheckpointMinutes) +
                 "..10080, not " + std::to_string(checkpoint_minutes));
    cfg.checkpoint_every_s = checkpoint_minutes * 60;
  }
  if (auto c = check_confinement(cfg); !c) return bad(c.error().message());

  cfg.spec.argv = command;
  cfg.spec.uid = root ? 0 : proto::kDefaultJobUid;
  cfg.spec.gid = root ? 0 : proto::kDefaultJobGid;
  bool has_path = false;
  for (const auto& e : env) has_path = has_path || e.rfind("PATH=", 0) == 0;
  if (!has_path) cfg.spec.env.push_back(kDefaultJobPath);
  cfg.spec.env.insert(cfg.spec.env.end(), env.begin(), env.end());
  cfg.spec.cwd = tidy_path(cfg.spec.cwd);
  for (auto* list : {&cfg.spec.inputs, &cfg.spec.outputs, &cfg.readable, &cfg.writable}) {
    for (auto& p : *list) {
      p = tidy_path(p);
      if (!proto::is_canonical_path(p))
        return bad("'" + p + "' is not a path inside the export (relative, no '..')");
    }
  }
  if (auto v = proto::validate_job_spec(cfg.spec); !v) return bad(v.error().message());
  return out;
}

}  // namespace ringbox::host::run
