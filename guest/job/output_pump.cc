#include "guest/job/output_pump.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "shared/util/log.h"

namespace ringbox::guest::job {
namespace {
constexpr size_t kChunkBytes = 64 * 1024;
constexpr int kPollSliceMs = 100;
}  // namespace

void report_to_job_stderr(rpc::Client& client, std::string_view message) {
  std::string line = "ringbox-agent: " + std::string(message) + "\n";
  line.resize(std::min<size_t>(line.size(), client.max_payload()));
  rpc::Call c;
  c.opcode = proto::Opcode::kJobStderr;
  c.in = std::as_bytes(std::span(line));
  auto r = client.call(c);
  if (!r || !r->ok()) log::warn("could not send a message to the job's stderr: " + line);
  log::info(message);
}

OutputPump::OutputPump(rpc::Client& client, UniqueFd stdout_fd, UniqueFd stderr_fd)
    : client_(client), out_(std::move(stdout_fd)), err_(std::move(stderr_fd)) {
  thread_ = std::thread([this] { run(); });
}

OutputPump::~OutputPump() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void OutputPump::finish(int grace_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (!done_ && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (!done_) log::warn("the job's output pipes are still open; no more output will be sent");
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void OutputPump::send(proto::Opcode op, std::string_view bytes, bool& refused) {
  if (refused) return;
  size_t max = client_.max_payload();
  for (size_t off = 0; off < bytes.size(); off += max) {
    rpc::Call c;
    c.opcode = op;
    c.in = std::as_bytes(std::span(bytes.substr(off, max)));
    auto r = client_.call(c);
    if (!r) {
      log::warn("send job output: " + r.error().message());
      refused = true;
      return;
    }
    if (!r->ok()) {
      log::warn("the host refused more job output (status " + std::to_string(r->status) + ")");
      refused = true;
      return;
    }
    sent_ += std::min(max, bytes.size() - off);
  }
}

void OutputPump::run() {
  std::vector<char> buf(std::min<size_t>(kChunkBytes, client_.max_payload()));
  bool open[2] = {true, true};
  bool refused[2] = {false, false};
  const proto::Opcode ops[2] = {proto::Opcode::kJobStdout, proto::Opcode::kJobStderr};
  const int fds[2] = {out_.get(), err_.get()};
  while ((open[0] || open[1]) && !stop_) {
    pollfd p[2] = {{open[0] ? fds[0] : -1, POLLIN, 0}, {open[1] ? fds[1] : -1, POLLIN, 0}};
    int n = ::poll(p, 2, kPollSliceMs);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (!open[i] || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::read(fds[i], buf.data(), buf.size());
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) {
        open[i] = false;
        continue;
      }
      send(ops[i], std::string_view(buf.data(), static_cast<size_t>(got)), refused[i]);
    }
  }
  done_ = !open[0] && !open[1];
}

}  // namespace ringbox::guest::job
