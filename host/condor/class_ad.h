// ClassAd: the attributes of a job or slot ad as HTCondor writes them to the files named by
// $_CONDOR_JOB_AD and $_CONDOR_MACHINE_AD (the `condor_q -l` format: one `Name = value` per
// line; docs/users-manual/env-of-job.rst, src/classad/sink.cpp's unparser).
//
// Literals are decoded: strings ("..." with the new-ClassAd escapes \" \\ \n \t \r \b \f \'
// \/ and octal \ooo), integers, reals, booleans (true/false, any case), undefined and error.
// Anything else (an expression such as `RequestMemory = ifthenelse(...)`, a list, a nested ad)
// is kept as its unparsed text: ringbox never evaluates expressions.
//
// Trust: the job ad is written by HTCondor but its values come from the job's submitter, and
// the file lies in the job's scratch directory, which the job's user can rewrite. So the parser
// takes any bytes: bounded file and line sizes, a bounded attribute count; a line that is not
// `Name = value` is skipped and counted, never a crash. Names compare case-insensitively, as in
// ClassAds. Who calls it: the HTCondor wrapper (host/condor/wrapper.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "shared/util/result.h"

namespace ringbox::host::condor {

inline constexpr size_t kMaxAdFileBytes = size_t{16} << 20;  // real job ads are a few KiB
inline constexpr size_t kMaxAdLineBytes = size_t{1} << 20;   // one attribute (Environment ...)
inline constexpr size_t kMaxAdAttributes = 20000;
inline constexpr size_t kMaxAttributeNameBytes = 256;

struct ClassAdValue {
  enum class Kind { kString, kInteger, kReal, kBoolean, kUndefined, kError, kExpression };
  Kind kind = Kind::kUndefined;
  std::string
      text;  // kString: the decoded string; kExpression: the unparsed text; else the literal
  int64_t integer = 0;
  double real = 0;
  bool boolean = false;
};

// Decodes one value text (what follows `=`, trimmed). Never fails: what is not a literal is a
// kExpression holding the text.
ClassAdValue parse_classad_value(std::string_view text);

class ClassAd {
 public:
  // Parses the text of an ad. Errors: kTooLarge for a text, line or attribute count beyond the
  // limits above (the ad is refused whole rather than read in part).
  static Result<ClassAd> parse(std::string_view text);
  // Reads and parses the file at path (at most kMaxAdFileBytes).
  static Result<ClassAd> read_file(const std::string& path);

  // The attribute's value, by case-insensitive name; null when absent. A repeated name: the
  // last line wins (as when HTCondor's parser reads the ad again).
  const ClassAdValue* find(std::string_view name) const;
  // The value when it is a literal of that type; nullopt when absent or of another type.
  std::optional<std::string> get_string(std::string_view name) const;
  std::optional<int64_t> get_integer(std::string_view name) const;
  // Integers and reals both (Memory may be written either way).
  std::optional<double> get_number(std::string_view name) const;
  std::optional<bool> get_bool(std::string_view name) const;

  size_t size() const { return attrs_.size(); }
  // Non-empty lines that were not `Name = value` (and not a `#` comment).
  size_t skipped_lines() const { return skipped_; }

 private:
  struct Attr {
    std::string name;
    ClassAdValue value;
  };
  std::vector<Attr> attrs_;
  std::unordered_map<std::string, size_t> index_;  // lower-case name -> attrs_ index
  size_t skipped_ = 0;
};

}  // namespace ringbox::host::condor
