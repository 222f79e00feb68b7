// The job's stdout and stderr across a vacate (docs/vacate.md, "HTCondor").
//
// The starter opens a vanilla job's _condor_stdout/_condor_stderr with O_TRUNC at every start
// (UserProc::outputOpenFlags in src/condor_starter.V6.1/user_proc.h; VanillaProc appends only
// for a job with a checkpoint exit code, WantCheckpointSignal or DontAppend = false), so what a job
// printed before an eviction, spooled with ON_EXIT_OR_EVICT and carried back, is gone when the
// wrapper starts again. The wrapper therefore copies both streams into ringbox.stdout and
// ringbox.stderr at the top of the scratch dir when a save succeeded (HTCondor spools them with the
// restore file), and at the relaunch, before the service gets the descriptors, puts back what the
// stream lacks. If the service then refuses the restore, it truncates the streams as for any fresh
// start, so nothing is written twice.
#pragma once

#include "host/service/service_protocol.h"
#include "shared/util/result.h"

namespace ringbox::host::condor {

using service::kSavedStreamNames;

// Copies what streams[i] (the wrapper's stdout and stderr) holds into kSavedStreamNames[i]
// beneath dir (through a .part file, synced, then renamed). A stream that is not a regular file
// (a pipe, a terminal, /dev/null) leaves an empty file: there is nothing to carry.
// Errors: the stream cannot be read back, the copy cannot be written.
Result<void> save_streams(int dir, const int streams[2]);

// Makes each stream that is a regular file end where the save left it: appends the copy's bytes
// past its end when it is shorter (all of them after an O_TRUNC open; none when HTCondor kept
// it whole), cuts it back when it is longer (output of a later run HTCondor did not carry).
// Returns the bytes put back. Errors: a saved stream missing (it did not come back with the
// restore file: resuming would lose that output) or not a regular file (never followed through
// a link), a write or truncate that fails.
Result<uint64_t> restore_streams(int dir, const int streams[2]);

// Removes the saved streams (used, or stale).
void drop_saved_streams(int dir);

}  // namespace ringbox::host::condor
