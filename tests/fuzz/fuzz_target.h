// Every fuzz target implements LLVMFuzzerTestOneInput and fuzz_seeds(). Built with clang and
// -DRINGBOX_FUZZ=ON they are libFuzzer binaries; otherwise each links replay_driver.cc, which
// runs the seeds and a fixed number of deterministic mutations of them (so ctest exercises every
// decoder on hostile bytes on every build). A clean rejection is a pass; a crash, a sanitizer
// report or a failed check is a failure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

// Well-formed inputs the mutations start from.
std::vector<std::vector<uint8_t>> fuzz_seeds();

// A property the target asserts on accepted input.
#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)
