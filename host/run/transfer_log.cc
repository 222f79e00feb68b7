#include "host/run/transfer_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "shared/protocol/ringbox_proto.h"
#include "shared/util/file_io.h"
#include "shared/util/unique_fd.h"

namespace ringbox::host::run {
namespace {

using proto::Opcode;

constexpr uint64_t kWriteIntent =
    proto::kOpenWrite | proto::kOpenCreate | proto::kOpenTruncate | proto::kOpenAppend;

bool is(uint16_t raw, Opcode op) {
  return raw == static_cast<uint16_t>(op);
}

// Paths come from the guest: anything but printable ASCII is written as \xNN, so a name can
// neither break a line nor send escape sequences to a terminal that shows the log.
std::string escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

std::string plural(uint64_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

}  // namespace

std::string human_bytes(uint64_t n) {
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (n < 1024) return std::to_string(n) + " B";
  double v = static_cast<double>(n) / 1024.0;
  int u = 0;
  while (v >= 1024.0 && u < 3) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[u]);
  return buf;
}

TransferLog::PathRecord& TransferLog::record_for(const std::string& path) {
  auto [it, fresh] = index_.try_emplace(path, records_.size());
  if (fresh) records_.push_back(PathRecord{path});
  return records_[it->second];
}

rpc::Reply TransferLog::handle(const rpc::Request& req) {
  const bool names_path = is(req.opcode, Opcode::kGetfile) || is(req.opcode, Opcode::kOpen) ||
                          (is(req.opcode, Opcode::kPutfile) && (req.flags & proto::kPutfileFinal));
  if (!names_path) {
    rpc::Reply r = inner_.handle(req);
    if (r.ok() && (is(req.opcode, Opcode::kPread) || is(req.opcode, Opcode::kPwrite))) {
      std::lock_guard<std::mutex> lock(mu_);
      if (is(req.opcode, Opcode::kPread)) {
        ++totals_.read_calls;
        totals_.read_bytes += r.out_len;
      } else {
        ++totals_.write_calls;
        totals_.write_bytes += r.val[0];
      }
    }
    return r;
  }
  // One private copy, served and recorded: the guest can rewrite its request payload while it
  // is handled, and the line must name the path the service acted on. The payload is bounded
  // by the ring's data area, which the server checked.
  std::vector<std::byte> payload(req.in.size());
  req.in.copy_to(payload, 0);
  rpc::Request own = req;
  own.in = rpc::SharedBytes(payload);
  rpc::Reply r = inner_.handle(own);
  if (!r.ok()) return r;

  // kPutfile: the path is the first arg[0] bytes; the service accepted it, so it fits.
  size_t path_len = is(req.opcode, Opcode::kPutfile) ? req.arg[0] : payload.size();
  if (path_len > payload.size()) return r;
  std::string path(reinterpret_cast<const char*>(payload.data()), path_len);

  std::lock_guard<std::mutex> lock(mu_);
  PathRecord& rec = record_for(path);
  if (is(req.opcode, Opcode::kGetfile)) {
    ++totals_.fetch_chunks;
    uint64_t off = req.arg[0];
    if (off == 0) {
      if (rec.fetch_open) ++totals_.incomplete_fetches;  // begun again: the last one is lost
      rec.fetch_open = true;
      rec.fetch_size = r.val[0];
      rec.fetch_next = 0;
    }
    // Only chunks that continue the fetch where it stands count towards its completion (the
    // guest fetches in order), so a guest cannot have a fetch listed that it did not make.
    if (rec.fetch_open && off == rec.fetch_next) rec.fetch_next += r.out_len;
    if (rec.fetch_open && rec.fetch_next >= rec.fetch_size) {
      rec.fetch_open = false;
      if (rec.fetches++ == 0) ++totals_.fetched_files;
      rec.fetched_bytes += rec.fetch_size;
      rec.size = rec.fetch_size;
      totals_.fetched_bytes += rec.fetch_size;
    }
  } else if (is(req.opcode, Opcode::kOpen)) {
    if (req.arg[0] & proto::kOpenDirectory) return r;
    if (rec.opens_read + rec.opens_write == 0) ++totals_.opened_files;
    ++((req.arg[0] & kWriteIntent) ? rec.opens_write : rec.opens_read);
  } else {
    ++rec.returns;
    rec.size = r.val[1];
    ++totals_.returned_files;
    totals_.returned_bytes += r.val[1];
  }
  return r;
}

TransferTotals TransferLog::totals() const {
  std::lock_guard<std::mutex> lock(mu_);
  return totals_;
}

std::string TransferLog::summary() const {
  TransferTotals t = totals();
  std::string s = "fetched " + plural(t.fetched_files, "file") + " whole (" +
                  human_bytes(t.fetched_bytes) + ")";
  if (t.opened_files > 0 || t.read_calls > 0 || t.write_calls > 0)
    s += "; remote I/O on " + plural(t.opened_files, "file") + ": read " +
         human_bytes(t.read_bytes) + " in " + plural(t.read_calls, "call") + ", wrote " +
         human_bytes(t.write_bytes) + " in " + plural(t.write_calls, "call");
  s +=
      "; returned " + plural(t.returned_files, "file") + " (" + human_bytes(t.returned_bytes) + ")";
  return s;
}

std::string TransferLog::render(const std::string& header) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out = "# " + escape(header) + "\n";
  out +=
      "# event<TAB>bytes<TAB>path   fetched: copied whole into the guest (lazy-file, eager);\n"
      "#   opened-read / opened-write: opened for remote I/O (remote-io, or a lazy-file too big\n"
      "#   for the guest's cache); returned: committed to the export at the job's end\n";
  for (const auto& rec : records_) {
    const std::string p = escape(rec.path);
    if (rec.fetches > 0) {
      out += "fetched\t" + std::to_string(rec.fetched_bytes) + "\t" + p;
      if (rec.fetches > 1) out += "\t(" + std::to_string(rec.fetches) + " fetches)";
      out += "\n";
    }
    if (rec.opens_read > 0) out += "opened-read\t-\t" + p + "\n";
    if (rec.opens_write > 0) out += "opened-write\t-\t" + p + "\n";
    if (rec.returns > 0) out += "returned\t" + std::to_string(rec.size) + "\t" + p + "\n";
  }
  uint64_t open_fetches = 0;
  for (const auto& rec : records_) open_fetches += rec.fetch_open ? 1 : 0;
  const TransferTotals& t = totals_;
  out += "# totals: fetched " + std::to_string(t.fetched_files) + " files " +
         std::to_string(t.fetched_bytes) + " bytes in " + std::to_string(t.fetch_chunks) +
         " chunks; opened " + std::to_string(t.opened_files) + " files for remote I/O; read " +
         std::to_string(t.read_bytes) + " bytes in " + std::to_string(t.read_calls) +
         " calls; wrote " + std::to_string(t.write_bytes) + " bytes in " +
         std::to_string(t.write_calls) + " calls; returned " + std::to_string(t.returned_files) +
         " files " + std::to_string(t.returned_bytes) + " bytes\n";
  if (t.incomplete_fetches + open_fetches > 0)
    out += "# fetches begun and never completed (not listed above): " +
           std::to_string(t.incomplete_fetches + open_fetches) + "\n";
  return out;
}

Result<void> TransferLog::write(const std::string& path, const std::string& header) const {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return sys_error("create the transfer log " + path);
  if (auto w = write_to(fd.get(), header); !w)
    return sys_error(w.error().sys_errno, "write the transfer log " + path);
  return fd.close();
}

Result<void> TransferLog::write_to(int fd, const std::string& header) const {
  // From the start of a regular file; a stream (--transfer-log /dev/stderr) as it comes.
  if (::ftruncate(fd, 0) == 0) {
    if (::lseek(fd, 0, SEEK_SET) != 0) return sys_error("rewind the transfer log");
  } else if (errno != EINVAL) {
    return sys_error("truncate the transfer log");
  }
  const std::string text = render(header);
  if (auto w = write_all(fd, std::as_bytes(std::span(text))); !w)
    return sys_error(w.error().sys_errno, "write the transfer log");
  return ok();
}

}  // namespace ringbox::host::run
