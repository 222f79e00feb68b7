// TransferLog: what moved between a job's guest and its export, for the person who ran the job
// (`ringbox-host run --transfer-log F`, and a summary line in run's log). It answers "which
// files did the lazy-file job actually fetch?" and "what came back?".
//
// It wraps the run's request handler and records, per path, the file operations that
// succeeded: whole-file fetches (kGetfile) that completed, opens for remote I/O (kOpen, read or
// write), and committed returns (kPutfile, final chunk); plus the byte totals of remote reads
// and writes (kPread/kPwrite, which name a handle, not a path).
//
// A fetch begins with its chunk at offset 0, whose reply gives the file's size then; it is
// complete when a chunk reaches that size (the guest copies the file as it was when the fetch
// began, so bytes a writer appended meanwhile are not part of it). Only complete fetches are
// listed, with that size; chunks of fetches that never completed (the guest gave up, the file
// shrank and the fetch began again) count in the chunk total and in a separate line.
//
// Trust: the paths come from the guest. Each recorded request's payload is copied once into
// private memory and that copy is what the file service serves, so a guest rewriting its
// request while it is handled cannot make a line name another path than the one served. Only
// successful replies are recorded (the service checked the path and the policy), and paths are
// escaped when written, so a file name cannot forge lines.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "shared/rpc/handler.h"
#include "shared/util/result.h"

namespace ringbox::host::run {

struct TransferTotals {
  uint64_t fetched_files = 0;       // distinct paths with a complete fetch
  uint64_t fetched_bytes = 0;       // the sizes of the complete fetches (the copies the guest has)
  uint64_t fetch_chunks = 0;        // every kGetfile chunk served
  uint64_t incomplete_fetches = 0;  // begun (chunk at offset 0) and never completed
  uint64_t opened_files = 0;        // distinct paths opened for remote I/O
  uint64_t read_calls = 0;
  uint64_t read_bytes = 0;
  uint64_t write_calls = 0;
  uint64_t write_bytes = 0;
  uint64_t returned_files = 0;  // committed kPutfile uploads
  uint64_t returned_bytes = 0;
};

class TransferLog final : public rpc::Handler {
 public:
  // `inner` answers every request and must outlive this object.
  explicit TransferLog(rpc::Handler& inner) : inner_(inner) {}
  rpc::Reply handle(const rpc::Request& req) override;
  // As the inner handler: logging never changes the thread a request is answered on.
  // connection_ended() is deliberately not passed on: `run` ends the file service's connection
  // itself, and not when a cancelled vacate reconnects the same guest in place.
  bool runs_inline(uint16_t opcode) const override { return inner_.runs_inline(opcode); }

  TransferTotals totals() const;
  // One line, for run's log: "fetched 3 files (1.2 MiB), ...".
  std::string summary() const;
  // The whole log as text: a header, one line per path and event, the totals.
  std::string render(const std::string& header) const;
  // render() to `path`, created or truncated.
  Result<void> write(const std::string& path, const std::string& header) const;
  // render() into the open regular file `fd`, from its start, truncated to the text (the
  // confined file service writes the log run opened for it).
  Result<void> write_to(int fd, const std::string& header) const;

 private:
  struct PathRecord {
    std::string path;
    uint64_t fetches = 0;        // complete fetches
    uint64_t fetched_bytes = 0;  // sizes of the complete fetches
    uint64_t fetch_size = 0;     // the size the fetch in progress began with
    uint64_t fetch_next = 0;     // where its next chunk continues (bytes received in order)
    bool fetch_open = false;     // a fetch began and has not completed yet
    uint64_t size = 0;           // the size the last fetch or return reported
    uint64_t opens_read = 0;
    uint64_t opens_write = 0;
    uint64_t returns = 0;
  };
  PathRecord& record_for(const std::string& path);  // mu_ held

  rpc::Handler& inner_;
  mutable std::mutex mu_;
  std::vector<PathRecord> records_;  // first-seen order
  std::map<std::string, size_t> index_;
  TransferTotals totals_;
};

// "1.5 MiB", "312 B": sizes for people.
std::string human_bytes(uint64_t n);

}  // namespace ringbox::host::run
