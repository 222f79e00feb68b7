#include "guest/fs/auto_policy.h"

#include <algorithm>

namespace ringbox::guest::fs {

namespace {
// Exponentially weighted: recent measurements count most, one outlier does not decide.
constexpr double kWeight = 0.25;
double blend(double old_value, double sample) {
  return old_value + kWeight * (sample - old_value);
}
}  // namespace

double AutoPolicy::rtt_us() const {
  std::lock_guard lk(mu_);
  return rtt_us_;
}

double AutoPolicy::fetch_bytes_per_us() const {
  std::lock_guard lk(mu_);
  return bytes_per_us_;
}

double AutoPolicy::fetch_cost_us(uint64_t size) const {
  std::lock_guard lk(mu_);
  return rtt_us_ + static_cast<double>(size) / bytes_per_us_;
}

bool AutoPolicy::fetch_at_open(uint64_t size, uint64_t room) const {
  if (size > room) return false;
  if (size <= kAlwaysFetchBytes) return true;
  std::lock_guard lk(mu_);
  double fetch = rtt_us_ + static_cast<double>(size) / bytes_per_us_;
  return fetch <= kOpenFetchRtts * rtt_us_;
}

AutoReads AutoPolicy::reads_of(const AutoReads& file) const {
  std::lock_guard lk(mu_);
  return file;
}

void AutoPolicy::note_round_trip(double us) {
  if (us <= 0) return;
  std::lock_guard lk(mu_);
  rtt_us_ = rtt_measured_ ? blend(rtt_us_, us) : us;
  rtt_measured_ = true;
}

AutoSwitch AutoPolicy::note_remote_read(AutoReads& file, uint64_t size,
                                        const std::function<uint64_t()>& room, uint64_t bytes,
                                        double us) {
  std::lock_guard lk(mu_);
  // A read's cost beyond the bytes it moved is the round trip.
  if (us > 0) {
    double sample = std::max(0.0, us - static_cast<double>(bytes) / bytes_per_us_);
    if (sample > 0) {
      rtt_us_ = rtt_measured_ ? blend(rtt_us_, sample) : sample;
      rtt_measured_ = true;
    }
  }
  ++file.reads;
  file.bytes += bytes;
  file.spent_us += std::max(0.0, us);
  if (file.fetch_started) return AutoSwitch::kStayRemote;
  double fetch = rtt_us_ + static_cast<double>(size) / bytes_per_us_;
  if (file.spent_us < kSwitchFraction * fetch) return AutoSwitch::kStayRemote;
  // Decided once either way: a file that does not fit the cache now stays remote.
  file.fetch_started = true;
  return size > room() ? AutoSwitch::kNoRoom : AutoSwitch::kFetch;
}

void AutoPolicy::note_fetch(uint64_t bytes, double us) {
  if (bytes < kBandwidthSampleBytes || us <= 0) return;
  std::lock_guard lk(mu_);
  double sample = static_cast<double>(bytes) / std::max(1.0, us - rtt_us_);
  bytes_per_us_ = bandwidth_measured_ ? blend(bytes_per_us_, sample) : sample;
  bandwidth_measured_ = true;
}

}  // namespace ringbox::guest::fs
