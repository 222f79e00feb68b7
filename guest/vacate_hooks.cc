#include "guest/vacate_hooks.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "guest/fs/fuse_busy.h"
#include "shared/util/log.h"

namespace ringbox::guest {
namespace {
std::atomic<pid_t> g_job{0};
std::atomic<pid_t> g_stopped{0};

// Clean page cache is memory the host's balloon can take back before the save (the save then
// writes fewer pages). Best effort: only root in the guest may, and the agent is.
void drop_clean_caches() {
  int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (::write(fd, "3", 1) != 1) log::warn("vacate: cannot drop the page cache");
  ::close(fd);
}

// After the stop: the job's FUSE requests already under way run to their end (a whole-file
// fetch needs several ring calls; the ring is still live here), until `by`: the host's budget
// for the vacate. Returns how many are still running then.
int wait_for_fuse_requests(const Deadline& by) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  int busy = fs::fuse_requests_in_progress();
  while (busy > 0 && !by.passed()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(by.slice_ms(5)));
    busy = fs::fuse_requests_in_progress();
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  if (busy == 0 && ms >= 5)
    log::info("vacate: the job's FUSE requests ended " + std::to_string(ms) + " ms after its stop");
  return busy;
}
}  // namespace

void set_vacate_job(pid_t pgid) {
  g_job.store(pgid);
}

Result<void> stop_job_for_vacate(const Deadline& by) {
  pid_t pg = g_job.load();
  if (pg <= 0) return ok();
  if (::kill(-pg, SIGSTOP) != 0) {
    log::warn("vacate: cannot stop the job's process group " + std::to_string(pg));
    return ok();
  }
  g_stopped.store(pg);
  log::info("vacate: stopped the job (process group " + std::to_string(pg) + ")");
  if (int busy = wait_for_fuse_requests(by); busy > 0) {
    // A task in FUSE cannot be frozen: the suspend would fail half-way, and libxl's resume of
    // a half-suspended domain is not always possible. Refuse now, while nothing is torn down.
    continue_job_after_vacate();
    return make_error(Errc::kCancelled,
                      std::to_string(busy) +
                          " file request(s) of the job still running at the "
                          "end of the host's budget (a task blocked in FUSE cannot be frozen)");
  }
  drop_clean_caches();
  return ok();
}

void continue_job_after_vacate() {
  pid_t pg = g_stopped.exchange(0);
  if (pg <= 0) return;
  if (::kill(-pg, SIGCONT) != 0) {
    log::warn("vacate: cannot continue the job's process group " + std::to_string(pg));
    return;
  }
  log::info("vacate: the job continues (process group " + std::to_string(pg) + ")");
}

}  // namespace ringbox::guest
