// Without libFuzzer: run each seed, every file of the target's corpus in the tree (regression
// inputs and what earlier fuzzing found), then N mutations (byte flips, truncations, extensions,
// interesting values) from a fixed RNG seed, so a failure reproduces exactly.
//
// usage: fuzz-NAME [ITERATIONS [CORPUS_DIR]]
//        fuzz-NAME --write-seeds DIR   (writes fuzz_seeds() as DIR/seed-N, the libFuzzer seeds)
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include "tests/fuzz/fuzz_target.h"

namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

int write_seeds(const fs::path& dir) {
  fs::create_directories(dir);
  auto seeds = fuzz_seeds();
  for (size_t i = 0; i < seeds.size(); ++i) {
    std::ofstream out(dir / ("seed-" + std::to_string(i)), std::ios::binary);
    out.write(reinterpret_cast<const char*>(seeds[i].data()),
              static_cast<std::streamsize>(seeds[i].size()));
    if (!out) {
      std::fprintf(stderr, "cannot write seed %zu into %s\n", i, dir.c_str());
      return 1;
    }
  }
  std::printf("%zu seeds written to %s\n", seeds.size(), dir.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--write-seeds") == 0) return write_seeds(argv[2]);
  const long iterations = argc > 1 ? std::stol(argv[1]) : 20000;
  auto seeds = fuzz_seeds();
  for (const auto& s : seeds) LLVMFuzzerTestOneInput(s.data(), s.size());
  size_t corpus_files = 0;
  if (argc > 2) {
    // A corpus named on the command line must exist: a typo would otherwise replay nothing.
    if (!fs::is_directory(argv[2])) {
      std::fprintf(stderr, "corpus directory %s does not exist\n", argv[2]);
      return 1;
    }
    for (const auto& e : fs::directory_iterator(argv[2])) {
      if (!e.is_regular_file()) continue;
      auto in = read_file(e.path());
      LLVMFuzzerTestOneInput(in.data(), in.size());
      seeds.push_back(std::move(in));  // mutations start from the corpus too
      ++corpus_files;
    }
  }
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
  std::printf("%zu seeds, %zu corpus files and %ld mutations: no crash, every check held\n",
              seeds.size() - corpus_files, corpus_files, iterations);
  return 0;
}
