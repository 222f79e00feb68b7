// Fuzzes the root service's frame decoder (host/service/service_protocol.h): any local user
// can send these bytes to a root process. Decode or refuse cleanly; what decodes must encode
// back to the same bytes.
#include <algorithm>

#include "host/service/service_protocol.h"
#include "tests/fuzz/fuzz_target.h"

using namespace ringbox::host::service;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  auto m = decode_service_message(in);
  if (!m) return 0;
  FUZZ_CHECK(m->fields.size() <= kMaxServiceFields);
  auto again = encode_service_message(*m);
  FUZZ_CHECK(again.size() == size);
  FUZZ_CHECK(std::equal(again.begin(), again.end(), in.begin()));
  return 0;
}

std::vector<std::vector<uint8_t>> fuzz_seeds() {
  std::vector<std::vector<uint8_t>> seeds;
  ServiceMessage run;
  run.add("op", "run");
  run.add("mode", "lazy-file");
  run.add("arg", "./job.sh");
  run.add("env", "PATH=/bin");
  run.add("memory_mib", "512");
  ServiceMessage result;
  result.add("op", "result");
  result.add("kind", "signaled");
  result.add("value", "9");
  for (const auto* m : {&run, &result}) {
    auto b = encode_service_message(*m);
    seeds.emplace_back(reinterpret_cast<const uint8_t*>(b.data()),
                       reinterpret_cast<const uint8_t*>(b.data()) + b.size());
  }
  seeds.push_back({});
  return seeds;
}
