// ringbox-agent: the guest-side paravirtual agent. Thin: the work is in the library.
#include "guest/agent_main.h"

int main(int argc, char** argv) {
  return ringbox::guest::agent_main(argc, argv);
}
