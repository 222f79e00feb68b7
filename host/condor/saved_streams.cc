#include "host/condor/saved_streams.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <span>
#include <string>

#include "shared/util/file_io.h"
#include "shared/util/unique_fd.h"

namespace ringbox::host::condor {
namespace {

// Copies len bytes of in from in_off to out from out_off (shared/util/file_io.h). Errors: a
// read or write that fails or ends short.
Result<void> copy_bytes(int in, off_t in_off, int out, off_t out_off, uint64_t len,
                        const std::string& what) {
  std::array<std::byte, 1 << 16> buf;
  for (uint64_t done = 0; done < len;) {
    auto chunk = std::span(buf).first(std::min<uint64_t>(len - done, buf.size()));
    auto n = read_fully(in, chunk, in_off + off_t(done));
    if (!n) return sys_error(n.error().sys_errno, "read " + what);
    if (*n != chunk.size()) return sys_error(EIO, what + " ended early");
    auto w = write_fully(out, chunk, out_off + off_t(done));
    if (!w) return sys_error(w.error().sys_errno, "write " + what);
    if (*w != chunk.size()) return sys_error(EIO, "write " + what + ": short");
    done += chunk.size();
  }
  return ok();
}

}  // namespace

Result<void> save_streams(int dir, const int streams[2]) {
  for (int i = 0; i < 2; ++i) {
    const std::string name = kSavedStreamNames[i];
    const std::string part = name + ".part";
    ::unlinkat(dir, part.c_str(), 0);
    UniqueFd out(
        ::openat(dir, part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) return sys_error("create " + part + " in the scratch dir");
    struct stat st {};
    if (::fstat(streams[i], &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
      // The starter opened the stream for writing only: read it through a new open of the
      // same file, with this (the job's) user's rights.
      const std::string self = "/proc/self/fd/" + std::to_string(streams[i]);
      UniqueFd in(::open(self.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
      if (!in) return sys_error("read back the job's " + std::string(i ? "stderr" : "stdout"));
      RINGBOX_TRY(
          copy_bytes(in.get(), 0, out.get(), 0, static_cast<uint64_t>(st.st_size),
                     "the job's " + std::string(i ? "stderr" : "stdout") + " into " + part));
    }
    if (::fsync(out.get()) != 0) return sys_error("sync " + part);
    if (::renameat(dir, part.c_str(), dir, name.c_str()) != 0)
      return sys_error("rename " + part + " to " + name);
  }
  return ok();
}

Result<uint64_t> restore_streams(int dir, const int streams[2]) {
  uint64_t put_back = 0;
  for (int i = 0; i < 2; ++i) {
    const std::string name = kSavedStreamNames[i];
    UniqueFd saved(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!saved) {
      // Every successful save leaves both: a missing one did not come back with the restore
      // file (transfer_checkpoint_files without it?), and the output it held would be lost.
      return sys_error("open " + name +
                       ", the job's output from before its vacate, in the "
                       "scratch dir");
    }
    struct stat s {
    }, o{};
    if (::fstat(saved.get(), &s) != 0 || !S_ISREG(s.st_mode))
      return make_error(Errc::kInvalidArgument, name + " is not a regular file");
    if (::fstat(streams[i], &o) != 0 || !S_ISREG(o.st_mode) || o.st_size == s.st_size) continue;
    if (o.st_size > s.st_size) {
      // Output printed after the save (a later checkpoint HTCondor did not carry): the resumed
      // domain prints it again from the save on.
      if (::ftruncate(streams[i], s.st_size) != 0)
        return sys_error("cut the job's " + std::string(i ? "stderr" : "stdout") +
                         " back to where the save left it");
      continue;
    }
    const uint64_t missing = static_cast<uint64_t>(s.st_size - o.st_size);
    RINGBOX_TRY(copy_bytes(saved.get(), o.st_size, streams[i], o.st_size, missing,
                           "the saved " + name + " into the job's " + (i ? "stderr" : "stdout")));
    // A stream opened without O_APPEND: what this wrapper writes next goes after the copy.
    if (::lseek(streams[i], 0, SEEK_END) < 0) return sys_error("seek to the end of the stream");
    put_back += missing;
  }
  return put_back;
}

void drop_saved_streams(int dir) {
  for (const char* name : kSavedStreamNames) {
    ::unlinkat(dir, name, 0);
    ::unlinkat(dir, (std::string(name) + ".part").c_str(), 0);
  }
}

}  // namespace ringbox::host::condor
