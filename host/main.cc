// ringbox-host: the dom0 frontend daemon. Thin: options in host_main.cc, the work in the library.
#include "host/host_main.h"

int main(int argc, char** argv) {
  return ringbox::host::host_main(argc, argv);
}
