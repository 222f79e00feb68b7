#include "shared/util/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

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
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace ringbox::log
