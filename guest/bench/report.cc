#include "guest/bench/report.h"

#include <cstdio>

namespace ringbox::bench {
namespace {

std::string num(double v) {
  char b[64];
  std::snprintf(b, sizeof(b), "%.3f", v);
  return b;
}

const LatencyStats* find_rtt(const PathResult& p, uint32_t bytes) {
  for (const auto& l : p.rtt)
    if (l.payload_bytes == bytes) return &l;
  return nullptr;
}

const ThroughputStats* find_bulk(const PathResult& p, const std::string& dir) {
  for (const auto& t : p.bulk)
    if (t.direction == dir) return &t;
  return nullptr;
}

}  // namespace

std::string to_json(const Report& r) {
  std::string s = "{\n  \"benchmark\": \"" + r.benchmark + "\",\n  \"config\": \"" + r.config +
                  "\",\n  \"paths\": [\n";
  for (size_t i = 0; i < r.paths.size(); ++i) {
    const auto& p = r.paths[i];
    s += "    {\"path\": \"" + p.path + "\", \"rtt\": [";
    for (size_t j = 0; j < p.rtt.size(); ++j) {
      const auto& l = p.rtt[j];
      s += std::string(j ? ", " : "") + "{\"bytes\": " + std::to_string(l.payload_bytes) +
           ", \"samples\": " + std::to_string(l.samples) + ", \"p50_us\": " + num(l.p50_us) +
           ", \"p99_us\": " + num(l.p99_us) + ", \"mean_us\": " + num(l.mean_us) +
           ", \"min_us\": " + num(l.min_us) + "}";
    }
    s += "], \"bulk\": [";
    for (size_t j = 0; j < p.bulk.size(); ++j) {
      const auto& t = p.bulk[j];
      s += std::string(j ? ", " : "") + "{\"direction\": \"" + t.direction +
           "\", \"message_bytes\": " + std::to_string(t.message_bytes) +
           ", \"total_bytes\": " + std::to_string(t.total_bytes) +
           ", \"seconds\": " + num(t.seconds) + ", \"mb_per_s\": " + num(t.mb_per_s) + "}";
    }
    s += "]}" + std::string(i + 1 < r.paths.size() ? "," : "") + "\n";
  }
  s += "  ]";
  // Side-by-side ratios against the first path (the ring), measured in this same run.
  if (r.paths.size() >= 2) {
    const auto& a = r.paths[0];
    s += ",\n  \"ratios\": {";
    bool first = true;
    for (size_t i = 1; i < r.paths.size(); ++i) {
      const auto& b = r.paths[i];
      for (const auto& l : a.rtt) {
        if (const auto* o = find_rtt(b, l.payload_bytes)) {
          s += std::string(first ? "" : ", ") + "\"" + b.path + "_over_" + a.path + "_p50_rtt_" +
               std::to_string(l.payload_bytes) + "B\": " + num(o->p50_us / l.p50_us);
          first = false;
        }
      }
      for (const auto& t : a.bulk) {
        if (const auto* o = find_bulk(b, t.direction)) {
          s += std::string(first ? "" : ", ") + "\"" + a.path + "_over_" + b.path + "_bulk_" +
               t.direction + "\": " + num(t.mb_per_s / o->mb_per_s);
          first = false;
        }
      }
    }
    s += "}";
  }
  s += "\n}\n";
  return s;
}

std::string to_table(const Report& r) {
  std::string s = r.benchmark + " (" + r.config + ")\n";
  char line[256];
  std::snprintf(line, sizeof(line), "%-14s %8s %10s %10s %10s\n", "path", "bytes", "p50 us",
                "p99 us", "mean us");
  s += line;
  for (const auto& p : r.paths)
    for (const auto& l : p.rtt) {
      std::snprintf(line, sizeof(line), "%-14s %8u %10.2f %10.2f %10.2f\n", p.path.c_str(),
                    l.payload_bytes, l.p50_us, l.p99_us, l.mean_us);
      s += line;
    }
  std::snprintf(line, sizeof(line), "%-14s %14s %10s %10s\n", "path", "direction", "msg KiB",
                "MB/s");
  s += line;
  for (const auto& p : r.paths)
    for (const auto& t : p.bulk) {
      std::snprintf(line, sizeof(line), "%-14s %14s %10llu %10.1f\n", p.path.c_str(),
                    t.direction.c_str(), static_cast<unsigned long long>(t.message_bytes / 1024),
                    t.mb_per_s);
      s += line;
    }
  return s;
}

}  // namespace ringbox::bench
