// `ringbox-bench randread FILE COUNT [BLOCK [direct]]`: the paper's experiment 1 as a job. Opens
// FILE, does COUNT preads of BLOCK bytes at random block-aligned offsets, prints one JSON line.
// Run inside a job's view (`ringbox-host run ... -- ringbox-bench randread ...`) it measures the
// whole trapped path: FUSE, the ring, the host's file service. With `direct` FILE is opened
// O_DIRECT, so every pread reaches the view (one ring call each in remote-io, whose view keeps
// pages for MAP_SHARED) and none is served from the guest's page cache; the benchmarks ask for
// it in remote-io only, since lazy-file's point is reading the local copy through the cache.
#pragma once

#include <cstdint>
#include <string>

namespace ringbox::bench {

int run_randread(const std::string& path, uint64_t count, uint64_t block, bool direct);

}  // namespace ringbox::bench
