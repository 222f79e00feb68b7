// How many FUSE requests the view's callbacks are handling right now (fuse_ops.cc counts every
// callback from entry to return). The vacate path (guest/vacate_hooks.cc) waits for zero after
// stopping the job: a job task still blocked in a FUSE request makes the kernel's freeze, and
// with it the save, fail ("Freezing of tasks failed", docs/vacate.md), and a request that
// needs more ring calls (a whole-file fetch) must not be cut between two of them.
#pragma once

namespace ringbox::guest::fs {

int fuse_requests_in_progress();

}  // namespace ringbox::guest::fs
