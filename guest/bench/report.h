// Results of one ringbox-bench run, as a text table or JSON.
#pragma once

#include <string>
#include <vector>

#include "guest/bench/measure.h"

namespace ringbox::bench {

struct PathResult {
  std::string path;  // "local-ring", "tcp-loopback", "xen-ring", "tcp-vif", ...
  std::vector<LatencyStats> rtt;
  std::vector<ThroughputStats> bulk;
};

struct Report {
  std::string benchmark;
  std::string config;  // free text: geometry, spin, iterations
  std::vector<PathResult> paths;
};

std::string to_json(const Report& r);
std::string to_table(const Report& r);

}  // namespace ringbox::bench
