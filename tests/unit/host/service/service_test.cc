// ringbox's root service, the parts that need no guest: its wire messages with descriptors,
// its policy file, and turning a request into a RunConfig (host/service/).
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>

#include "host/service/as_user.h"
#include "host/service/job_request.h"
#include "host/service/service_policy.h"
#include "host/service/service_protocol.h"

using namespace ringbox;
using namespace ringbox::host::service;

TEST_CASE("a service message and its descriptors cross a socket", "[service]") {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  UniqueFd a(sv[0]), b(sv[1]);
  ServiceMessage m;
  m.add("op", "run");
  m.add("arg", "./job");
  m.add("arg", std::string("with\0nul", 8));
  int fds[2] = {STDIN_FILENO, STDERR_FILENO};
  REQUIRE(send_service_message(a.get(), m, fds));
  std::vector<UniqueFd> got;
  auto r = recv_service_message(b.get(), 1000, &got);
  REQUIRE(r);
  CHECK(r->get("op") == "run");
  CHECK(r->all("arg") == std::vector<std::string>{"./job", std::string("with\0nul", 8)});
  CHECK(got.size() == 2);
  // Without a place for descriptors, a message that carries some is refused.
  REQUIRE(send_service_message(a.get(), m, fds));
  CHECK(!recv_service_message(b.get(), 1000, nullptr));
}

TEST_CASE("hostile service frames are refused cleanly", "[service]") {
  auto frame = [](std::vector<unsigned char> bytes) {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    UniqueFd a(sv[0]), b(sv[1]);
    REQUIRE(::write(a.get(), bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    a.reset();
    return recv_service_message(b.get(), 1000);
  };
  CHECK(frame({}).error().code == Errc::kPeerGone);
  CHECK(frame({0xff, 0xff, 0xff, 0x7f}).error().code == Errc::kTooLarge);
  CHECK(!frame({8, 0, 0, 0, 200, 0, 0, 0, 'a', 'b', 'c', 'd'}));  // field overruns
  CHECK(!frame({2, 0, 0, 0, 1}));                                 // cut short
  CHECK(frame({0, 0, 0, 0}).has_value());                         // empty is a message
  // A slow peer that never finishes is timed out.
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  UniqueFd a(sv[0]), b(sv[1]);
  unsigned char part[] = {10, 0, 0, 0, 1};
  REQUIRE(::write(a.get(), part, sizeof(part)) == 5);
  CHECK(recv_service_message(b.get(), 200).error().code == Errc::kTimeout);
}

TEST_CASE("the service policy file", "[service][policy]") {
  auto p = parse_service_policy(
      "# test\ntransport = local\nallow_users = nobody, alice\nmax_domains = 2\n"
      "max_memory_mib = 1024\nmax_vcpus = 2\nimage.small = /k /r  # comment\n",
      "hostd.conf");
  REQUIRE(p);
  CHECK(p->transport == Transport::kLocal);
  CHECK(p->allow_users == std::vector<std::string>{"nobody", "alice"});
  CHECK(p->max_domains == 2);
  CHECK(p->images.at("small").ramdisk == "/r");
  CHECK(p->images.count("default") == 1);
  CHECK(p->allows(65534, {}));  // nobody
  CHECK(!p->allows(0, {}));     // root only when named
  for (const char* bad : {"transport = kvm\n", "max_domains = -1\n", "max_vcpus = 0\n",
                          "nonsense = 1\n", "max_domains = 2\nmax_domains = 3\n", "no equals\n",
                          "image.x = /only-kernel\n", "allow_root_in_guest = maybe\n"}) {
    auto r = parse_service_policy(bad, "hostd.conf");
    INFO(bad);
    REQUIRE(!r);
    CHECK(r.error().what.find("hostd.conf line") != std::string::npos);
  }
  auto star = parse_service_policy("allow_users = *\n", "p");
  REQUIRE(star);
  CHECK(star->allows(65534, {}));
  CHECK(!star->allows(0, {}));
}

TEST_CASE("a request becomes a RunConfig within the policy's caps", "[service][policy]") {
  auto policy = parse_service_policy(
      "transport = local\nallow_users = *\nmax_memory_mib = 1024\n"
      "max_vcpus = 2\n",
      "p");
  REQUIRE(policy);
  ServiceMessage m;
  m.add("op", "run");
  m.add("mode", "remote-io");
  m.add("arg", "./job.sh");
  m.add("env", "A=1");
  m.add("memory_mib", "512");
  m.add("vcpus", "2");
  auto cfg = build_run_config(m, *policy, {5, 6, 7});
  REQUIRE(cfg);
  CHECK(cfg->transport == Transport::kLocal);
  CHECK(cfg->export_dir == "/proc/self/fd/5");
  CHECK(cfg->stderr_path == "/proc/self/fd/7");
  CHECK(cfg->spec.uid == 65534);
  CHECK(cfg->spec.env.size() == 2);  // a default PATH first
  CHECK(cfg->domain.memory_mib == 512);

  auto refused = [&](const char* key, const char* value, const char* says) {
    ServiceMessage r = m;
    r.add(key, value);
    for (auto& f : r.fields)
      if (f.first == key) f.second = value;
    auto c = build_run_config(r, *policy, {5, 6, 7});
    INFO(key << "=" << value);
    REQUIRE(!c);
    CHECK(c.error().what.find(says) != std::string::npos);
  };
  refused("memory_mib", "4096", "max_memory_mib");
  refused("vcpus", "3", "max_vcpus");
  refused("vcpus", "x", "not a whole number");
  refused("mode", "node", "not one ringbox runs");
  refused("image", "other", "no guest image named 'other'");
  refused("root", "1", "local transport");
  refused("input", "../x", "not a path inside");
}

TEST_CASE("the guest gets half the stop grace to get ready for a save", "[service][policy]") {
  auto policy = parse_service_policy("transport = local\nallow_users = *\n", "p");
  REQUIRE(policy);
  auto budget = [&](const char* grace) {
    ServiceMessage m;
    m.add("op", "run");
    m.add("arg", "./job.sh");
    if (*grace) m.add("grace_ms", grace);
    auto cfg = build_run_config(m, *policy, {5, 6, 7});
    REQUIRE(cfg);
    return cfg->vacate_ack_timeout_ms;
  };
  // JobMaxVacateTime = 20: the wrapper sends 80 % (16 s) as the grace; the guest gets 8 s.
  CHECK(budget("16000") == 8000);
  CHECK(budget("") == kDefaultStopGraceMs / 2);
  CHECK(budget("1000") == kMinVacateAckMs);  // a floor: the guest then answers at once
  CHECK(budget("4000") == 2000);
  CHECK(budget("480000") == kMaxVacateAckMs);    // MaxVacateTime 600 s: capped
  CHECK(budget("99999999") == kMaxVacateAckMs);  // the grace is capped first
  CHECK(vacate_ack_budget_ms(60000) == 30000);
}

TEST_CASE("request descriptors: a directory, then two writable non-directories", "[service]") {
  std::vector<UniqueFd> fds;
  fds.emplace_back(::open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  fds.emplace_back(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  fds.emplace_back(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  CHECK(check_request_fds(fds));
  // A file opened only for reading must not be reopened for writing by root.
  fds[2].reset(::open("/etc/passwd", O_RDONLY | O_CLOEXEC));
  CHECK(!check_request_fds(fds));
  fds[2].reset(::open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  CHECK(!check_request_fds(fds));
  fds.pop_back();
  CHECK(!check_request_fds(fds));
}

TEST_CASE("request descriptors: a 4th is a restore file, a regular file open for reading",
          "[service][vacate]") {
  std::vector<UniqueFd> fds;
  fds.emplace_back(::open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  fds.emplace_back(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  fds.emplace_back(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  fds.emplace_back(::open("/etc/passwd", O_RDONLY | O_CLOEXEC));
  CHECK(check_request_fds(fds));
  fds[3].reset(::open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  CHECK(!check_request_fds(fds));
  fds[3].reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));  // not a regular file
  CHECK(!check_request_fds(fds));
  fds[3].reset(::open("/etc/passwd", O_RDONLY | O_CLOEXEC));
  fds.emplace_back(::open("/etc/passwd", O_RDONLY | O_CLOEXEC));
  CHECK(!check_request_fds(fds));
}

TEST_CASE("files=submit: only the starter's proxy on loopback", "[service][policy]") {
  ServiceMessage m;
  m.add("op", "run");
  auto none = submit_side_endpoint(m);
  REQUIRE(none);
  CHECK(!*none);
  auto with = [&](const char* files, const char* config) {
    ServiceMessage r = m;
    r.add("files", files);
    if (config) r.add("chirp_config", config);
    return submit_side_endpoint(r);
  };
  auto v4 = with("submit", "127.0.0.1 40123 abc_DEF-123\n");
  REQUIRE(v4);
  REQUIRE(*v4);
  CHECK((*v4)->host == "127.0.0.1");
  CHECK((*v4)->port == 40123);
  CHECK((*v4)->cookie == "abc_DEF-123");
  CHECK((*v4)->kind == chirp::PeerKind::kCondorProxy);
  auto v6 = with("submit", "::1 9 c");
  REQUIRE(v6);
  CHECK((*v6)->host == "::1");
  auto refused = [&](const char* files, const char* config, const char* says) {
    auto e = with(files, config);
    INFO(files << " / " << (config ? config : "(none)"));
    REQUIRE(!e);
    CHECK(e.error().what.find(says) != std::string::npos);
  };
  refused("submit", "10.1.2.3 9618 cookie", "not a loopback address");
  refused("submit", "localhost 9618 cookie", "not a loopback address");
  refused("submit", "::ffff:10.0.0.1 9618 cookie", "not a loopback address");
  refused("submit", "127.0.0.1 0 cookie", "bad port");
  refused("submit", "127.0.0.1 9618", "expected");
  refused("submit", nullptr, "needs the job's .chirp.config");
  refused("scratch", "127.0.0.1 9618 cookie", "only taken with files=submit");
  refused("nfs", nullptr, "not where ringbox finds files");
}

namespace {
uid_t thread_fsuid() {
  return static_cast<uid_t>(::syscall(SYS_setfsuid, static_cast<uid_t>(-1)));
}

struct FsuidRecorder final : rpc::Handler {
  uid_t seen = 12345;
  rpc::Reply handle(const rpc::Request&) override {
    seen = thread_fsuid();
    return rpc::Reply{};
  }
};
}  // namespace

// The serving thread runs some requests inline through AsUserHandler and then saves the domain
// through libxl, whose lock files only root opens: it must get root's rights back.
TEST_CASE("a thread that served as the job's user gets root's rights back", "[service]") {
  if (::geteuid() != 0) {
    WARN("not root: setfsuid cannot be checked");
    return;
  }
  FsuidRecorder inner;
  AsUserHandler as_user(inner, FsIdentity{65534, 65534, {}});
  rpc::Request req;
  as_user.handle(req);
  CHECK(inner.seen == 65534);
  CHECK(thread_fsuid() == 65534);  // switched for good while serving
  char root_only[] = "/tmp/ringbox-fsuid-XXXXXX";
  restore_root_fs_identity();
  CHECK(thread_fsuid() == 0);
  int fd = ::mkstemp(root_only);  // 0600, owned by root: only root's rights open it again
  REQUIRE(fd >= 0);
  ::close(fd);
  fd = ::open(root_only, O_RDWR | O_CLOEXEC);
  CHECK(fd >= 0);
  if (fd >= 0) ::close(fd);
  // The next request switches the thread again.
  inner.seen = 0;
  as_user.handle(req);
  CHECK(inner.seen == 65534);
  fd = ::open(root_only, O_RDWR | O_CLOEXEC);
  CHECK(fd < 0);
  CHECK(errno == EACCES);
  restore_root_fs_identity();
  ::unlink(root_only);
}
