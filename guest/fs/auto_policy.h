// AutoPolicy: auto mode's choice, per file and at run time, between fetching a file whole
// (lazy-file) and serving its reads by block over the ring (remote-io, with the guest's page
// cache as the block cache and the kernel's read-ahead for a sequential reader).
//
// The costs it weighs, both measured on this connection while the job runs:
//   a remote read   ~ one round trip (rtt_us), whatever its size up to a read-ahead window;
//   a whole fetch   ~ rtt_us + size / fetch_bytes_per_us.
// The rules (docs/modes.md gives the constants' measurements):
//   at open         fetch now when the file is at most kAlwaysFetchBytes, or when fetching it
//                   costs no more than kOpenFetchRtts remote reads: a job that reads a file at
//                   all reads it that often (a small file is read whole in a read or two);
//   while reading   serve remotely, adding up what the remote reads of this file cost; once that
//                   reaches kSwitchFraction of the fetch's estimated cost, fetch the file
//                   (on the view's fetcher thread; the file's reads wait for the copy rather
//                   than compete with the fetch on the ring), then read the local copy.
//                   (The ski-rental rule: a job that stops early paid little for remote reads;
//                   one that goes on pays at most a fraction more than a fetch at open.)
// A file that does not fit the cache's room is never fetched: it stays remote.
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>

namespace ringbox::guest::fs {

inline constexpr uint64_t kAlwaysFetchBytes = 128 * 1024;  // the kernel's read-ahead window
inline constexpr double kOpenFetchRtts = 16.0;
inline constexpr double kSwitchFraction = 0.5;
// Starting estimates, replaced by measurements after the first remote read and the first
// fetch of at least kBandwidthSampleBytes.
inline constexpr double kInitialRttUs = 100.0;
inline constexpr double kInitialFetchBytesPerUs = 200.0;  // 200 MB/s
inline constexpr uint64_t kBandwidthSampleBytes = 1 << 20;

// What note_remote_read decided after one remote read.
enum class AutoSwitch {
  kStayRemote,  // the reads have not cost enough yet, or the decision was made before
  kFetch,       // fetch the file in the background now (returned once per file)
  kNoRoom,      // they cost enough, but the file does not fit the cache: it stays remote
};

// What one file's remote reads have cost so far (guarded by AutoPolicy).
struct AutoReads {
  uint64_t reads = 0;
  uint64_t bytes = 0;
  double spent_us = 0;
  bool fetch_started = false;  // at most one background fetch per file
};

class AutoPolicy {
 public:
  // At open of a file of size bytes not in the cache, with room bytes left in it: fetch whole?
  bool fetch_at_open(uint64_t size, uint64_t room) const;
  // After a remote read of `bytes` that took us microseconds: whether the file should now be
  // fetched in the background (kFetch or kNoRoom are returned once per file). room() (the
  // cache's room in bytes, a statvfs) is asked only once the reads have cost enough.
  AutoSwitch note_remote_read(AutoReads& file, uint64_t size, const std::function<uint64_t()>& room,
                              uint64_t bytes, double us);
  // A copy of what one file's remote reads have cost so far (its fields are guarded here).
  AutoReads reads_of(const AutoReads& file) const;
  // A round trip measured elsewhere (an open), in microseconds.
  void note_round_trip(double us);
  // A whole fetch of `bytes` that took us microseconds.
  void note_fetch(uint64_t bytes, double us);

  double rtt_us() const;
  double fetch_bytes_per_us() const;
  // The estimated cost of fetching size bytes whole, in microseconds.
  double fetch_cost_us(uint64_t size) const;

 private:
  mutable std::mutex mu_;
  double rtt_us_ = kInitialRttUs;
  double bytes_per_us_ = kInitialFetchBytesPerUs;
  bool rtt_measured_ = false;
  bool bandwidth_measured_ = false;
};

}  // namespace ringbox::guest::fs
