#include "host/condor/wrapper_loop.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <span>
#include <utility>

#include "host/condor/saved_streams.h"
#include "host/service/service_protocol.h"
#include "shared/util/unique_fd.h"

namespace ringbox::host::condor {
namespace {
using Clock = std::chrono::steady_clock;
using service::kRestoreName;
using service::kRestorePart;
using service::kRestoreRejected;

WrapperEnd exit_status(int status) {
  WrapperEnd e;
  e.status = status;
  return e;
}
WrapperEnd die_by(int sig) {
  WrapperEnd e;
  e.signal = sig;
  return e;
}
WrapperEnd failure(std::string message) {
  WrapperEnd e;
  e.failure = std::move(message);
  return e;
}

// A fresh, empty restore file part for one save, made with this user's rights.
UniqueFd create_part(int dir) {
  return UniqueFd(
      ::openat(dir, kRestorePart, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
}
}  // namespace

WrapperEnd run_wrapper_loop(const JobPlan& plan, const WrapperIo& io) {
  std::ostream& err = io.err ? *io.err : std::cerr;
  const int dir = io.scratch;
  bool stopping = false;
  bool vacating = false;  // a save into kRestorePart was asked for
  std::string transport;  // from op=started: "xen" can be vacated
  bool checkpointing = false;
  // A stop signal that came during a checkpoint, acted on if the checkpoint is not taken, and
  // when it came (HTCondor's vacate time counts from then).
  int held_signal = 0;
  auto held_at = Clock::time_point::max();
  const auto checkpoint_period =
      std::chrono::milliseconds(static_cast<int64_t>(plan.checkpoint_minutes * 60000));
  auto checkpoint_at = Clock::time_point::max();  // counted from op=started: the job's own time
  auto give_up_at = Clock::time_point::max();
  // HTCondor's vacate time, less a margin, from `since` (the stop signal).
  auto stop_deadline = [&](Clock::time_point since) {
    return since + std::chrono::milliseconds(int64_t{plan.stop_budget_ms} * 95 / 100);
  };
  auto give_up_later = [&](Clock::time_point since) { give_up_at = stop_deadline(since); };
  // The service's answer to a stop signal: SIGTERM is HTCondor's vacate (kill_sig), which
  // saves a xen job instead of losing it; the others stop it.
  auto begin_stop = [&](int sig, Clock::time_point since) {
    stopping = true;
    service::ServiceMessage stop;
    UniqueFd part;
    if (sig == SIGTERM && transport == "xen" && plan.save_on_vacate) part = create_part(dir);
    if (part) {
      stop.add("op", "vacate");
      int pfd = part.get();
      vacating = service::send_service_message(io.service, stop, std::span<const int>(&pfd, 1))
                     .has_value();
    } else {
      stop.add("op", "stop");
      (void)service::send_service_message(io.service, stop);
    }
    give_up_later(since);
  };
  for (;;) {
    int timeout = -1;
    if (!stopping && transport == "xen" && checkpoint_at != Clock::time_point::max()) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(checkpoint_at - Clock::now())
              .count();
      if (left <= 0) {
        // A checkpoint: the same save as a vacate, then exit 85 so HTCondor carries the file
        // and relaunches the job from it. checkpoint=1: a guest that cannot be saved now
        // refuses, and the job goes on (op=refused) instead of being destroyed.
        checkpoint_at = Clock::time_point::max();
        UniqueFd part = create_part(dir);
        service::ServiceMessage m;
        m.add("op", "vacate");
        m.add("checkpoint", "1");
        int pfd = part.get();
        if (part && service::send_service_message(io.service, m, std::span<const int>(&pfd, 1))) {
          stopping = vacating = checkpointing = true;
          give_up_later(Clock::now());
        } else {
          err << "ringbox: cannot checkpoint the job (" << kRestorePart << "): it goes on without"
              << std::endl;
        }
        continue;
      }
      timeout = static_cast<int>(std::min<int64_t>(left, 1 << 30));
    }
    if (give_up_at != Clock::time_point::max()) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(give_up_at - Clock::now()).count();
      if (left <= 0) {
        // The service kills the guest when our end closes (the caller hangs up).
        err << "ringbox: the job did not stop in time; its guest is killed" << std::endl;
        if (vacating) ::unlinkat(dir, kRestorePart, 0);
        return die_by(SIGTERM);
      }
      timeout = static_cast<int>(left);
    }
    pollfd p[2] = {{io.signals, POLLIN, 0}, {io.service, POLLIN, 0}};
    if (::poll(p, 2, timeout) < 0 && errno != EINTR)
      return failure(std::string("poll: ") + std::strerror(errno));
    if (p[0].revents & POLLIN) {
      signalfd_siginfo si;
      while (::read(io.signals, &si, sizeof(si)) == sizeof(si)) {
        int sig = static_cast<int>(si.ssi_signo);
        if (sig == SIGQUIT) return die_by(SIGQUIT);
        if (!stopping) {
          begin_stop(sig, Clock::now());
        } else if (checkpointing && (held_signal == 0 || held_signal == SIGTERM)) {
          // The checkpoint's save ends the job anyway; one not taken does not. A later
          // remove or hold (not SIGTERM) replaces a held SIGTERM: stop rather than save.
          if (held_signal == 0) {
            held_at = Clock::now();
            give_up_at = std::min(give_up_at, stop_deadline(held_at));
          }
          held_signal = sig;
        }
      }
    }
    if (!(p[1].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    auto m = service::recv_service_message(io.service, 10000);
    if (!m) {
      if (vacating) ::unlinkat(dir, kRestorePart, 0);
      if (stopping) return die_by(SIGTERM);
      return failure("ringbox's service ended the job without a result (" + m.error().message() +
                     "); see the service's log (`journalctl -u ringbox-hostd`)");
    }
    if (m->get("op") == "started") {
      transport = m->get("transport");
      if (plan.checkpoint_minutes > 0) checkpoint_at = Clock::now() + checkpoint_period;
      std::string r = m->get("restore");
      if (r == "resumed") {
        // Used: a later exit must never ship it again.
        ::unlinkat(dir, kRestoreName, 0);
      } else if (!r.empty()) {
        err << "ringbox: " << r << std::endl;
        ::renameat(dir, kRestoreName, dir, kRestoreRejected);
      }
      if (!r.empty()) drop_saved_streams(dir);
      continue;
    }
    if (m->get("op") == "refused" && checkpointing) {
      // No checkpoint this time (a file request outlasted the vacate's budget, or the save
      // failed and the domain was resumed): the job runs on, the next one a period later.
      err << "ringbox: no checkpoint this time (" << m->get("message", "the guest refused")
          << "); the job goes on" << std::endl;
      ::unlinkat(dir, kRestorePart, 0);
      stopping = vacating = checkpointing = false;
      give_up_at = Clock::time_point::max();
      checkpoint_at = Clock::now() + checkpoint_period;
      if (held_signal != 0) begin_stop(std::exchange(held_signal, 0), held_at);
      continue;
    }
    if (m->get("op") != "result") continue;
    std::string kind = m->get("kind");
    if (kind == "vacated" && vacating) {
      // The job's output so far goes with the restore file: the relaunch's starter truncates
      // the streams. Without it a resume would lose that output: start afresh instead.
      if (auto kept = save_streams(dir, io.streams); !kept) {
        err << "ringbox: cannot keep the job's output across the vacate (" << kept.error().message()
            << "): the job will start from the beginning" << std::endl;
        drop_saved_streams(dir);
        ::unlinkat(dir, kRestorePart, 0);
        return die_by(SIGTERM);
      }
      // Complete and synced by the service: only now does it get the name a relaunch trusts.
      if (::renameat(dir, kRestorePart, dir, kRestoreName) != 0) {
        err << "ringbox: cannot rename the saved job " << kRestorePart << " to " << kRestoreName
            << ": " << std::strerror(errno) << std::endl;
        return die_by(SIGTERM);
      }
      ::fsync(dir);
      return exit_status(checkpointing ? kCheckpointStatus : kVacatedStatus);
    }
    if (vacating) {
      // No save: nothing may be resumed from this scratch dir (a job could have left a file
      // under the restore file's name).
      ::unlinkat(dir, kRestorePart, 0);
      ::unlinkat(dir, kRestoreName, 0);
      drop_saved_streams(dir);
    }
    int value = std::atoi(m->get("value", "0").c_str());
    if (kind == "exited") return exit_status(value);
    if (kind == "signaled" && value > 0 && value < 65) return die_by(value);
    if (stopping) return die_by(SIGTERM);
    return failure(m->get("message", "ringbox's service reported a failure"));
  }
}

}  // namespace ringbox::host::condor
