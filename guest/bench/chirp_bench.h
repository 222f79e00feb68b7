// `ringbox-bench chirp`: per-call latency and streaming throughput of Chirp servers with one
// and the same client (shared/chirp), next to a raw TCP echo of the same sizes in the same run.
// Servers: ringbox-submitd (always) and cctools chirp_server (when installed); both are started
// by the benchmark on loopback over fresh temporary directories and stopped after.
//
// The client is shared/chirp, so this mode links nothing of host/: the guest/ tree still
// includes only shared/. The servers are separate programs, started by path.
#pragma once

namespace ringbox::bench {

int run_chirp_bench(int argc, char** argv);  // argv[1] == "chirp"

}  // namespace ringbox::bench
