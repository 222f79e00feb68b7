// ringbox-condor: ringbox's HTCondor job wrapper (host/condor/wrapper.h). A binary of its own
// because USER_JOB_WRAPPER names one program and passes the job as its only arguments.
#include <string>
#include <vector>

#include "host/condor/wrapper.h"

int main(int argc, char** argv) {
  return ringbox::host::condor::cmd_condor(std::vector<std::string>(argv + 1, argv + argc));
}
