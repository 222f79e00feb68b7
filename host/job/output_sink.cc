#include "host/job/output_sink.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>

#include "shared/util/file_io.h"
#include "shared/util/log.h"

namespace ringbox::host::job {

Result<OutputSink> OutputSink::open(const std::string& path, uint64_t max_bytes, bool append) {
  int fd = ::open(path.c_str(),
                  O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC) | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0)
    return sys_error(std::string(append ? "open" : "create") + " job output file " + path);
  OutputSink sink(UniqueFd(fd), path, max_bytes);
  if (append) {
    struct stat st {};
    if (::fstat(sink.fd_.get(), &st) != 0) return sys_error("stat job output file " + path);
    sink.written_ = static_cast<uint64_t>(st.st_size);
  }
  return sink;
}

proto::WireError OutputSink::append(std::span<const std::byte> untrusted_bytes) {
  std::lock_guard lk(mu_);
  if (untrusted_bytes.size() > max_bytes_ - written_) {
    if (!warned_) {
      log::warn("job output " + path_ + " reached its limit of " + std::to_string(max_bytes_) +
                " bytes; further output is dropped");
      warned_ = true;
    }
    return proto::WireError::kFBig;
  }
  // Opaque bytes: written as they are, never parsed, so reading them from shared memory once
  // (inside write(2)) is safe.
  if (auto w = write_all(fd_.get(), untrusted_bytes); !w) {
    log::error("write job output " + path_ + ": " + std::string(strerror(w.error().sys_errno)));
    return proto::WireError::kIo;
  }
  written_ += untrusted_bytes.size();
  return proto::WireError::kOk;
}

uint64_t OutputSink::bytes_written() const {
  std::lock_guard lk(mu_);
  return written_;
}

}  // namespace ringbox::host::job
