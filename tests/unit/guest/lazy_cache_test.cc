// guest/fs/lazy_cache: whole-file fetch on first use, one fetch for concurrent opens, the space
// limit, and the write-back of what the job created or changed, against the real host file
// service. The export on disk is the reference.
#include "guest/fs/lazy_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/guest/served_files.h"

using namespace ringbox;
using namespace ringbox::guest::fs;
using ringbox::test::ServedFiles;
using ringbox::test::TempTree;

namespace {

std::string read_all_fd(int fd) {
  struct stat st;
  REQUIRE(::fstat(fd, &st) == 0);
  std::string s(static_cast<size_t>(st.st_size), '\0');
  REQUIRE(::pread(fd, s.data(), s.size(), 0) == static_cast<ssize_t>(s.size()));
  return s;
}

void write_at(int fd, const std::string& s, off_t off = 0) {
  REQUIRE(::pwrite(fd, s.data(), s.size(), off) == static_cast<ssize_t>(s.size()));
}

// The cache directory: its own temporary directory (a tmpfs in the guest).
struct CacheDir {
  CacheDir() {
    char tmpl[] = "/tmp/ringbox-cache-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~CacheDir() { ::rmdir(path.c_str()); }
  std::string path;
};

}  // namespace

TEST_CASE("a file is fetched once, whole, and shared by concurrent opens", "[guest][lazy]") {
  ServedFiles s;
  Remote remote(*s.client);
  CacheDir dir;
  std::string big(50000, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i % 253);
  TempTree::write_file(s.tree.ex("in/big"), big);
  auto cache = LazyCache::create(remote, dir.path, 1 << 20);
  REQUIRE(cache);
  std::vector<std::shared_ptr<CachedFile>> got(8);
  std::vector<std::thread> ts;
  for (size_t i = 0; i < got.size(); ++i)
    ts.emplace_back([&, i] {
      auto f = (*cache)->fetch("in/big");
      if (f) got[i] = *f;
    });
  for (auto& t : ts) t.join();
  for (auto& f : got) {
    REQUIRE(f);
    CHECK(f == got[0]);  // one copy for all
  }
  CHECK((*cache)->fetched_bytes() == big.size());  // fetched once
  CHECK(read_all_fd(got[0]->fd.get()) == big);
  CHECK_FALSE(got[0]->dirty);
  CHECK((*cache)->find("in/big") == got[0]);
  // A second fetch is the cached copy, and the host file changing does not reach it.
  TempTree::write_file(s.tree.ex("in/big"), "changed");
  auto again = (*cache)->fetch("in/big");
  REQUIRE(again);
  CHECK(*again == got[0]);
  CHECK((*cache)->fetched_bytes() == big.size());
}

TEST_CASE("a fetch past the cache limit is ENOSPC and leaves nothing cached", "[guest][lazy]") {
  ServedFiles s;
  Remote remote(*s.client);
  CacheDir dir;
  TempTree::write_file(s.tree.ex("in/big"), std::string(40000, 'y'));
  auto cache = LazyCache::create(remote, dir.path, 10000);
  REQUIRE(cache);
  auto f = (*cache)->fetch("in/big");
  REQUIRE_FALSE(f);
  CHECK(errno_of(f.error()) == ENOSPC);
  CHECK((*cache)->find("in/big") == nullptr);
  auto small = (*cache)->fetch("in/a.txt");  // still room for a small one
  REQUIRE(small);
  CHECK(read_all_fd((*small)->fd.get()) == "alpha\n");
  auto missing = (*cache)->fetch("in/nope");
  REQUIRE_FALSE(missing);
  CHECK(errno_of(missing.error()) == ENOENT);
}

TEST_CASE("write-back sends changed and created files, renamed and linked, nothing else",
          "[guest][lazy]") {
  ServedFiles s;
  Remote remote(*s.client);
  CacheDir dir;
  auto cache = LazyCache::create(remote, dir.path, 1 << 20);
  REQUIRE(cache);
  const std::string before = TempTree::read_file(s.tree.ex("in/sub/b.txt"));

  // A fetched file the job changed (the view marks it dirty).
  auto a = (*cache)->fetch("in/a.txt");
  REQUIRE(a);
  write_at((*a)->fd.get(), "ALPHA");
  (*a)->dirty = true;
  // A fetched file only read: not sent.
  REQUIRE((*cache)->fetch("in/sub/b.txt"));
  // A created file, renamed before the end, with a second name.
  auto made = (*cache)->create_local("out/tmp", 0600, false);
  REQUIRE(made);
  write_at((*made)->fd.get(), "made in the guest");
  (*cache)->rename("out/tmp", "out/final", false);
  REQUIRE((*cache)->link("out/final", "out/alias", false));
  // A created file removed again: never reaches the host.
  auto gone = (*cache)->create_local("out/scratch", 0644, false);
  REQUIRE(gone);
  (*cache)->erase("out/scratch");
  // Nothing is on the host before the write-back.
  CHECK_FALSE(TempTree::exists(s.tree.ex("out/final")));
  CHECK(TempTree::read_file(s.tree.ex("in/a.txt")) == "alpha\n");

  auto report = (*cache)->write_back();
  CHECK(report.failures.empty());
  CHECK(report.pushed == 2);
  CHECK(TempTree::read_file(s.tree.ex("in/a.txt")) == "ALPHA\n");
  CHECK(TempTree::read_file(s.tree.ex("out/final")) == "made in the guest");
  CHECK(TempTree::read_file(s.tree.ex("in/sub/b.txt")) == before);
  CHECK_FALSE(TempTree::exists(s.tree.ex("out/tmp")));
  CHECK_FALSE(TempTree::exists(s.tree.ex("out/scratch")));
  struct stat fin, alias;
  REQUIRE(::stat(s.tree.ex("out/final").c_str(), &fin) == 0);
  REQUIRE(::stat(s.tree.ex("out/alias").c_str(), &alias) == 0);
  CHECK(fin.st_ino == alias.st_ino);  // one file, two names, as in the guest
  CHECK((fin.st_mode & 07777) == 0600);
}

TEST_CASE("write-back survives a replayed link and a lost upload", "[guest][lazy]") {
  // What a host replaced during the write-back (a restart, a vacate's restore) does to it: a
  // link the old host made is sent again (at-least-once replay) and finds its name taken; an
  // upload the old host had started is unknown to the new one.
  ServedFiles s;
  Remote remote(*s.client);
  CacheDir dir;
  auto cache = LazyCache::create(remote, dir.path, 1 << 20);
  REQUIRE(cache);
  const std::string body(3 * remote.max_payload() + 17, 'x');
  auto made = (*cache)->create_local("out/final", 0644, false);
  REQUIRE(made);
  write_at((*made)->fd.get(), body);
  REQUIRE((*cache)->link("out/final", "out/alias", false));
  bool replayed = false;
  bool lost = false;
  s.router->intercept = [&](const rpc::Request& req, host::files::FileService& files) {
    if (req.opcode == static_cast<uint16_t>(proto::Opcode::kLink) && !replayed) {
      replayed = true;
      (void)files.handle(req);  // the old host made the link; its answer was lost
    }
    if (req.opcode == static_cast<uint16_t>(proto::Opcode::kPutfile) && req.arg[1] > 0 && !lost) {
      lost = true;
      files.end_connection();
    }
    return files.handle(req);
  };
  auto report = (*cache)->write_back();
  CHECK(report.failures.empty());
  CHECK(replayed);
  CHECK(lost);
  CHECK(TempTree::read_file(s.tree.ex("out/final")) == body);
  struct stat fin, alias;
  REQUIRE(::stat(s.tree.ex("out/final").c_str(), &fin) == 0);
  REQUIRE(::stat(s.tree.ex("out/alias").c_str(), &alias) == 0);
  CHECK(fin.st_ino == alias.st_ino);
}
