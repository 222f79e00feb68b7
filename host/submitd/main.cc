// ringbox-submitd: a Chirp file server for the submit machine (docs/ringbox-submitd.md).
#include "host/submitd/submitd_main.h"

int main(int argc, char** argv) {
  return ringbox::submitd::submitd_main(argc, argv);
}
