// Session: one authenticated Chirp client of ringbox-submitd. Reads one request line at a
// time, checks it (codec), runs it on the tenant's ConfinedDir, answers, and repeats until the
// client leaves, breaks the protocol or stalls.
//
// Bounds per client: at most Limits::max_open_files open files (-9 beyond), at most
// Limits::max_io_bytes moved by one pread/pwrite/read/write (longer reads are answered short,
// as cctools does; a longer write payload is refused with -5 and the connection closed, since
// its bytes cannot be skipped cheaply), request lines of kMaxRequestLineBytes, a deadline for
// each line and a minimum rate for each payload (Stream). Directory listings and getfile stream
// straight from the file system; nothing is accumulated.
// Errors: a well-formed request that fails answers the errno's Chirp code and the session
// goes on; an unknown command answers -8 and goes on (cctools does the same); a line that does
// not parse answers -8 (-5 if oversized) and ends the session, since what follows it cannot
// be trusted to be a request.
#pragma once

#include <string>
#include <unordered_map>

#include "host/submitd/server_auth.h"
#include "shared/chirp/codec.h"
#include "shared/chirp/stream.h"

namespace ringbox::submitd {

struct Limits {
  int max_open_files = 64;
  size_t max_io_bytes = 16u << 20;
  int rmall_max_depth = 256;
};

class Session {
 public:
  Session(chirp::Stream& s, Authenticated who, Limits limits)
      : s_(s), who_(std::move(who)), root_(*who_.tenant->root), limits_(limits) {}
  // Serves until the client leaves or must be cut off; the returned error says why it ended
  // (kPeerGone for a normal goodbye).
  Result<void> serve();

 private:
  struct OpenFile {
    UniqueFd fd;
    int64_t offset = 0;  // for the stateful read/write/lseek of HTCondor clients
  };
  using Args = std::vector<std::string>;

  Result<void> dispatch(const chirp::RequestLine& req, bool& close_after);
  Result<void> reply(int64_t v);
  Result<void> reply_errno(int err);
  Result<void> reply_error(const Error& e);
  Result<void> reply_stat(const struct stat& st);
  OpenFile* file(const std::string& arg);

  Result<void> do_open(const Args& a);
  Result<void> do_close(const Args& a);
  Result<void> do_pread(const Args& a, bool stateful);
  Result<void> do_pwrite(const Args& a, bool stateful, bool& close_after);
  Result<void> do_lseek(const Args& a);
  Result<void> do_fstat(const Args& a);
  Result<void> do_fstatfs(const Args& a);
  Result<void> do_fsync(const Args& a);
  Result<void> do_ftruncate(const Args& a);
  Result<void> do_fchmod(const Args& a);
  Result<void> do_stat(const Args& a, bool follow);
  Result<void> do_statfs(const Args& a);
  Result<void> do_access(const Args& a);
  Result<void> do_chmod(const Args& a);
  Result<void> do_truncate(const Args& a);
  Result<void> do_utime(const Args& a);
  Result<void> do_unlink(const Args& a);
  Result<void> do_rmdir(const Args& a);
  Result<void> do_rmall(const Args& a);
  Result<void> do_mkdir(const Args& a);
  Result<void> do_rename(const Args& a);
  Result<void> do_link(const Args& a);
  Result<void> do_symlink(const Args& a);
  Result<void> do_readlink(const Args& a);
  Result<void> do_getdir(const Args& a, bool with_stat);
  Result<void> do_getfile(const Args& a);
  Result<void> do_putfile(const Args& a, bool& close_after);
  Result<void> do_whoami(const Args& a);

  chirp::Stream& s_;
  Authenticated who_;
  const ConfinedDir& root_;
  Limits limits_;
  std::unordered_map<int64_t, OpenFile> files_;
  int64_t next_fd_ = 0;
  std::string io_;  // the pread/pwrite buffer, grown on demand up to max_io_bytes
};

}  // namespace ringbox::submitd
