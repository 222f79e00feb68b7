// Fuzzes the restore file's header parser (host/run/restore_file.h): a vacated job's restore
// file comes back from elsewhere (HTCondor carries it with the job, so its owner can rewrite
// it), and ringbox-host reads its 4 KiB header as root before libxl sees the stream. Input: the
// file's size (u64, the first 8 bytes), then the header bytes (cut or NUL-padded to 4 KiB).
// What parses must lie in the header's ranges, agree with the file's size, and be exactly the
// text format_restore_header writes for it.
#include <cstring>
#include <string>

#include "host/run/restore_file.h"
#include "tests/fuzz/fuzz_target.h"

using namespace ringbox;
using namespace ringbox::host::run;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  uint64_t file_bytes;
  std::memcpy(&file_bytes, data, sizeof(file_bytes));
  std::string header(reinterpret_cast<const char*>(data + 8), size - 8);
  // Most inputs get the size their header claims, so the fuzzer reaches past that check.
  const bool exact = file_bytes & 1;
  header.resize(kRestoreHeaderBytes, '\0');
  auto h = parse_restore_header(header, file_bytes);
  if (exact && !h) {
    // Try again with the size the header names, if it names one.
    auto pos = header.find("\nstream-bytes ");
    if (pos == std::string::npos) return 0;
    uint64_t claimed = std::strtoull(header.c_str() + pos + 14, nullptr, 10);
    file_bytes = kRestoreHeaderBytes + claimed;
    h = parse_restore_header(header, file_bytes);
  }
  if (!h) return 0;
  FUZZ_CHECK(h->memory_mib >= 32 && h->memory_mib <= (1u << 20));
  FUZZ_CHECK(h->vcpus >= 1 && h->vcpus <= 128);
  FUZZ_CHECK(h->stream_bytes >= 1 && h->stream_bytes <= (uint64_t{1} << 44));
  FUZZ_CHECK(file_bytes == kRestoreHeaderBytes + h->stream_bytes);
  FUZZ_CHECK(format_restore_header(*h) == header.substr(0, header.find('\0')));
  // A header cut short is refused, whatever it says.
  FUZZ_CHECK(!parse_restore_header(std::string_view(header).substr(0, kRestoreHeaderBytes - 1),
                                   file_bytes));
  return 0;
}

std::vector<std::vector<uint8_t>> fuzz_seeds() {
  std::vector<std::vector<uint8_t>> seeds;
  auto add = [&](uint64_t file_bytes, const std::string& text) {
    std::vector<uint8_t> v(8);
    std::memcpy(v.data(), &file_bytes, 8);
    v.insert(v.end(), text.begin(), text.end());
    seeds.push_back(std::move(v));
  };
  RestoreHeader h{512, 2, true, 123456789, {}};
  for (size_t i = 0; i < h.mac.size(); ++i) h.mac[i] = static_cast<uint8_t>(i * 37);
  add(kRestoreHeaderBytes + h.stream_bytes, format_restore_header(h));
  add(1, format_restore_header(RestoreHeader{32, 1, false, 1, {}}));
  add(kRestoreHeaderBytes + 10,
      "ringbox-restore 1\nmemory-mib 0512\nvcpus 129\n"
      "compression lz4\nstream-bytes 10\n");
  add(kRestoreHeaderBytes + 10,
      "ringbox-restore 2\nmemory-mib 64\nvcpus 1\ncompression none\nstream-bytes 10\n"
      "mac hmac-sha256 00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\n");
  add(0, std::string("ringbox-restore 1\nmemory-mib 64\0garbage", 39));
  return seeds;
}
