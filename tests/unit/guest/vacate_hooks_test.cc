// The agent's vacate drain (guest/vacate_hooks.cc): a task of the job counts as stopped only
// once the kernel shows it stopped (proc(5) state T), which it reaches on its way back to user
// space, not while it sleeps in a system call.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "guest/vacate_hooks.h"

using ringbox::guest::tasks_not_stopped;

TEST_CASE("a job's task counts as stopped only once the kernel shows it stopped",
          "[guest][vacate]") {
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::setpgid(0, 0);  // a process group of its own, as the agent gives the job
    for (;;) ::pause();
  }
  ::setpgid(child, child);  // no race with the child's own call
  // Sleeping in a system call (pause): not stopped.
  for (int i = 0; i < 200 && tasks_not_stopped(child) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(tasks_not_stopped(child) == 1);
  REQUIRE(::kill(-child, SIGSTOP) == 0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, WUNTRACED) == child);
  REQUIRE(WIFSTOPPED(status));
  CHECK(tasks_not_stopped(child) == 0);
  CHECK(tasks_not_stopped(::getpgrp()) >= 1);  // this test's own group runs
  ::kill(child, SIGKILL);
  ::waitpid(child, &status, 0);
  CHECK(tasks_not_stopped(child) == 0);  // gone: nothing left of the group
}
