#include "host/run/zstd_pipe.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <zstd.h>

#include <memory>
#include <string>
#include <vector>

#include "shared/util/file_io.h"

namespace ringbox::host::run {
namespace {

// libxl writes the stream in page batches; a 1 MiB pipe (the unprivileged maximum, fs.pipe-max-
// size) and reads of that size switch between libxl and the compressor 16 times less often than
// the default 64 KiB pipe, which matters on dom0's single vCPU. Best effort.
constexpr int kPipeBytes = 1 << 20;
void widen(int fd) {
  (void)::fcntl(fd, F_SETPIPE_SZ, kPipeBytes);
}

struct CctxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DctxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

Result<void> write_out(int fd, const void* p, size_t n) {
  auto w = write_all(fd, std::span(static_cast<const std::byte*>(p), n));
  if (!w) return sys_error(w.error().sys_errno, "write the restore stream");
  return ok();
}

Result<void> zstd_error(size_t rc, const std::string& what) {
  return make_error(Errc::kSystem, what + ": zstd: " + ZSTD_getErrorName(rc));
}

// Reads `in` to its end, compressing into `out`.
Result<void> compress(int in, int out, int level) {
  std::unique_ptr<ZSTD_CCtx, CctxFree> c(ZSTD_createCCtx());
  if (!c) return make_error(Errc::kSystem, "zstd: cannot create a compression context");
  ZSTD_CCtx_setParameter(c.get(), ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(c.get(), ZSTD_c_checksumFlag, 1);
  std::vector<char> ibuf(kPipeBytes), obuf(ZSTD_CStreamOutSize());
  for (;;) {
    ssize_t n = retry_eintr([&] { return ::read(in, ibuf.data(), ibuf.size()); });
    if (n < 0) return sys_error("read the save stream");
    ZSTD_EndDirective mode = n == 0 ? ZSTD_e_end : ZSTD_e_continue;
    ZSTD_inBuffer ib{ibuf.data(), static_cast<size_t>(n), 0};
    for (;;) {
      ZSTD_outBuffer ob{obuf.data(), obuf.size(), 0};
      size_t left = ZSTD_compressStream2(c.get(), &ob, &ib, mode);
      if (ZSTD_isError(left)) return zstd_error(left, "compress the save stream");
      RINGBOX_TRY(write_out(out, obuf.data(), ob.pos));
      if (mode == ZSTD_e_end ? left == 0 : ib.pos == ib.size) break;
    }
    if (n == 0) return ok();
  }
}

// Reads `in` to its end, decompressing into `out`.
Result<void> decompress(int in, int out) {
  std::unique_ptr<ZSTD_DCtx, DctxFree> d(ZSTD_createDCtx());
  if (!d) return make_error(Errc::kSystem, "zstd: cannot create a decompression context");
  std::vector<char> ibuf(ZSTD_DStreamInSize()), obuf(ZSTD_DStreamOutSize());
  size_t last = 0;
  for (;;) {
    ssize_t n = retry_eintr([&] { return ::read(in, ibuf.data(), ibuf.size()); });
    if (n < 0) return sys_error("read the restore file");
    if (n == 0) {
      if (last != 0)
        return make_error(Errc::kInvalidArgument, "the restore file's zstd stream is truncated");
      return ok();
    }
    ZSTD_inBuffer ib{ibuf.data(), static_cast<size_t>(n), 0};
    while (ib.pos < ib.size) {
      ZSTD_outBuffer ob{obuf.data(), obuf.size(), 0};
      last = ZSTD_decompressStream(d.get(), &ob, &ib);
      if (ZSTD_isError(last)) return zstd_error(last, "decompress the restore file");
      RINGBOX_TRY(write_out(out, obuf.data(), ob.pos));
    }
  }
}

// A writer into a pipe whose reader went away gets EPIPE rather than a process-killing SIGPIPE.
void block_sigpipe() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &s, nullptr);
}

}  // namespace

Result<void> pump_through(const std::function<Result<void>(int fd)>& produce,
                          const std::function<Result<void>(int rd)>& consume) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return sys_error("create a pipe for the restore stream");
  auto rd = std::make_shared<UniqueFd>(p[0]);
  UniqueFd wr(p[1]);
  widen(wr.get());
  Result<void> consumed = ok();
  std::thread t([&, rd] {
    consumed = consume(rd->get());
    rd->reset();  // a producer still writing gets EPIPE, not a full pipe forever
  });
  Result<void> produced = [&] {
    block_sigpipe();  // this thread's; libxl's writes into a dead consumer fail instead
    return produce(wr.get());
  }();
  wr.reset();  // end of stream for the consumer
  t.join();
  if (!consumed) {
    // The consumer's failure (a full disk) is the cause; the producer's EPIPE follows from it.
    if (!produced) consumed.error().what += " (and so: " + produced.error().message() + ")";
    return consumed;
  }
  return produced;
}

Result<void> write_compressed(int out_fd, const std::function<Result<void>(int fd)>& produce,
                              int level) {
  return pump_through(produce, [&](int rd) { return compress(rd, out_fd, level); });
}

Result<std::unique_ptr<Decompressor>> Decompressor::start(int in_fd) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return sys_error("create the decompression pipe");
  std::unique_ptr<Decompressor> d(new Decompressor());
  d->read_end_ = UniqueFd(p[0]);
  widen(p[1]);
  auto wr = std::make_shared<UniqueFd>(p[1]);
  d->result_ = ok();
  d->thread_ = std::thread([self = d.get(), in_fd, wr] {
    block_sigpipe();
    self->result_ = decompress(in_fd, wr->get());
    wr->reset();  // end of stream for libxl
  });
  return d;
}

Result<void> Decompressor::finish() {
  read_end_.reset();  // a writer still blocked gets EPIPE
  if (!joined_) {
    thread_.join();
    joined_ = true;
  }
  return result_;
}

Decompressor::~Decompressor() {
  (void)finish();
}

}  // namespace ringbox::host::run
