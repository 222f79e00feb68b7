#include "guest/fd_limit.h"

#include <algorithm>
#include <fstream>

namespace ringbox::guest {
namespace {
bool g_saved = false;
rlimit g_original{};
}  // namespace

rlimit raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return lim;
  g_original = lim;
  g_saved = true;
  rlim_t nr_open = lim.rlim_max;
  std::ifstream("/proc/sys/fs/nr_open") >> nr_open;
  rlimit want = lim;
  want.rlim_max = std::max(lim.rlim_max, std::min<rlim_t>(nr_open, kAgentFdLimit));
  want.rlim_cur = want.rlim_max;
  // Raising the hard limit needs CAP_SYS_RESOURCE; without it, the soft one still goes up.
  if (::setrlimit(RLIMIT_NOFILE, &want) != 0) {
    want.rlim_max = lim.rlim_max;
    want.rlim_cur = lim.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &want);
  }
  return g_original;
}

rlimit job_fd_limit() {
  if (g_saved) return g_original;
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  return lim;
}

}  // namespace ringbox::guest
