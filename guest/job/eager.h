// Eager mode (the paper's Sandbox 2): the job's declared inputs are fetched whole (kGetfile)
// into a guest-local directory before the job starts, the job sees only that directory (no
// view of the export at all), and its outputs go back after it exits.
//
// Stage-in: each input, and each directory leading to it, gets the submit side's permission
// bits (setuid/setgid dropped) and times, and belongs to the job, as a copy made by `cp -p`
// would (issue 8: a job must not tell its files were copied).
//
// Stage-out: with outputs declared, those paths (a directory with everything beneath it);
// with none, everything the job created or changed (HTCondor's default for
// transfer_output_files, extended to what a local file system holds): regular files
// (kPutfile with their exact permission bits, then kSetattr for their times), hard links
// among them (kLink: one upload per inode), symlinks (kSymlink), directories including empty
// ones (kMkdir, then kSetattr for mode and times once their contents are written). FIFOs and
// sockets are local IPC objects and never leave the guest. Nothing is deleted on the submit
// side: an input the job removed stays there.
//
// Every output that cannot be returned is one entry of the report's failures, named: a path
// longer than kMaxPathBytes counted from the export's root (the wire cannot carry it: such a
// tree is walked through directory descriptors, so each file beneath is named), a refused
// upload, a symlink the host refuses (absolute target, or one leaving the export).
//
// The staging tree is read as root, through descriptors, never following a symlink, and only
// regular files are sent: a job that plants a symlink to /etc/shadow or a FIFO under an
// output's name cannot make the (root) agent send or block on it.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "guest/fs/lazy_cache.h"  // WritebackReport
#include "guest/fs/remote.h"
#include "shared/rpc/call.h"

namespace ringbox::guest::job {

class EagerStage {
 public:
  // dir exists, is empty, and becomes the job's (uid/gid) to write in. client is the one
  // remote uses (for the metadata opcodes Remote does not have).
  EagerStage(fs::Remote& remote, rpc::Client& client, std::string dir, uint32_t uid, uint32_t gid)
      : remote_(remote), client_(client), dir_(std::move(dir)), uid_(uid), gid_(gid) {}

  // Fetches every input; the first failure ends the stage-in with an error naming the input.
  Result<uint64_t> stage_in(const std::vector<std::string>& inputs);
  // Creates cwd (a wire path) below the staging directory if needed, gives every staged
  // directory the submit side's mode and times; returns cwd absolute.
  Result<std::string> prepare_cwd(const std::string& cwd);
  fs::WritebackReport stage_out(const std::vector<std::string>& declared_outputs);

  // What stage-in left, to tell what the job changed: size, times and mode as staged (any
  // change by the job moves the ctime).
  struct Fingerprint {
    off_t size;
    struct timespec mtime;
    struct timespec ctime;
    mode_t mode;
  };

 private:
  Result<void> make_local_dirs(const std::string& wire_dir);
  Result<void> copy_dir_metadata();

  fs::Remote& remote_;
  rpc::Client& client_;
  std::string dir_;
  uint32_t uid_, gid_;
  std::map<std::string, Fingerprint> staged_;  // inputs and the directories made for them
  std::vector<std::string> made_dirs_;         // parents first
};

bool same_fingerprint(const EagerStage::Fingerprint& a, const struct stat& st);
EagerStage::Fingerprint fingerprint_of(const struct stat& st);

}  // namespace ringbox::guest::job
