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

#include "guest/fs/fuse_busy.h"

using ringbox::guest::tasks_not_stopped;

namespace {
// A child in a process group of its own, sleeping in pause(2), as the agent's job would.
pid_t sleeping_child() {
  pid_t child = ::fork();
  if (child == 0) {
    ::setpgid(0, 0);
    for (;;) ::pause();
  }
  if (child > 0) ::setpgid(child, child);  // no race with the child's own call
  return child;
}
}  // namespace

TEST_CASE("a job's task counts as stopped only once the kernel shows it stopped",
          "[guest][vacate]") {
  pid_t child = sleeping_child();
  REQUIRE(child > 0);
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

TEST_CASE("however short the budget, the job's tasks get a moment to stop", "[guest][vacate]") {
  pid_t child = sleeping_child();
  REQUIRE(child > 0);
  for (int i = 0; i < 200 && tasks_not_stopped(child) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ringbox::guest::set_vacate_job(child);
  // A budget already spent (a host that gives less than the guest's margin): no FUSE request
  // runs, and the child stops within the settle time, so the vacate goes on.
  auto stopped = ringbox::guest::stop_job_for_vacate(ringbox::Deadline(0));
  CHECK(stopped);
  CHECK(tasks_not_stopped(child) == 0);
  // Until the job continues, no FUSE request waits on another's work (auto's held reads).
  CHECK(ringbox::guest::fs::holds_released());
  ringbox::guest::continue_job_after_vacate();
  CHECK_FALSE(ringbox::guest::fs::holds_released());
  ringbox::guest::set_vacate_job(0);
  int status = 0;
  ::kill(child, SIGKILL);
  ::waitpid(child, &status, 0);
}
