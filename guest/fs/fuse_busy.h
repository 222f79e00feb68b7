// How many FUSE requests the view's callbacks are handling right now (fuse_ops.cc counts every
// callback from entry to return). The vacate path (guest/vacate_hooks.cc) waits for zero after
// stopping the job: a job task still blocked in a FUSE request makes the kernel's freeze, and
// with it the save, fail ("Freezing of tasks failed", docs/vacate.md), and a request that
// needs more ring calls (a whole-file fetch) must not be cut between two of them.
#pragma once

namespace ringbox::guest::fs {

int fuse_requests_in_progress();

// While released, no FUSE request waits for another's work to end: auto's reads of a file
// being fetched go on remotely instead of waiting for the copy (view_auto.cc). Released while a
// vacate stops the job (a read held for a whole fetch would outlast the vacate's budget), and
// for good once the host stops the job (a task cannot die while its FUSE request is
// unanswered); the vacate's end does not undo the stop's. Any thread.
void release_holds_for_vacate(bool released);
void release_holds_for_stop();
bool holds_released();

}  // namespace ringbox::guest::fs
