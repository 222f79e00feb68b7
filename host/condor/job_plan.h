// What the HTCondor wrapper asks ringbox's service for, worked out from the job's ClassAd, the
// slot's ClassAd, the wrapper's argv and its environment. Pure (no I/O), so every rule is
// unit-tested.
//
// Attributes ringbox reads from the job ad (set in a submit file as `+Name = value`; all
// optional; docs/condor.md):
//   RingboxMode       string  "auto" | "remote-io" | "lazy-file" | "eager"   default "lazy-file"
//   RingboxInputs     string  eager: inputs to push before the job starts, comma- or
//                             space-separated paths relative to the scratch dir; default: the
//                             base names of TransferInput (what HTCondor put in the scratch
//                             dir); the executable, when HTCondor put it there, is always pushed
//   RingboxImage      string  the guest image, a name the admin listed in the service policy
//                             (image.NAME); default "default"
//   RingboxCacheMb    integer lazy-file: the guest's cache limit in MiB; default its free space
//   RingboxRunAsRoot  boolean run the job as root inside its domain (xen only, if the policy
//                             allows); default false: uid/gid 65534
//   RingboxFiles      string  where the guest's files are: "scratch" (the scratch dir) or
//                             "submit" (the job's Iwd on the submit machine, through the
//                             starter's Chirp IO proxy and the shadow); default "submit" when
//                             WantIOProxy is true, else "scratch"; "submit" needs WantIOProxy
// and HTCondor's own: RequestMemory (MiB) and RequestCpus size the domain, capped by the slot's
// Memory and Cpus (machine ad); JobMaxVacateTime and the slot's MachineMaxVacateTime bound how
// long a stop may take; TransferInput (see RingboxInputs); GlobalJobId labels the service's log.
// A value of the wrong type (RingboxMode = 3) is an error, never silently ignored.
#pragma once

#include <string>
#include <vector>

#include "host/condor/class_ad.h"
#include "host/service/service_protocol.h"

namespace ringbox::host::condor {

inline constexpr int kDefaultMaxVacateTimeS = 600;  // HTCondor's MaxVacateTime (param_info.in)

struct JobPlan {
  service::ServiceMessage request;                     // op=run and its fields (no descriptors)
  int stop_budget_ms = kDefaultMaxVacateTimeS * 1000;  // from SIGTERM to the wrapper's exit
  // RingboxFiles = "submit": the wrapper adds the text of $_CONDOR_CHIRP_CONFIG (read with the
  // job's rights) to the request as chirp_config.
  bool submit_files = false;
  // SIGTERM saves the job's domain into ringbox.restore in the scratch dir (docs/vacate.md):
  // only when HTCondor carries that file to the next run, i.e. the job's
  // WhenToTransferOutput is ON_EXIT_OR_EVICT (condor_submit's when_to_transfer_output), or the
  // job says +RingboxSaveOnVacate = true. Otherwise a vacate stops the job (it starts afresh).
  bool save_on_vacate = false;
  // +RingboxCheckpointMinutes = M (with save_on_vacate): every M minutes the wrapper saves the
  // domain as on a vacate and exits 85, HTCondor's checkpoint_exit_code (docs/condor.md). 0: off.
  double checkpoint_minutes = 0;
};

// argv: the job's command as HTCondor gave it (argv[0] the executable's full path, usually in
// the scratch dir); env: NAME=VALUE of the wrapper's environment; scratch_dir: the export.
// Errors (kInvalidArgument) name the attribute and what to write instead.
Result<JobPlan> plan_job(const ClassAd& job, const ClassAd& machine,
                         const std::vector<std::string>& argv, const std::vector<std::string>& env,
                         const std::string& scratch_dir);

// An integer attribute, or an expression HTCondor writes unevaluated that is a product of
// integers ("10 * 60", MachineMaxVacateTime's default). nullopt otherwise.
std::optional<int64_t> integer_or_product(const ClassAd& ad, std::string_view name);

}  // namespace ringbox::host::condor
