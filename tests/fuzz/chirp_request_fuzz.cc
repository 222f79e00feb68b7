// Fuzzes the server's view of a Chirp request line (shared/chirp/codec: parse_request_line,
// decode_word, parse_int, parse_open_flags). An accepted line must respect the bounds
// (kMaxWords, kMaxPathBytes, no NUL in a word), and re-encoding its arguments with either
// escaping must parse back to the same arguments.
#include <string>

#include "shared/chirp/codec.h"
#include "tests/fuzz/fuzz_target.h"

using namespace ringbox::chirp;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view line = in.substr(0, in.find('\n'));
  auto req = parse_request_line(line);
  if (!req) return 0;
  FUZZ_CHECK(!req->command.empty());
  FUZZ_CHECK(req->args.size() + 1 <= kMaxWords);
  std::string again_url = req->command, again_bs = req->command;
  for (const auto& a : req->args) {
    FUZZ_CHECK(a.size() <= kMaxPathBytes);
    FUZZ_CHECK(a.find('\0') == std::string::npos);
    // Numbers and flags as the server would read them: any outcome but a crash is fine.
    (void)parse_int(a, INT64_MIN, INT64_MAX);
    (void)parse_open_flags(a);
    if (a.empty()) return 0;  // an empty word cannot be sent (it is no word at all)
    again_url += " " + encode_word(a, Escaping::kUrl);
    again_bs += " " + encode_word(a, Escaping::kBackslash);
  }
  // A raw LF ends a line whatever escapes it; the client never sends one in this dialect.
  if (again_bs.find('\n') != std::string::npos) again_bs = again_url;
  for (const std::string& again : {again_url, again_bs}) {
    if (again.size() >= kMaxRequestLineBytes) continue;
    auto back = parse_request_line(again);
    FUZZ_CHECK(back.has_value());
    FUZZ_CHECK(back->command == req->command);
    FUZZ_CHECK(back->args == req->args);
  }
  return 0;
}

std::vector<std::vector<uint8_t>> fuzz_seeds() {
  std::vector<std::vector<uint8_t>> seeds;
  for (const char* s :
       {"open /a/b rwct 420\n", "pread 3 4096 0\n", "pwrite 0 3 10\nabc", "putfile /x 33188 6\n",
        "getlongdir /\n", "stat /a\\ b%20c\n", "rename /a%2Fb /c\\\\d\n",
        "utime /f -1 1700000000\n", "symlink ../t /l\n", "lseek 1 -9223372036854775808 2\n",
        "cookie abcdefghijklmnopqrstu\n", "sread 1 2 3 4 5 6 7 8 9\n"}) {
    std::string v = s;
    seeds.emplace_back(v.begin(), v.end());
  }
  return seeds;
}
