// `ringbox-host run`: the options of one job run, and their parsing.
//
//   ringbox-host run --transport local|tcp|xen --mode M
//       (--export DIR | --submit chirp://HOST:PORT[/DIR] | --chirp-config FILE)
//       [--input P]... [--output P]...
//       [--readable P]... [--writable P]... [--stdout F] [--stderr F] [--root]
//       [--transfer-log F] [xen: --kernel K --ramdisk R --memory-mib M --vcpus N --pin-cpu C
//       --kernel-args S --name N] -- CMD ARGS...
//
// Parsing checks everything it can before anything starts (mode, paths, the command), so a
// mistake is a one-line message and exit status 2, never a half-started job.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "host/domain/domain_config.h"
#include "host/run/restore_key.h"
#include "shared/protocol/job_spec.h"
#include "shared/transport/transport_kind.h"
#include "shared/util/result.h"

namespace ringbox::host::run {

struct RunConfig {
  Transport transport = Transport::kLocal;
  proto::JobSpec spec;       // argv, env, cwd, mode, inputs, outputs, uid/gid
  std::string export_dir;    // --export: the job's files in a local directory (the default)
  std::string submit_url;    // --submit chirp://HOST:PORT[/DIR]: the files through Chirp
  std::string chirp_config;  // --chirp-config FILE: the same, from HTCondor's .chirp.config
  std::vector<std::string> readable;
  std::vector<std::string> writable;
  std::string stdout_path = "_condor_stdout";
  std::string stderr_path = "_condor_stderr";
  uint64_t max_output_bytes = 0;  // per stream; 0 = the JobSession default
  std::string transfer_log;       // empty: none; else what moved between guest and export
  uint64_t cache_max_mb = 0;      // lazy-file cache limit passed to the agent; 0 = its free space
  // --confine-user USER|UID:GID: serve the guest's file requests from a confined process
  // running as that user (host/confine; docs/file-service.md, "The confined service"). Local
  // and xen transports, --export only.
  std::string confine_user;  // empty: served inside ringbox-host, as before
  uint32_t confine_uid = 0;
  uint32_t confine_gid = 0;
  // local and tcp transports
  std::string agent_path;  // empty: ringbox-agent beside this ringbox-host
  // xen transport: the domain (kernel, ramdisk, memory, vCPUs, pinning, name, kernel
  // arguments); agent_args are filled by the launcher. Checked at parse time.
  domain::DomainConfig domain;
  // Vacate (docs/vacate.md): SIGUSR1 saves the domain into restore_file; a run that finds
  // restore_file resumes from it. Relative paths are taken from the current directory (under
  // HTCondor: the job's scratch directory, which it carries to the next machine).
  std::string restore_file = "ringbox.restore";
  bool restore_zstd = true;  // compress the restore file (--restore-compression)
  // The key whose MAC a restore file must carry to be resumed, made on first use
  // (--restore-key; restore_key.h). Execute points that resume each other's jobs share it.
  std::string restore_key_file = kDefaultRestoreKeyFile;
  // Balloon the guest down to what it says it needs before the save (--vacate-balloon). Off by
  // default: a 128 MiB guest ballooned to 96 MiB was OOM-killed right after the restore, before
  // its balloon driver had taken the memory back (nested test, docs/vacate.md).
  bool vacate_balloon = false;
  int vacate_ack_timeout_ms = 30000;  // the guest's time to get ready before it is destroyed
  // --checkpoint-every MINUTES (xen): after this long, save the domain into restore_file and
  // exit with kCheckpointStatus (85, HTCondor's checkpoint_exit_code); the relaunch resumes it
  // and counts again. 0: never.
  double checkpoint_every_s = 0;
  // both
  int accept_timeout_ms = 30000;  // xen: 60000 unless given (a domain boots first)
  int workers = 4;
  int spin_us = 50;
  int shutdown_grace_ms = 10000;  // after a shutdown event, before the guest is killed
  // After the agent's connection ended: how long the guest may take to end by itself before
  // it is killed (a process exits at once; a domain runs its init's power-off first).
  int guest_exit_wait_ms = 5000;  // xen: 30000
};

// Where the guest image is in the nested-Xen dom0 (kernel-image/build-dom0-image), the
// defaults of --kernel and --ramdisk.
inline constexpr double kMinCheckpointMinutes = 0.05;  // --checkpoint-every: 3 s
inline constexpr char kDefaultGuestKernel[] = "/boot/ringbox/vmlinux";
inline constexpr char kDefaultGuestRamdisk[] = "/boot/ringbox/initrd.cpio.lz4";

// What parse_run_args found: a config to run, or a reason to exit at once.
struct ParsedRun {
  enum class What { kRun, kHelp, kBadUsage } what = What::kRun;
  RunConfig cfg;
  std::string message;  // help text or the usage error
};

ParsedRun parse_run_args(const std::vector<std::string>& args);

}  // namespace ringbox::host::run
