// Eager mode (the paper's Sandbox 2): the job's declared inputs are fetched whole (kGetfile)
// into a guest-local directory before the job starts, the job sees only that directory (no
// view of the export at all), and its outputs go back with kPutfile after it exits.
//
// Outputs: the declared ones; with none declared, every regular file the job created or
// changed (HTCondor's default for transfer_output_files). Files are read back through a
// descriptor of the staging directory with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) and
// O_NONBLOCK, and only regular files are sent: a job that plants a symlink to /etc/shadow or
// a FIFO under an output's name cannot make the (root) agent send or block on it.
#pragma once

#include <sys/types.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "guest/fs/lazy_cache.h"  // WritebackReport
#include "guest/fs/remote.h"

namespace ringbox::guest::job {

class EagerStage {
 public:
  // dir exists, is empty, and becomes the job's (uid/gid) to write in.
  EagerStage(fs::Remote& remote, std::string dir, uint32_t uid, uint32_t gid)
      : remote_(remote), dir_(std::move(dir)), uid_(uid), gid_(gid) {}

  // Fetches every input; the first failure ends the stage-in with an error naming the input.
  Result<uint64_t> stage_in(const std::vector<std::string>& inputs);
  // Creates cwd (a wire path) below the staging directory if needed; returns it absolute.
  Result<std::string> prepare_cwd(const std::string& cwd);
  fs::WritebackReport stage_out(const std::vector<std::string>& declared_outputs);

 private:
  struct Fingerprint {
    off_t size;
    struct timespec mtime;
  };
  Result<void> make_local_dirs(const std::string& wire_dir);
  Result<void> make_remote_dirs(const std::string& wire_dir);
  Result<void> push_one(int dir_fd, const std::string& path, fs::WritebackReport& report,
                        std::mutex& report_mu);
  void collect_changed(int dir_fd, const std::string& prefix, std::vector<std::string>& out,
                       int depth);

  fs::Remote& remote_;
  std::string dir_;
  uint32_t uid_, gid_;
  std::map<std::string, Fingerprint> inputs_;  // as staged, to tell changed files apart
};

}  // namespace ringbox::guest::job
