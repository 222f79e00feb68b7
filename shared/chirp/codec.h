// The Chirp codec: bounded encode and decode of request lines, response lines, stat and statfs
// lines, escaped words, open flags and the error-code mapping. Pure functions over bytes (no
// I/O), shared by the client (shared/chirp/client) and the server (host/submitd), and the
// target of the two fuzzers (tests/fuzz/chirp_*_fuzz.cc).
//
// Trust: every input here may come from a hostile peer. Each decoder bounds lengths, word
// counts and numeric ranges before use, never overflows (numbers are parsed digit by digit
// against the range), and answers anything else with Errc::kProtocol naming what was wrong.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shared/chirp/chirp_proto.h"
#include "shared/util/result.h"

namespace ringbox::chirp {

// One request line split into its command and decoded arguments (LF already stripped).
struct RequestLine {
  std::string command;
  std::vector<std::string> args;  // unescaped (both escapings are accepted, see decode_word)
};

// Splits "cmd a b c" on runs of spaces and tabs (a backslash-escaped space stays in its word)
// and decodes each word. Errors: empty line, more than kMaxWords words, a word that does not
// decode, a NUL byte, a line longer than kMaxRequestLineBytes.
Result<RequestLine> parse_request_line(std::string_view line);

// Decodes one word as the server sees it: "\c" is the literal c (HTCondor), "%XX" with two hex
// digits is that byte (cctools URL encoding), anything else is itself. A word decoding to a NUL
// byte, or longer than kMaxPathBytes, is refused. Known ambiguity: a literal "%41" sent by an
// HTCondor-style client that does not escape '%' decodes as "A" (htchirp does not escape '%').
Result<std::string> decode_word(std::string_view word);
// Escapes one word for the peer's dialect (see Escaping in chirp_proto.h).
std::string encode_word(std::string_view word, Escaping esc);

// A decimal integer in [min, max]: optional '-' or '+', 1..19 digits, nothing else. Never
// overflows.
Result<int64_t> parse_int(std::string_view s, int64_t min, int64_t max);
// A response line ("-3", "4096"; trailing CR tolerated). Any int64 is syntactically valid; the
// caller checks the range for the command.
Result<int64_t> parse_result_line(std::string_view line);
std::string encode_result(int64_t value);  // "value\n"

Result<StatLine> parse_stat_line(std::string_view line);
std::string encode_stat_line(const StatLine& st);  // 13 decimals and "\n"
Result<StatfsLine> parse_statfs_line(std::string_view line);
std::string encode_statfs_line(const StatfsLine& st);

// open flags "rwatcx" (cctools also 's' = O_SYNC) <-> open(2) flags. Unknown letters are
// refused (a server guessing would open with a mode the client did not ask for).
Result<int> parse_open_flags(std::string_view letters);
std::string encode_open_flags(int flags);

// errno -> response code, as both servers map it (chirp-protocol.md section 3); unmapped
// errnos become kUnknown.
Status status_from_errno(int err);
// Response code -> errno, as the cctools client maps it; unknown codes are EIO.
int errno_from_status(int64_t code);
const char* status_name(int64_t code);

}  // namespace ringbox::chirp
