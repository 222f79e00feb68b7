// guest/fs/remote: the guest's typed file calls against the real host file service. The export
// on disk is the reference: what Remote reports must be what lstat(2), readdir(3) and read(2)
// report there, and what it writes must land there byte for byte.
#include "guest/fs/remote.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/unit/guest/served_files.h"

using namespace ringbox;
using namespace ringbox::guest::fs;
using ringbox::test::ServedFiles;
using ringbox::test::TempTree;

namespace {

std::string pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed * 7) % 251);
  return s;
}

// An anonymous local file holding content.
UniqueFd temp_with(const std::string& content) {
  UniqueFd fd(::open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  REQUIRE(fd);
  REQUIRE(::pwrite(fd.get(), content.data(), content.size(), 0) ==
          static_cast<ssize_t>(content.size()));
  return fd;
}

std::string read_fd(int fd) {
  struct stat st;
  REQUIRE(::fstat(fd, &st) == 0);
  std::string s(static_cast<size_t>(st.st_size), '\0');
  REQUIRE(::pread(fd, s.data(), s.size(), 0) == static_cast<ssize_t>(s.size()));
  return s;
}

}  // namespace

TEST_CASE("remote stat, lstat and readdir report what the export holds", "[guest][remote]") {
  ServedFiles s;
  Remote r(*s.client);
  ::symlink("a.txt", s.tree.ex("in/link").c_str());
  for (const char* p : {"in/a.txt", "in", "in/sub/b.txt", "in/link", "."}) {
    CAPTURE(p);
    auto st = r.lstat(p);
    REQUIRE(st);
    struct stat local;
    REQUIRE(::lstat(std::string(p) == "." ? s.tree.export_dir.c_str() : s.tree.ex(p).c_str(),
                    &local) == 0);
    CHECK(st->mode == local.st_mode);
    CHECK(st->size == static_cast<uint64_t>(local.st_size));
    CHECK(st->ino == local.st_ino);
    CHECK(st->nlink == local.st_nlink);
  }
  auto followed = r.stat("in/link");
  REQUIRE(followed);
  CHECK(S_ISREG(followed->mode));
  auto target = r.readlink("in/link");
  REQUIRE(target);
  CHECK(*target == "a.txt");

  auto entries = r.readdir("in");
  REQUIRE(entries);
  std::vector<std::string> names;
  for (const auto& e : *entries) names.push_back(e.name);
  std::sort(names.begin(), names.end());
  CHECK(names == TempTree::list(s.tree.ex("in")));
}

TEST_CASE("remote getfile and putfile move multi-chunk files byte for byte", "[guest][remote]") {
  ServedFiles s;
  Remote r(*s.client);
  REQUIRE(r.max_payload() < 100000);  // so both directions really take several chunks
  const std::string big = pattern(100000, 3);
  TempTree::write_file(s.tree.ex("in/big"), big);

  UniqueFd local(::open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  REQUIRE(local);
  auto got = r.getfile("in/big", local.get(), 1 << 20);
  REQUIRE(got);
  CHECK(*got == big.size());
  CHECK(read_fd(local.get()) == big);

  const std::string up = pattern(70001, 9);
  UniqueFd src = temp_with(up);
  auto put = r.putfile("out/up", src.get(), 0640);
  REQUIRE(put);
  CHECK(*put == up.size());
  CHECK(TempTree::read_file(s.tree.ex("out/up")) == up);
  struct stat st;
  REQUIRE(::stat(s.tree.ex("out/up").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);  // exact, no umask of the host's

  // A limit below the size: ENOSPC before the copy grows past one chunk.
  UniqueFd small(::open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  auto refused = r.getfile("in/big", small.get(), 1000);
  REQUIRE_FALSE(refused);
  CHECK(errno_of(refused.error()) == ENOSPC);
}

TEST_CASE("remote open, pwrite, pread, ftruncate and fstat act on the export file",
          "[guest][remote]") {
  ServedFiles s;
  Remote r(*s.client);
  auto h = r.open("out/f", O_RDWR | O_CREAT | O_EXCL, 0600);
  REQUIRE(h);
  const std::string data = pattern(40000, 5);  // larger than one message: split writes
  auto n = r.pwrite(h->handle, std::as_bytes(std::span(data.data(), data.size())), 10);
  REQUIRE(n);
  CHECK(*n == data.size());
  CHECK(TempTree::read_file(s.tree.ex("out/f")) == std::string(10, '\0') + data);
  std::vector<std::byte> back(data.size());
  auto m = r.pread(h->handle, back, 10);
  REQUIRE(m);
  CHECK(*m == data.size());
  CHECK(std::memcmp(back.data(), data.data(), data.size()) == 0);
  REQUIRE(r.ftruncate(h->handle, 5));
  auto st = r.fstat(h->handle);
  REQUIRE(st);
  CHECK(st->size == 5);
  CHECK((st->mode & 07777) == 0600);
  REQUIRE(r.close(h->handle));
  auto again = r.fstat(h->handle);
  REQUIRE_FALSE(again);
  CHECK(errno_of(again.error()) == EBADF);
}

TEST_CASE("remote refusals carry the errno the job must see", "[guest][remote]") {
  ServedFiles s;
  Remote r(*s.client);
  auto missing = r.stat("in/nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::kRemote);
  CHECK(errno_of(missing.error()) == ENOENT);
  auto exists = r.mkdir("in", 0755);
  REQUIRE_FALSE(exists);
  CHECK(errno_of(exists.error()) == EEXIST);
  auto noreplace = r.rename("in/a.txt", "in/sub/b.txt", RENAME_NOREPLACE);
  REQUIRE_FALSE(noreplace);
  CHECK(errno_of(noreplace.error()) == EEXIST);
  auto not_empty = r.rmdir("in");
  REQUIRE_FALSE(not_empty);
  CHECK(errno_of(not_empty.error()) == ENOTEMPTY);
  auto escape = r.symlink("../../sentinel", "out/l");
  REQUIRE_FALSE(escape);
  CHECK(errno_of(escape.error()) == EXDEV);
  CHECK(s.tree.sentinel_dir.size() > 0);
  // A transport failure is EIO for the job, whatever its code.
  CHECK(errno_of(make_error(Errc::kPeerGone, "host gone")) == EIO);
  // The changes that succeed show on the export.
  REQUIRE(r.rename("in/a.txt", "out/a.txt"));
  CHECK(TempTree::read_file(s.tree.ex("out/a.txt")) == "alpha\n");
  CHECK_FALSE(TempTree::exists(s.tree.ex("in/a.txt")));
  REQUIRE(r.link("out/a.txt", "out/b.txt"));
  struct stat a, b;
  REQUIRE(::stat(s.tree.ex("out/a.txt").c_str(), &a) == 0);
  REQUIRE(::stat(s.tree.ex("out/b.txt").c_str(), &b) == 0);
  CHECK(a.st_ino == b.st_ino);
}

TEST_CASE("a putfile whose upload the host lost starts again from the first byte",
          "[guest][remote]") {
  ServedFiles s;
  Remote r(*s.client);
  const std::string up = pattern(70001, 5);
  REQUIRE(up.size() > 3 * r.max_payload());  // several chunks, so one can be cut
  int starts = 0;
  int lost = 0;
  int lose = 1;  // how many uploads the "new host" loses
  s.router->intercept = [&](const rpc::Request& req, host::files::FileService& files) {
    if (req.opcode == static_cast<uint16_t>(proto::Opcode::kPutfile)) {
      if (req.arg[1] == 0) ++starts;
      // The host was replaced between two chunks (a restart, a vacate's restore): the new one
      // has no upload in progress, exactly what the end of the old connection leaves.
      if (req.arg[1] > r.max_payload() && lost < lose) {
        ++lost;
        files.end_connection();
      }
    }
    return files.handle(req);
  };

  SECTION("one loss: sent again whole, committed once, nothing left behind") {
    UniqueFd src = temp_with(up);
    auto put = r.putfile("out/up", src.get(), 0644);
    REQUIRE(put);
    CHECK(*put == up.size());
    CHECK(starts == 2);
    CHECK(TempTree::read_file(s.tree.ex("out/up")) == up);
  }
  SECTION("a host that keeps losing it: EBADF after kPutfileAttempts, the target untouched") {
    TempTree::write_file(s.tree.ex("out/up"), "old");
    lose = 100;
    UniqueFd src = temp_with(up);
    auto put = r.putfile("out/up", src.get(), 0644);
    REQUIRE_FALSE(put);
    CHECK(errno_of(put.error()) == EBADF);
    CHECK(starts == kPutfileAttempts);
    CHECK(TempTree::read_file(s.tree.ex("out/up")) == "old");
  }
  // The export holds no temporary upload file either way.
  DIR* d = ::opendir(s.tree.ex("out").c_str());
  REQUIRE(d != nullptr);
  while (dirent* e = ::readdir(d)) CHECK(std::string(e->d_name).rfind(".ringbox-put", 0) != 0);
  ::closedir(d);
}
