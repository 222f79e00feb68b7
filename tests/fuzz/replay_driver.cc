// Without libFuzzer: run each seed, then N mutations (byte flips, truncations, extensions,
// interesting values) from a fixed RNG seed, so a failure reproduces exactly.
#include <cstring>
#include <random>
#include <string>

#include "tests/fuzz/fuzz_target.h"

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::stol(argv[1]) : 20000;
  auto seeds = fuzz_seeds();
  for (const auto& s : seeds) LLVMFuzzerTestOneInput(s.data(), s.size());
  std::mt19937_64 rng(12345);
  const uint64_t interesting[] = {
      0,    1,    0x7f, 0x80, 0xff, 0xffff, 0xffffffffull, 0x80000000ull, 0xffffffffffffffffull,
      4096, 65536};
  for (long i = 0; i < iterations; ++i) {
    std::vector<uint8_t> in = seeds[rng() % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 5) {
        case 0:
          if (!in.empty()) in[rng() % in.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        case 1:
          if (!in.empty()) in.resize(rng() % in.size());
          break;
        case 2:
          in.push_back(static_cast<uint8_t>(rng()));
          break;
        case 3:
          if (in.size() >= 8) {
            uint64_t v = interesting[rng() % (sizeof(interesting) / sizeof(interesting[0]))];
            size_t at = rng() % (in.size() - 7);
            std::memcpy(in.data() + at, &v, 1 + rng() % 8);
          }
          break;
        default:
          if (!in.empty()) in[rng() % in.size()] = static_cast<uint8_t>(rng());
      }
    }
    LLVMFuzzerTestOneInput(in.data(), in.size());
  }
  std::printf("%zu seeds and %ld mutations: no crash, every check held\n", seeds.size(),
              iterations);
  return 0;
}
