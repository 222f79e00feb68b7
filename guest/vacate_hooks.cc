#include "guest/vacate_hooks.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
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
// fetch needs several ring calls; the ring is still live here), and each of its tasks
// reaches its stop, until `by`: the host's budget for the vacate. Returns how many requests,
// or else tasks, are still going then.
int wait_for_fuse_requests(pid_t pg, const Deadline& by) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  auto busy = [&] {
    int requests = fs::fuse_requests_in_progress();
    return requests > 0 ? requests : tasks_not_stopped(pg);
  };
  // However short the budget, the tasks get a moment to reach their stop (the SIGSTOP has
  // only just been sent): a guest with less than its margin would otherwise always refuse.
  constexpr auto kSettle = std::chrono::milliseconds(200);
  int left = busy();
  while (left > 0 && (!by.passed() || Clock::now() - t0 < kSettle)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::max(1, by.slice_ms(5))));
    left = busy();
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  if (left == 0 && ms >= 5)
    log::info("vacate: the job's FUSE requests ended " + std::to_string(ms) + " ms after its stop");
  return left;
}
constexpr unsigned kPfIoWorker = 0x00000010;  // PF_IO_WORKER, linux/sched.h

// Whether the task at /proc/PID/task/TID sleeps in the kernel function `fn` (its wchan).
bool wchan_is(const std::string& task, const char* fn) {
  char buf[64];
  int fd = ::open((task + "/wchan").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t got = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (got <= 0) return false;
  buf[got] = '\0';
  return std::strcmp(buf, fn) == 0;
}
}  // namespace

int tasks_not_stopped(pid_t pg) {
  int n = 0;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return 0;  // no /proc: the request count alone decides
  while (dirent* p = ::readdir(proc)) {
    if (p->d_name[0] < '1' || p->d_name[0] > '9') continue;
    const std::string task_dir = std::string("/proc/") + p->d_name + "/task";
    DIR* tasks = ::opendir(task_dir.c_str());
    if (tasks == nullptr) continue;  // gone meanwhile
    while (dirent* t = ::readdir(tasks)) {
      if (t->d_name[0] < '1' || t->d_name[0] > '9') continue;
      char buf[512];
      const std::string stat = task_dir + "/" + t->d_name + "/stat";
      int fd = ::open(stat.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      ssize_t got = ::read(fd, buf, sizeof buf - 1);
      ::close(fd);
      if (got <= 0) continue;
      buf[got] = '\0';
      // "pid (comm) S ppid pgrp session tty_nr tpgid flags ...": comm may hold anything, so
      // parse after its last ')'.
      const char* rp = std::strrchr(buf, ')');
      char state = 0;
      long ppid = 0, pgrp = 0;
      unsigned flags = 0;
      if (rp == nullptr ||
          std::sscanf(rp + 1, " %c %ld %ld %*d %*d %*d %u", &state, &ppid, &pgrp, &flags) != 4)
        continue;
      if (pgrp != pg || std::strchr("TtZX", state) != nullptr) continue;
      // Never stopped by a signal, and no obstacle to the freeze: io_uring's workers
      // (PF_IO_WORKER, linux/sched.h; "signal: don't allow STOP on PF_IO_WORKER threads"),
      // and a vfork parent waiting for its stopped child.
      if (flags & kPfIoWorker) continue;
      if (state == 'D' && wchan_is(task_dir + "/" + t->d_name, "wait_for_vfork_done")) continue;
      ++n;
    }
    ::closedir(tasks);
  }
  ::closedir(proc);
  return n;
}

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
  fs::release_holds_for_vacate(true);  // auto: a read waiting for a fetch goes on remotely
  log::info("vacate: stopped the job (process group " + std::to_string(pg) + ")");
  if (int busy = wait_for_fuse_requests(pg, by); busy > 0) {
    // A task in FUSE cannot be frozen: the suspend would fail half-way, and libxl's resume of
    // a half-suspended domain is not always possible. Refuse now, while nothing is torn down.
    continue_job_after_vacate();
    return make_error(Errc::kCancelled,
                      std::to_string(busy) +
                          " file request(s) or task(s) of the job still running at the "
                          "end of the host's budget (a task blocked in FUSE cannot be frozen)");
  }
  drop_clean_caches();
  return ok();
}

void continue_job_after_vacate() {
  pid_t pg = g_stopped.exchange(0);
  if (pg <= 0) return;
  fs::release_holds_for_vacate(false);
  if (::kill(-pg, SIGCONT) != 0) {
    log::warn("vacate: cannot continue the job's process group " + std::to_string(pg));
    return;
  }
  log::info("vacate: the job continues (process group " + std::to_string(pg) + ")");
}

}  // namespace ringbox::guest
