#include "host/own_group_spawn.h"

#include <signal.h>

namespace ringbox::host {

Result<pid_t> spawn_in_own_group(const std::string& path, std::vector<std::string> argv,
                                 std::vector<std::string> env,
                                 const posix_spawn_file_actions_t* actions,
                                 const std::string& what) {
  std::vector<char*> cargv, cenv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
  pid_t pid;
  int rc = ::posix_spawn(&pid, path.c_str(), actions, &attr, cargv.data(), cenv.data());
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return sys_error(rc, what);
  return pid;
}

}  // namespace ringbox::host
