// Splitting a list written by a person: "a, b c" and "a,b,c" both give {"a", "b", "c"}.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ringbox {

// The words of s separated by commas and ASCII white space (" \t\n\r\v\f"), empties dropped.
// HTCondor's lists (transfer_input_files, the job ad's) and the service policy's user lists
// are written this way.
inline std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',' || c == ' ' || (c >= '\t' && c <= '\r')) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

}  // namespace ringbox
