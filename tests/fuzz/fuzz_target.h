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
#include <cstring>
#include <optional>
#include <string_view>
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

// The input layout of the targets that fuzz several decoders at once: one selector byte (which
// decoder), an 8-byte argument (host order), then the payload; shorter input is no input.
struct SelectorInput {
  uint8_t which;
  uint64_t arg;
  std::string_view payload;
};
inline std::optional<SelectorInput> parse_selector_input(const uint8_t* data, size_t size) {
  if (size < 9) return std::nullopt;
  SelectorInput in{data[0], 0, {reinterpret_cast<const char*>(data + 9), size - 9}};
  std::memcpy(&in.arg, data + 1, sizeof(in.arg));
  return in;
}
// A seed in that layout.
inline std::vector<uint8_t> selector_seed(uint8_t which, uint64_t arg, std::string_view payload) {
  std::vector<uint8_t> v(9 + payload.size());
  v[0] = which;
  std::memcpy(v.data() + 1, &arg, sizeof(arg));
  std::memcpy(v.data() + 9, payload.data(), payload.size());
  return v;
}
