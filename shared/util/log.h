// Minimal leveled logging to stderr, one line per call, prefixed with the program name.
#pragma once

#include <string>
#include <string_view>

namespace ringbox::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_program(std::string_view name);
void set_level(Level level);
Level level();
void write(Level level, std::string_view msg);

inline void debug(std::string_view m) {
  write(Level::kDebug, m);
}
inline void info(std::string_view m) {
  write(Level::kInfo, m);
}
inline void warn(std::string_view m) {
  write(Level::kWarn, m);
}
inline void error(std::string_view m) {
  write(Level::kError, m);
}

}  // namespace ringbox::log

namespace ringbox {

// A peer-chosen string (a path, a name) made safe for a log line or an error message:
// non-printable bytes and '\\' as \xNN, at most ~120 characters.
std::string printable(std::string_view untrusted);

}  // namespace ringbox
