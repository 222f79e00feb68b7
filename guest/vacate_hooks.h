// The agent's part of a vacate (docs/vacate.md): the job is stopped while the domain is saved
// and restored, and continued once the ring is served again. The Xen channel calls these from
// its monitor thread (XenConnectOptions::on_quiesce/on_resume); the job runner names the job.
#pragma once

#include <sys/types.h>

#include "shared/util/deadline.h"
#include "shared/util/result.h"

namespace ringbox::guest {

// The job's process group (its leader's pid), or 0 when no job runs. Any thread.
void set_vacate_job(pid_t pgid);
// SIGSTOP to the job's process group, so no new file request starts; a task already blocked in
// one stops once it is answered (the channel keeps answering until they drain). Waits for
// those requests until `by` (the host's budget: a slow one may take most of it). Errc::
// kCancelled when some are still running then: the job is continued, and the save must not
// be tried (the kernel's freeze would fail).
Result<void> stop_job_for_vacate(const Deadline& by);
// SIGCONT to the group stopped above; nothing when nothing was stopped.
void continue_job_after_vacate();
// How many tasks (threads) of process group pg are not stopped (state T, t, Z or X in
// /proc/PID/task/TID/stat, proc(5)). A task stops only on its way back to user space, so one
// between two FUSE requests of one system call counts while no request of it is running.
int tasks_not_stopped(pid_t pg);

}  // namespace ringbox::guest
