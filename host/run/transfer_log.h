// TransferLog: what moved between a job's guest and its export, for the person who ran the job
// (`ringbox-host run --transfer-log F`, and a summary line in run's log). It answers "which
// files did the lazy-file job actually fetch?" and "what came back?".
//
// It wraps the run's request handler and records, per path, the file operations that
// succeeded: whole-file fetches (kGetfile), opens for remote I/O (kOpen, read or write), and
// committed returns (kPutfile, final chunk); plus the byte totals of remote reads and writes
// (kPread/kPwrite, which name a handle, not a path).
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
  uint64_t fetched_files = 0;  // distinct paths fetched whole
  uint64_t fetched_bytes = 0;
  uint64_t fetch_chunks = 0;
  uint64_t opened_files = 0;  // distinct paths opened for remote I/O
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

  TransferTotals totals() const;
  // One line, for run's log: "fetched 3 files (1.2 MiB), ...".
  std::string summary() const;
  // The whole log as text: a header, one line per path and event, the totals.
  std::string render(const std::string& header) const;
  // render() to `path`, created or truncated.
  Result<void> write(const std::string& path, const std::string& header) const;

 private:
  struct PathRecord {
    std::string path;
    uint64_t fetches = 0;  // fetches started (chunk at offset 0)
    uint64_t fetched_bytes = 0;
    uint64_t size = 0;  // the size the last fetch or return reported
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
