// The reaper process: `ringbox-host domain-reaper --uuid U [--name N] [--owner-pid P]
// [--verbose]`, started only by DomainReaper::spawn (reaper.h) with its socket on fd 3. Not a
// user command: host_main routes it here and leaves it out of the usage text.
#pragma once

#include <string>
#include <vector>

namespace ringbox::host::domain {

inline constexpr char kReaperCommand[] = "domain-reaper";
// The socket to the owner; stdin and stdout are /dev/null, stderr is the owner's.
inline constexpr int kReaperFd = 3;

int reaper_main(const std::vector<std::string>& args);

}  // namespace ringbox::host::domain
