// zstd between libxl and a restore file (docs/vacate.md): libxl writes its save stream into a
// pipe and a thread compresses it into the file; on restore a thread decompresses the file into
// a pipe that libxl reads. Most of a save is zero or free pages, which zstd all but removes.
//
// Trust: the compressed input of a restore comes back from elsewhere. zstd checks its frames
// (content checksum on); a damaged frame ends the stream early, and libxl then fails the
// restore with its own message, which the caller reports.
#pragma once

#include <functional>
#include <memory>
#include <thread>

#include "shared/util/result.h"
#include "shared/util/unique_fd.h"

namespace ringbox::host::run {

// Runs produce(fd) with fd the write end of a pipe while a thread runs consume(rd) on its read
// end. The read end is closed as soon as consume returns, so a producer still writing gets
// EPIPE (SIGPIPE is blocked in the producing thread) instead of blocking on a full pipe.
// Returns consume's error (the cause when both fail: a full disk, then EPIPE), else produce's.
Result<void> pump_through(const std::function<Result<void>(int fd)>& produce,
                          const std::function<Result<void>(int rd)>& consume);

// pump_through with a consumer that compresses what it reads into out_fd (at its current
// offset).
Result<void> write_compressed(int out_fd, const std::function<Result<void>(int fd)>& produce,
                              int level = 3);

// A thread that decompresses in_fd (from its current offset) into a pipe; fd() is the read
// end to hand to libxl. The destructor closes the read end, then joins the thread.
class Decompressor {
 public:
  static Result<std::unique_ptr<Decompressor>> start(int in_fd);
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;
  ~Decompressor();
  int fd() const { return read_end_.get(); }
  // After the consumer is done: how decompression ended (ok, or why it stopped).
  Result<void> finish();

 private:
  Decompressor() = default;
  UniqueFd read_end_;
  std::thread thread_;
  Result<void> result_;
  bool joined_ = false;
};

}  // namespace ringbox::host::run
