// The wrapper's saved streams (host/condor/saved_streams.h): the job's stdout and stderr from
// before a vacate come back after the starter truncated them, exactly once.
#include "host/condor/saved_streams.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "shared/util/unique_fd.h"

using namespace ringbox;
using namespace ringbox::host::condor;

namespace {

struct Scratch {
  std::string path;
  UniqueFd dir;
  Scratch() {
    char tmpl[] = "/tmp/ringbox-streams-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
    dir = UniqueFd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(dir);
  }
  ~Scratch() { (void)std::system(("rm -rf '" + path + "'").c_str()); }
  // A stream as the starter opens it: write-only, O_APPEND, O_TRUNC when trunc.
  UniqueFd stream(const char* name, bool trunc) const {
    return UniqueFd(::openat(
        dir.get(), name, O_WRONLY | O_CREAT | O_APPEND | (trunc ? O_TRUNC : 0) | O_CLOEXEC, 0644));
  }
  std::string read(const char* name) const {
    UniqueFd f(::openat(dir.get(), name, O_RDONLY | O_CLOEXEC));
    if (!f) return "<missing>";
    std::string s;
    char buf[4096];
    for (ssize_t n; (n = ::read(f.get(), buf, sizeof buf)) > 0;) s.append(buf, n);
    return s;
  }
  bool exists(const char* name) const { return ::faccessat(dir.get(), name, F_OK, 0) == 0; }
};

void put(int fd, const std::string& s) {
  REQUIRE(::write(fd, s.data(), s.size()) == (ssize_t)s.size());
}

}  // namespace

TEST_CASE("streams saved at a vacate come back after the starter's O_TRUNC", "[condor][vacate]") {
  Scratch s;
  std::string big(200000, 'x');  // more than one copy buffer
  {
    UniqueFd out = s.stream("_condor_stdout", true), err = s.stream("_condor_stderr", true);
    put(out.get(), "line 1\nline 2\n" + big);
    put(err.get(), "warning\n");
    const int streams[2] = {out.get(), err.get()};
    REQUIRE(save_streams(s.dir.get(), streams));
  }
  CHECK(s.read("ringbox.stdout") == "line 1\nline 2\n" + big);
  CHECK(s.read("ringbox.stderr") == "warning\n");
  CHECK_FALSE(s.exists("ringbox.stdout.part"));

  // The relaunch: HTCondor truncated both streams.
  UniqueFd out = s.stream("_condor_stdout", true), err = s.stream("_condor_stderr", true);
  const int streams[2] = {out.get(), err.get()};
  auto put_back = restore_streams(s.dir.get(), streams);
  REQUIRE(put_back);
  CHECK(*put_back == 14 + big.size() + 8);
  put(out.get(), "line 3\n");  // the resumed job goes on
  CHECK(s.read("_condor_stdout") == "line 1\nline 2\n" + big + "line 3\n");
  CHECK(s.read("_condor_stderr") == "warning\n");
  drop_saved_streams(s.dir.get());
  CHECK_FALSE(s.exists("ringbox.stdout"));
  CHECK_FALSE(s.exists("ringbox.stderr"));
}

TEST_CASE("a stream HTCondor kept (it appends for checkpointing jobs) gets nothing twice",
          "[condor][vacate]") {
  Scratch s;
  UniqueFd out = s.stream("_condor_stdout", true), err = s.stream("_condor_stderr", true);
  put(out.get(), "before\n");
  const int streams[2] = {out.get(), err.get()};
  REQUIRE(save_streams(s.dir.get(), streams));
  CHECK(s.read("ringbox.stderr").empty());  // nothing printed: an empty copy
  UniqueFd out2 = s.stream("_condor_stdout", false), err2 = s.stream("_condor_stderr", false);
  const int again[2] = {out2.get(), err2.get()};
  auto put_back = restore_streams(s.dir.get(), again);
  REQUIRE(put_back);
  CHECK(*put_back == 0);
  CHECK(s.read("_condor_stdout") == "before\n");
}

TEST_CASE("a stream that is no file saves an empty copy; a copy that did not come back fails",
          "[condor][vacate]") {
  Scratch s;
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  UniqueFd r(p[0]), w(p[1]);
  UniqueFd err = s.stream("_condor_stderr", true);
  const int streams[2] = {w.get(), err.get()};
  REQUIRE(save_streams(s.dir.get(), streams));
  CHECK(s.read("ringbox.stdout").empty());
  auto put_back = restore_streams(s.dir.get(), streams);
  REQUIRE(put_back);
  CHECK(*put_back == 0);
  // HTCondor carried the restore file but not the streams (transfer_checkpoint_files without
  // them): resuming would lose what the job printed, so the wrapper starts the job over.
  drop_saved_streams(s.dir.get());
  CHECK_FALSE(restore_streams(s.dir.get(), streams));
}

TEST_CASE("a stream longer than its saved copy is cut back to where the save left it",
          "[condor][vacate]") {
  Scratch s;
  UniqueFd out = s.stream("_condor_stdout", true), err = s.stream("_condor_stderr", true);
  put(out.get(), "line 1\n");
  const int streams[2] = {out.get(), err.get()};
  REQUIRE(save_streams(s.dir.get(), streams));
  put(out.get(), "line 2 (after the save: the resumed job prints it again)\n");
  auto put_back = restore_streams(s.dir.get(), streams);
  REQUIRE(put_back);
  CHECK(*put_back == 0);
  put(out.get(), "line 2\n");
  CHECK(s.read("_condor_stdout") == "line 1\nline 2\n");
}

TEST_CASE("a saved stream that is a link or a directory is refused, never followed",
          "[condor][vacate]") {
  Scratch s;
  UniqueFd out = s.stream("_condor_stdout", true), err = s.stream("_condor_stderr", true);
  const int streams[2] = {out.get(), err.get()};
  REQUIRE(::symlinkat("/etc/shadow", s.dir.get(), "ringbox.stdout") == 0);
  CHECK_FALSE(restore_streams(s.dir.get(), streams));
  ::unlinkat(s.dir.get(), "ringbox.stdout", 0);
  REQUIRE(::mkdirat(s.dir.get(), "ringbox.stdout", 0755) == 0);
  CHECK_FALSE(restore_streams(s.dir.get(), streams));
  drop_saved_streams(s.dir.get());
  ::unlinkat(s.dir.get(), "ringbox.stdout", AT_REMOVEDIR);
  CHECK(s.read("_condor_stdout").empty());
}
