// The signals that stop `ringbox-host run` and `boot` in order: SIGTERM (HTCondor's vacate and
// remove), SIGINT (a terminal's ^C), SIGHUP (a lost session). Each command blocks them in every
// thread (so before it starts any) and takes them in its watcher thread from a signalfd
// (host/signal_waiter.h), so nothing runs in a signal handler.
#pragma once

#include <signal.h>

namespace ringbox::host {

inline sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace ringbox::host
