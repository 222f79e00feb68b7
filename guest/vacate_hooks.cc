#include "guest/vacate_hooks.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <string>

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
}  // namespace

void set_vacate_job(pid_t pgid) {
  g_job.store(pgid);
}

void stop_job_for_vacate() {
  pid_t pg = g_job.load();
  if (pg <= 0) return;
  if (::kill(-pg, SIGSTOP) != 0) {
    log::warn("vacate: cannot stop the job's process group " + std::to_string(pg));
    return;
  }
  g_stopped.store(pg);
  log::info("vacate: stopped the job (process group " + std::to_string(pg) + ")");
  drop_clean_caches();
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
