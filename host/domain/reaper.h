// DomainReaper: the owner's side of "no orphaned domains".
//
// Before XenDomain asks libxl for a domain it starts a reaper: a small process (this same
// binary, `ringbox-host domain-reaper`, see reaper_main.h) that is not our child and sits in
// its own session, holding one end of a socket pair. It waits for a line or for end of file:
//   - "release" (XenDomain::destroy() has destroyed the domain, or release() hands it over):
//     it answers "released" and exits without touching anything;
//   - end of file without "release": the owner is gone however it died (exit, crash, SIGKILL,
//     OOM kill), because the kernel closes a dead process's descriptors. It destroys every
//     domain whose UUID is the one it was given, then exits.
// The UUID is chosen here, before the domain exists, and libxl hands it to Xen at creation,
// so the reaper recognises the domain even when the owner dies half-way through creating it
// and never learnt its domain id, and never mistakes a later domain with a reused id for it.
//
// Why a separate process: nothing inside a SIGKILLed process runs. Why not our child: no
// zombie to reap, and no fight with libxl over SIGCHLD (libxl_event.h). Why its own session:
// Ctrl-C, a terminal hangup or a kill of our process group must not take the reaper down with
// the owner. What it cannot survive: being SIGKILLed itself, or the whole cgroup being killed
// (HTCondor's job cleanup may do that); see docs/domain-lifecycle.md.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "shared/util/result.h"
#include "shared/util/unique_fd.h"

namespace ringbox::host::domain {

// The reaper runs this program; it must route the reaper command to reaper_main().
inline constexpr char kSelfExe[] = "/proc/self/exe";
// How long the reaper may take to exec and open its libxl context. An execute point that
// starts many jobs at once (HTCondor starts every matched slot in the same negotiation cycle)
// makes dom0 exec that many reapers together: 8 at once took more than 10 s in the nested
// harness's one dom0 vCPU, so the bound is generous. A reaper that never reports ready still
// ends the run with an error, never a hang.
inline constexpr int kReaperReadyTimeoutMs = 60000;
// How long it may take to acknowledge "release".
inline constexpr int kReaperReleaseTimeoutMs = 5000;

class DomainReaper {
 public:
  struct Target {
    std::string uuid;  // canonical text form, as libxl prints it
    std::string name;  // for its log lines
  };

  DomainReaper() = default;
  // Starts the reaper for `target` and waits until it reports ready (its libxl context is
  // open). `exe` is the ringbox-host binary to run.
  static Result<DomainReaper> spawn(const Target& target, const std::string& exe = kSelfExe);
  DomainReaper(const DomainReaper&) = delete;
  DomainReaper& operator=(const DomainReaper&) = delete;
  DomainReaper(DomainReaper&& o) noexcept
      : sock_(std::move(o.sock_)), pid_(std::exchange(o.pid_, 0)) {}
  DomainReaper& operator=(DomainReaper&& o) noexcept {
    if (this != &o) {
      sock_ = std::move(o.sock_);
      pid_ = std::exchange(o.pid_, 0);
    }
    return *this;
  }
  // Closing without release() is the order to destroy: that is the fail-safe direction.
  ~DomainReaper() = default;

  explicit operator bool() const { return static_cast<bool>(sock_); }
  int pid() const { return pid_; }
  // Readable (end of file) once the reaper has died.
  int fd() const { return sock_.get(); }
  bool alive() const;

  // Tells the reaper the domain id libxl gave the domain (its log names it).
  Result<void> announce_domid(uint32_t domid);
  // Stands the reaper down and waits for its acknowledgement. Afterwards this object is empty.
  Result<void> release();

 private:
  DomainReaper(UniqueFd sock, int pid) : sock_(std::move(sock)), pid_(pid) {}
  UniqueFd sock_;
  int pid_ = 0;
};

}  // namespace ringbox::host::domain
