#include "shared/util/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

#include "shared/util/file_io.h"

namespace ringbox::log {
namespace {
std::atomic<Level> g_level{Level::kInfo};
std::string g_program = "ringbox";
constexpr const char* kNames[] = {"debug", "info", "warning", "error"};
}  // namespace

void set_program(std::string_view name) {
  g_program = name;
}
void set_level(Level l) {
  g_level = l;
}
Level level() {
  return g_level;
}

void write(Level l, std::string_view msg) {
  if (l < g_level.load(std::memory_order_relaxed)) return;
  std::string line = g_program + ": " + kNames[static_cast<int>(l)] + ": ";
  line.append(msg);
  line.push_back('\n');
  // One write(2) per line keeps lines from different threads whole.
  [[maybe_unused]] ssize_t n =
      retry_eintr([&] { return ::write(STDERR_FILENO, line.data(), line.size()); });
}

}  // namespace ringbox::log

namespace ringbox {

std::string printable(std::string_view untrusted) {
  constexpr size_t kMaxShownBytes = 120;
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < untrusted.size() && i < kMaxShownBytes; ++i) {
    unsigned char c = static_cast<unsigned char>(untrusted[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (untrusted.size() > kMaxShownBytes) out += "...";
  return out;
}

}  // namespace ringbox
