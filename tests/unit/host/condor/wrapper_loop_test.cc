// The HTCondor wrapper's loop (host/condor/wrapper_loop.h) against a scripted service on a
// socketpair, with the real message codec, a real scratch dir, and signals written as the
// signalfd records the wrapper reads: what it asks of the service, the files it leaves, how
// it ends.
#include "host/condor/wrapper_loop.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <future>
#include <sstream>
#include <string>
#include <vector>

#include "host/service/service_protocol.h"
#include "shared/util/unique_fd.h"

using namespace ringbox;
using namespace ringbox::host::condor;
using ringbox::host::service::ServiceMessage;

namespace {

bool exists(int dir, const char* name) {
  struct stat st {};
  return ::fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

std::string read_at(int dir, const char* name) {
  UniqueFd f(::openat(dir, name, O_RDONLY | O_CLOEXEC));
  if (!f) return "<missing>";
  std::string s;
  char buf[256];
  ssize_t n;
  while ((n = ::read(f.get(), buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

// One wrapper loop on its own thread, the test playing the service.
struct Wrapper {
  std::string path;
  UniqueFd dir, out, err, sig_read, sig_write, wrapper_end, service_end;
  JobPlan plan;
  std::ostringstream notes;
  std::future<WrapperEnd> ended;

  Wrapper() {
    char tmpl[] = "/tmp/ringbox-wrapper-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
    dir = UniqueFd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    out = UniqueFd(::openat(dir.get(), "_condor_stdout", O_RDWR | O_CREAT | O_APPEND, 0644));
    err = UniqueFd(::openat(dir.get(), "_condor_stderr", O_RDWR | O_CREAT | O_APPEND, 0644));
    REQUIRE((dir && out && err));
    int p[2];
    REQUIRE(::pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
    sig_read = UniqueFd(p[0]);
    sig_write = UniqueFd(p[1]);
    int s[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) == 0);
    wrapper_end = UniqueFd(s[0]);
    service_end = UniqueFd(s[1]);
    plan.save_on_vacate = true;
  }
  ~Wrapper() {
    service_end.reset();  // a loop still running sees the hang-up and ends
    // One that does not is a bug that would hang the test binary: end it loudly instead.
    if (ended.valid() && ended.wait_for(std::chrono::seconds(30)) != std::future_status::ready)
      std::abort();
    (void)std::system(("rm -rf '" + path + "'").c_str());
  }

  // Starts the loop; with a transport, also tells it the job started there (started()).
  void start(const char* transport = nullptr) {
    WrapperIo io;
    io.signals = sig_read.get();
    io.service = wrapper_end.get();
    io.scratch = dir.get();
    io.streams[0] = out.get();
    io.streams[1] = err.get();
    io.err = &notes;
    ended = std::async(std::launch::async, [this, io] { return run_wrapper_loop(plan, io); });
    if (transport) started(transport);
  }
  // op=started, returning once the loop has taken it in (a signal read first would find no
  // transport yet): its restore=resumed removes a restore file made for the purpose.
  void started(const char* transport) {
    UniqueFd f(::openat(dir.get(), host::service::kRestoreName, O_WRONLY | O_CREAT, 0600));
    REQUIRE(f);
    send({{"op", "started"}, {"transport", transport}, {"restore", "resumed"}});
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (exists(dir.get(), host::service::kRestoreName)) {
      REQUIRE(std::chrono::steady_clock::now() < until);
      ::usleep(1000);
    }
  }
  void signal(int sig) {
    signalfd_siginfo si{};
    si.ssi_signo = static_cast<uint32_t>(sig);
    REQUIRE(::write(sig_write.get(), &si, sizeof si) == sizeof si);
  }
  void send(std::vector<std::pair<std::string, std::string>> fields) {
    ServiceMessage m;
    m.fields = std::move(fields);
    REQUIRE(host::service::send_service_message(service_end.get(), m));
  }
  // The wrapper's next message (within 10 s), with the descriptors it carried.
  ServiceMessage next(std::vector<UniqueFd>* fds = nullptr) {
    std::vector<UniqueFd> dropped;
    auto m = host::service::recv_service_message(service_end.get(), 10000, fds ? fds : &dropped);
    REQUIRE(m);
    return *m;
  }
  WrapperEnd end() {
    REQUIRE(ended.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
    return ended.get();
  }
  bool same_file(int fd, const char* name) const {
    struct stat a {
    }, b{};
    return ::fstat(fd, &a) == 0 && ::fstatat(dir.get(), name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
  }
};

}  // namespace

TEST_CASE("wrapper: a vacate saves into the part, renamed only once the save is reported",
          "[condor][wrapper]") {
  Wrapper w;
  REQUIRE(::write(w.out.get(), "before\n", 7) == 7);
  w.start("xen");
  w.signal(SIGTERM);
  std::vector<UniqueFd> fds;
  auto m = w.next(&fds);
  CHECK(m.get("op") == "vacate");
  CHECK_FALSE(m.has("checkpoint"));
  REQUIRE(fds.size() == 1);
  CHECK(w.same_file(fds[0].get(), host::service::kRestorePart));
  REQUIRE(::write(fds[0].get(), "domain", 6) == 6);
  CHECK_FALSE(exists(w.dir.get(), host::service::kRestoreName));  // not before the report
  w.send({{"op", "result"}, {"kind", "vacated"}, {"bytes", "6"}});
  auto e = w.end();
  CHECK(e.status == kVacatedStatus);
  CHECK(e.signal == 0);
  CHECK(read_at(w.dir.get(), host::service::kRestoreName) == "domain");
  CHECK_FALSE(exists(w.dir.get(), host::service::kRestorePart));
  CHECK(read_at(w.dir.get(), host::service::kSavedStreamNames[0]) == "before\n");
}

TEST_CASE(
    "wrapper: a service gone during a save leaves no restore file, the wrapper dies of "
    "SIGTERM",
    "[condor][wrapper]") {
  Wrapper w;
  w.start("xen");
  w.signal(SIGTERM);
  std::vector<UniqueFd> fds;
  CHECK(w.next(&fds).get("op") == "vacate");
  REQUIRE(fds.size() == 1);
  REQUIRE(::write(fds[0].get(), "half", 4) == 4);
  w.service_end.reset();
  auto e = w.end();
  CHECK(e.signal == SIGTERM);
  CHECK_FALSE(exists(w.dir.get(), host::service::kRestorePart));
  CHECK_FALSE(exists(w.dir.get(), host::service::kRestoreName));
}

TEST_CASE("wrapper: a stop not answered within the budget ends the wrapper by SIGTERM",
          "[condor][wrapper]") {
  Wrapper w;
  w.plan.stop_budget_ms = 300;
  w.start("xen");
  w.signal(SIGTERM);
  CHECK(w.next().get("op") == "vacate");
  auto e = w.end();  // no answer: it must give up by itself
  CHECK(e.signal == SIGTERM);
  CHECK(w.notes.str().find("did not stop in time") != std::string::npos);
  CHECK_FALSE(exists(w.dir.get(), host::service::kRestorePart));
}

TEST_CASE("wrapper: a taken checkpoint exits 85 with the restore file", "[condor][wrapper]") {
  Wrapper w;
  w.plan.checkpoint_minutes = 0.001;  // 60 ms
  w.start("xen");
  std::vector<UniqueFd> fds;
  auto m = w.next(&fds);
  CHECK(m.get("op") == "vacate");
  CHECK(m.get("checkpoint") == "1");
  REQUIRE(fds.size() == 1);
  w.send({{"op", "result"}, {"kind", "vacated"}, {"bytes", "0"}});
  auto e = w.end();
  CHECK(e.status == kCheckpointStatus);
  CHECK(exists(w.dir.get(), host::service::kRestoreName));
}

TEST_CASE("wrapper: a refused checkpoint goes on; a SIGTERM held meanwhile then saves",
          "[condor][wrapper]") {
  Wrapper w;
  w.plan.checkpoint_minutes = 0.001;
  w.start("xen");
  std::vector<UniqueFd> fds;
  CHECK(w.next(&fds).get("checkpoint") == "1");
  w.signal(SIGTERM);  // HTCondor's vacate during the checkpoint: held
  w.send({{"op", "refused"}, {"message", "a file request outlasted the budget"}});
  fds.clear();
  auto m = w.next(&fds);
  CHECK(m.get("op") == "vacate");  // the held SIGTERM, a vacate of its own
  CHECK_FALSE(m.has("checkpoint"));
  REQUIRE(fds.size() == 1);
  CHECK(w.same_file(fds[0].get(), host::service::kRestorePart));
  w.send({{"op", "result"}, {"kind", "vacated"}, {"bytes", "0"}});
  auto e = w.end();
  CHECK(e.status == kVacatedStatus);
  CHECK(w.notes.str().find("no checkpoint this time (a file request outlasted the budget)") !=
        std::string::npos);
}

TEST_CASE("wrapper: a remove during a checkpoint replaces a held vacate: stop, no save",
          "[condor][wrapper]") {
  Wrapper w;
  w.plan.checkpoint_minutes = 0.001;
  w.start("xen");
  CHECK(w.next().get("checkpoint") == "1");
  w.signal(SIGTERM);
  w.signal(SIGINT);  // condor_rm after the vacate
  w.send({{"op", "refused"}, {"message", "busy"}});
  CHECK(w.next().get("op") == "stop");
  CHECK_FALSE(exists(w.dir.get(), host::service::kRestorePart));
  w.send({{"op", "result"}, {"kind", "signaled"}, {"value", "9"}});
  CHECK(w.end().signal == 9);
}

TEST_CASE("wrapper: a job that ends before its save leaves no restore file, even one it planted",
          "[condor][wrapper]") {
  Wrapper w;
  w.start("xen");
  UniqueFd planted(::openat(w.dir.get(), host::service::kRestoreName, O_WRONLY | O_CREAT, 0644));
  REQUIRE(planted);
  w.signal(SIGTERM);
  CHECK(w.next().get("op") == "vacate");
  w.send({{"op", "result"}, {"kind", "exited"}, {"value", "3"}});
  auto e = w.end();
  CHECK(e.status == 3);
  CHECK_FALSE(exists(w.dir.get(), host::service::kRestorePart));
  CHECK_FALSE(exists(w.dir.get(), host::service::kRestoreName));
}

TEST_CASE("wrapper: stops that are not a xen vacate ask for op=stop", "[condor][wrapper]") {
  SECTION("SIGTERM of a job on the local transport") {
    Wrapper w;
    w.start("local");
    w.signal(SIGTERM);
    CHECK(w.next().get("op") == "stop");
    w.send({{"op", "result"}, {"kind", "signaled"}, {"value", "15"}});
    CHECK(w.end().signal == SIGTERM);
  }
  SECTION("SIGTERM of a xen job HTCondor does not carry the file of (no save_on_vacate)") {
    Wrapper w;
    w.plan.save_on_vacate = false;
    w.start("xen");
    w.signal(SIGTERM);
    CHECK(w.next().get("op") == "stop");
    CHECK_FALSE(exists(w.dir.get(), host::service::kRestorePart));
  }
  SECTION("SIGHUP (condor_hold)") {
    Wrapper w;
    w.start("xen");
    w.signal(SIGHUP);
    CHECK(w.next().get("op") == "stop");
  }
}

TEST_CASE("wrapper: SIGQUIT ends it at once", "[condor][wrapper]") {
  Wrapper w;
  w.start("xen");
  w.signal(SIGQUIT);
  CHECK(w.end().signal == SIGQUIT);
}

TEST_CASE("wrapper: a used restore file is removed, a refused one set aside", "[condor][wrapper]") {
  for (const char* restore : {"resumed", "the restore file is corrupt: cold start"}) {
    Wrapper w;
    UniqueFd f(::openat(w.dir.get(), host::service::kRestoreName, O_WRONLY | O_CREAT, 0600));
    REQUIRE(f);
    w.start();
    w.send({{"op", "started"}, {"transport", "xen"}, {"restore", restore}});
    w.send({{"op", "result"}, {"kind", "exited"}, {"value", "0"}});
    CHECK(w.end().status == 0);
    CHECK_FALSE(exists(w.dir.get(), host::service::kRestoreName));
    bool resumed = std::string(restore) == "resumed";
    CHECK(exists(w.dir.get(), host::service::kRestoreRejected) == !resumed);
    CHECK((w.notes.str().find(restore) != std::string::npos) == !resumed);
  }
}

TEST_CASE("wrapper: the service ending the job without a result is a setup failure",
          "[condor][wrapper]") {
  Wrapper w;
  w.start("xen");
  w.service_end.reset();
  auto e = w.end();
  CHECK(e.signal == 0);
  CHECK(e.failure.find("ended the job without a result") != std::string::npos);
}
