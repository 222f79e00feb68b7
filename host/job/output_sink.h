// OutputSink: one of the job's output streams (stdout or stderr) as a file on the host side,
// named like HTCondor's _condor_stdout / _condor_stderr by default.
//
// The bytes are the guest's and are never interpreted: they go straight from the ring to the
// file. What the host does bound is the amount: a hostile guest could otherwise fill the
// host's disk through its stdout. Past max_bytes a chunk is refused (kFBig) and one warning is
// logged; everything before the limit is kept.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>
#include <string>

#include "shared/protocol/ringbox_proto.h"
#include "shared/util/unique_fd.h"

namespace ringbox::host::job {

class OutputSink {
 public:
  // Creates (or truncates) the file, mode 0644, close-on-exec.
  // append: keep what the file holds (a job resumed after a vacate goes on where it was) and
  // count it against max_bytes.
  static Result<OutputSink> open(const std::string& path, uint64_t max_bytes, bool append = false);
  OutputSink(OutputSink&& o) noexcept
      : fd_(std::move(o.fd_)),
        path_(std::move(o.path_)),
        max_bytes_(o.max_bytes_),
        written_(o.written_),
        warned_(o.warned_) {}

  // Appends one chunk (may be peer-writable memory: read once, by write(2)). Thread-safe.
  proto::WireError append(std::span<const std::byte> untrusted_bytes);
  uint64_t bytes_written() const;
  const std::string& path() const { return path_; }

 private:
  OutputSink(UniqueFd fd, std::string path, uint64_t max_bytes)
      : fd_(std::move(fd)), path_(std::move(path)), max_bytes_(max_bytes) {}

  mutable std::mutex mu_;
  UniqueFd fd_;
  std::string path_;
  uint64_t max_bytes_;
  uint64_t written_ = 0;
  bool warned_ = false;
};

}  // namespace ringbox::host::job
