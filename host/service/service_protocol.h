// The messages between ringbox's HTCondor wrapper (unprivileged, the job's user) and ringbox's
// root service (`ringbox-host daemon`) over the service's Unix stream socket.
//
// A frame is a little-endian u32 payload length (at most kMaxServiceMessageBytes) and the
// payload: fields, each a u32 key length, the key, a u32 value length, the value. A key may
// repeat (argv, environment, inputs). Open descriptors ride on the first byte of a frame as
// SCM_RIGHTS (at most kMaxServiceFds).
//
//   wrapper -> service  op=run  + 3 descriptors: the export directory (HTCondor's scratch dir,
//                       opened by the job's user), the job's stdout, the job's stderr.
//                       Fields: mode, arg (repeated: the job's argv), env (repeated NAME=VALUE),
//                       cwd, input (repeated), memory_mib, vcpus, cache_mb, image, root (0|1),
//                       grace_ms (how long a stop may take), job (a label for logs),
//                       files (scratch|submit) and, for submit, chirp_config: the text of the
//                       job's .chirp.config (its files through HTCondor's IO proxy).
//                       A 4th descriptor, when present: the job's restore file (a relaunch
//                       after a vacate, docs/vacate.md), open for reading.
//   service -> wrapper  op=started  transport (local|xen): the guest's agent connected;
//                       restore: "resumed", or why the restore file was not used.
//   wrapper -> service  op=stop: remove/hold/interrupt: stop the job (it returns no outputs).
//   wrapper -> service  op=vacate + 1 descriptor (xen): the restore file the wrapper created
//                       (open for reading and writing): save the job's domain into it.
//                       checkpoint=1: the wrapper's own checkpoint, not an eviction: a guest
//                       that cannot be saved now is left running (op=refused), not destroyed.
//   service -> wrapper  op=refused  message: a checkpoint the guest refused; the job goes on
//                       and a later op=vacate may come.
//   service -> wrapper  op=result  kind=exited|signaled|failed|vacated, value (exit code or
//                       signal), message (failed: what went wrong and what to do), bytes
//                       (vacated: the restore file's size, written and synced).
//   Hang-up of the wrapper's end: the service kills the job's guest at once.
//
// Trust: the service reads frames from any local user; every length is bounded before a byte
// is allocated, descriptors beyond the expected count are closed, and a malformed frame ends
// the connection with a message. decode_service_message never fails other than by a clean error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/util/result.h"
#include "shared/util/unique_fd.h"

namespace ringbox::host::service {

inline constexpr char kDefaultServiceSocket[] = "/run/ringbox/hostd.sock";
inline constexpr size_t kMaxServiceMessageBytes = size_t{1} << 20;
inline constexpr size_t kMaxServiceFields = 8192;
inline constexpr size_t kMaxServiceFds = 4;

// The wrapper's own files at the top of the scratch dir (docs/vacate.md): the restore file of a
// vacated job, its part while a save runs, a refused one, and the job's output so far
// (host/condor/saved_streams.h). The service reserves them in the job's view: a job can neither
// read one nor plant one (a planted restore file would reach libxl's restore, in dom0, as root,
// at the relaunch).
inline constexpr char kRestoreName[] = "ringbox.restore";
inline constexpr char kRestorePart[] = "ringbox.restore.part";
inline constexpr char kRestoreRejected[] = "ringbox.restore.rejected";
inline constexpr const char* kSavedStreamNames[2] = {"ringbox.stdout", "ringbox.stderr"};
inline constexpr const char* kWrapperFileNames[] = {
    kRestoreName,          kRestorePart,     kRestoreRejected,      "ringbox.stdout",
    "ringbox.stdout.part", "ringbox.stderr", "ringbox.stderr.part",
};

struct ServiceMessage {
  std::vector<std::pair<std::string, std::string>> fields;

  void add(std::string key, std::string value) {
    fields.emplace_back(std::move(key), std::move(value));
  }
  // The first value of key, or fallback.
  std::string get(std::string_view key, std::string_view fallback = {}) const;
  // Every value of key, in order.
  std::vector<std::string> all(std::string_view key) const;
  bool has(std::string_view key) const;
};

std::vector<std::byte> encode_service_message(const ServiceMessage& m);
// The payload of one frame (without its length prefix).
Result<ServiceMessage> decode_service_message(std::span<const std::byte> payload);

// Sends one frame with fds attached (they stay open here).
Result<void> send_service_message(int sock, const ServiceMessage& m, std::span<const int> fds = {});
// Receives one frame within timeout_ms (-1: no limit). Descriptors that came with it are put
// in *fds (closed and refused when fds is null). kPeerGone on a clean hang-up before a frame.
Result<ServiceMessage> recv_service_message(int sock, int timeout_ms,
                                            std::vector<UniqueFd>* fds = nullptr);

}  // namespace ringbox::host::service
