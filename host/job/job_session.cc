#include "host/job/job_session.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <span>
#include <string_view>

#include "shared/util/log.h"

namespace ringbox::host::job {

using proto::Opcode;
using proto::WireError;

Result<std::unique_ptr<JobSession>> JobSession::create(const JobSessionConfig& cfg) {
  auto encoded = proto::encode_job_spec(cfg.spec);
  if (!encoded) return std::move(encoded.error());
  auto out = OutputSink::open(cfg.stdout_path, cfg.max_output_bytes, cfg.resumed);
  if (!out) return std::move(out.error());
  auto err = OutputSink::open(cfg.stderr_path, cfg.max_output_bytes, cfg.resumed);
  if (!err) return std::move(err.error());
  return std::unique_ptr<JobSession>(
      new JobSession(std::move(*encoded), std::move(*out), std::move(*err)));
}

rpc::Reply JobSession::handle(const rpc::Request& req) {
  if (req.flags != 0) return rpc::Reply::error(WireError::kProto);
  switch (static_cast<Opcode>(req.opcode)) {
    case Opcode::kJobGet:
      return job_get(req);
    case Opcode::kJobStdout:
      return rpc::Reply::error(stdout_.append(req.in.opaque()));
    case Opcode::kJobStderr:
      return rpc::Reply::error(stderr_.append(req.in.opaque()));
    case Opcode::kJobExit:
      return job_exit(req);
    case Opcode::kWaitEvent:
      return wait_event(req);
    default:
      return rpc::Reply::error(WireError::kNoSys);
  }
}

rpc::Reply JobSession::job_get(const rpc::Request& req) {
  if (req.out.size() < encoded_.size()) {
    // Tell the guest how much room it needs; it retries with a larger buffer or gives up with
    // a message naming the size.
    rpc::Reply r = rpc::Reply::error(WireError::kOverflow);
    r.val[0] = encoded_.size();
    return r;
  }
  // Written into the peer-readable buffer; never read back.
  std::memcpy(req.out.data(), encoded_.data(), encoded_.size());
  {
    std::lock_guard lk(mu_);
    delivered_ = true;
  }
  rpc::Reply r;
  r.out_len = static_cast<uint32_t>(encoded_.size());
  r.val[0] = encoded_.size();
  return r;
}

rpc::Reply JobSession::job_exit(const rpc::Request& req) {
  // The args are a private copy already (RingServer copied the slot); check, then trust.
  JobOutcome o;
  uint64_t kind = req.arg[0], value = req.arg[1], failures = req.arg[2];
  if (kind == static_cast<uint64_t>(proto::ExitKind::kExited)) {
    if (value > 255) return rpc::Reply::error(WireError::kInval);
    o.kind = proto::ExitKind::kExited;
  } else if (kind == static_cast<uint64_t>(proto::ExitKind::kSignaled)) {
    if (value < 1 || value > 127) return rpc::Reply::error(WireError::kInval);
    o.kind = proto::ExitKind::kSignaled;
  } else {
    return rpc::Reply::error(WireError::kInval);
  }
  if (failures > proto::kMaxJobFiles + 1u) return rpc::Reply::error(WireError::kInval);
  o.value = static_cast<uint32_t>(value);
  o.writeback_failures = static_cast<uint32_t>(failures);
  std::lock_guard lk(mu_);
  if (outcome_) {
    // A replay after a reconnect repeats the same report; anything else is a confused guest.
    bool same = outcome_->kind == o.kind && outcome_->value == o.value &&
                outcome_->writeback_failures == o.writeback_failures;
    return same ? rpc::Reply{} : rpc::Reply::error(WireError::kInval);
  }
  outcome_ = o;
  cv_.notify_all();  // the guest's event poll has nothing more to wait for
  log_lost_outputs(req);
  return rpc::Reply{};
}

namespace {

// Untrusted text for one log line: printable ASCII kept, everything else as \xHH.
std::string escaped_line(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

void JobSession::log_lost_outputs(const rpc::Request& req) {
  // kJobExit's payload: the guest's "path: reason" lines (ringbox_proto.h). Copied once,
  // bounded, shown escaped and cut: they only name what the guest says it could not return.
  constexpr size_t kMaxLines = 64, kMaxLineBytes = 600;
  size_t n = std::min<size_t>(req.in.size(), proto::kMaxJobExitReportBytes);
  if (n == 0 || outcome_->writeback_failures == 0) return;
  std::string text(n, '\0');
  req.in.copy_to(std::as_writable_bytes(std::span(text.data(), text.size())), 0);
  size_t lines = 0, pos = 0;
  while (pos < text.size() && lines < kMaxLines) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, std::min(end - pos, kMaxLineBytes));
    log::error("the guest could not return an output: " + escaped_line(line));
    ++lines;
    pos = end + 1;
  }
  if (outcome_->writeback_failures > lines)
    log::error("... " + std::to_string(outcome_->writeback_failures - lines) +
               " more outputs not returned; the job's stderr names them");
}

rpc::Reply JobSession::wait_event(const rpc::Request& req) {
  uint64_t ms = req.arg[0];
  if (ms == 0 || ms > kMaxWaitEventMs) ms = kMaxWaitEventMs;
  std::unique_lock lk(mu_);
  if (waiters_ >= kMaxEventWaiters) return rpc::Reply::error(WireError::kAgain);
  ++waiters_;
  cv_.wait_for(lk, std::chrono::milliseconds(ms),
               [&] { return shutdown_ || vacate_ || closed_ || outcome_.has_value(); });
  --waiters_;
  rpc::Reply r;
  if (shutdown_ || closed_) {
    r.val[0] = static_cast<uint64_t>(proto::Event::kShutdown);
  } else if (vacate_) {
    vacate_ = false;
    r.val[0] = static_cast<uint64_t>(proto::Event::kVacate);
  } else {
    r.val[0] = static_cast<uint64_t>(proto::Event::kNone);
  }
  return r;
}

void JobSession::post_event(proto::Event e) {
  {
    std::lock_guard lk(mu_);
    if (e == proto::Event::kShutdown) shutdown_ = true;
    if (e == proto::Event::kVacate) vacate_ = true;
  }
  cv_.notify_all();
}

void JobSession::close() {
  {
    std::lock_guard lk(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

std::optional<JobOutcome> JobSession::outcome() const {
  std::lock_guard lk(mu_);
  return outcome_;
}

bool JobSession::spec_delivered() const {
  std::lock_guard lk(mu_);
  return delivered_;
}

}  // namespace ringbox::host::job
