// The restore file of a vacated job (host/run/restore_file.h): its header is hostile input (the
// file comes back from elsewhere), and a save that did not finish must leave nothing trusted.
#include "host/run/restore_file.h"
#include "host/run/zstd_pipe.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

using namespace ringbox;
using namespace ringbox::host::run;

namespace {

std::string padded(std::string s) {
  s.resize(kRestoreHeaderBytes, '\0');
  return s;
}

struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/tmp/ringbox-restore-XXXXXX";
    REQUIRE(::mkdtemp(t) != nullptr);
    path = t;
  }
  ~TempDir() { (void)std::system(("rm -rf '" + path + "'").c_str()); }
};

bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

// n bytes of a stand-in for a libxl stream: its ident, then filler.
Result<void> write_bytes(int fd, size_t n) {
  std::string data = "LibxlFmt";
  data.resize(n, 'x');
  if (::write(fd, data.data(), n) != static_cast<ssize_t>(n)) return sys_error("write");
  return ok();
}

}  // namespace

TEST_CASE("a restore header round-trips and names the stream's exact length", "[vacate]") {
  RestoreHeader h{256, 1, true, 123456};
  auto text = padded(format_restore_header(h));
  auto back = parse_restore_header(text, kRestoreHeaderBytes + 123456);
  REQUIRE(back);
  CHECK(back->memory_mib == 256);
  CHECK(back->vcpus == 1);
  CHECK(back->zstd);
  CHECK(back->stream_bytes == 123456);
}

TEST_CASE("damaged, truncated or foreign restore headers are refused with a reason", "[vacate]") {
  auto good = format_restore_header({256, 1, false, 1000});
  SECTION("truncated file") {
    auto r = parse_restore_header(padded(good), kRestoreHeaderBytes + 999);
    REQUIRE(!r);
    CHECK_THAT(r.error().what, Catch::Contains("truncated"));
  }
  SECTION("not ours") {
    auto r = parse_restore_header(padded("Xen saved domain, xl format\n"), 5000);
    REQUIRE(!r);
    CHECK_THAT(r.error().what, Catch::Contains("not a ringbox restore file"));
  }
  SECTION("shorter than a header") {
    CHECK(!parse_restore_header(good, 100));
  }
  for (const char* bad :
       {"ringbox-restore 1\nmemory-mib 0256\nvcpus 1\ncompression none\nstream-bytes 1000\n",
        "ringbox-restore 1\nmemory-mib 256\nvcpus 1\ncompression lz4\nstream-bytes 1000\n",
        "ringbox-restore 1\nmemory-mib 2\nvcpus 1\ncompression none\nstream-bytes 1000\n",
        "ringbox-restore 1\nmemory-mib 256\nvcpus -1\ncompression none\nstream-bytes 1000\n",
        "ringbox-restore 1\nmemory-mib 256\nvcpus 1\ncompression none\nstream-bytes "
        "99999999999999999999\n",
        "ringbox-restore 1\nmemory-mib 256\nvcpus 1\ncompression none\nstream-bytes 1000",
        "ringbox-restore 1\nmemory-mib 256\nvcpus 1\ncompression none\nstream-bytes 1000\nextra "
        "1\n",
        "ringbox-restore 1\nmemory-mib  256\nvcpus 1\ncompression none\nstream-bytes 1000\n"}) {
    INFO(bad);
    CHECK(!parse_restore_header(padded(bad), kRestoreHeaderBytes + 1000));
  }
}

TEST_CASE("a restore file appears only once complete; a half one is never trusted", "[vacate]") {
  TempDir d;
  const std::string path = d.path + "/ringbox.restore";
  SECTION("complete") {
    auto size =
        write_restore_file(path, {256, 2, false, 0}, [](int fd) { return write_bytes(fd, 5000); });
    REQUIRE(size);
    CHECK(*size == kRestoreHeaderBytes + 5000);
    CHECK(!exists(path + ".part"));
    auto opened = open_restore_file(path);
    REQUIRE(opened);
    CHECK(opened->header.memory_mib == 256);
    CHECK(opened->header.vcpus == 2);
    CHECK(opened->header.stream_bytes == 5000);
    CHECK(::lseek(opened->fd.get(), 0, SEEK_CUR) == static_cast<off_t>(kRestoreHeaderBytes));
  }
  SECTION("the save fails") {
    auto size = write_restore_file(path, {256, 1, false, 0}, [](int fd) -> Result<void> {
      (void)write_bytes(fd, 100);
      return make_error(Errc::kSystem, "libxl_domain_suspend failed");
    });
    REQUIRE(!size);
    CHECK(!exists(path));
    CHECK(!exists(path + ".part"));
  }
  SECTION("a save killed half-way left PATH.part: not opened, and cleared") {
    int fd = ::open((path + ".part").c_str(), O_WRONLY | O_CREAT, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(write_bytes(fd, 9000));
    ::close(fd);
    auto opened = open_restore_file(path);
    REQUIRE(!opened);
    CHECK(opened.error().code == Errc::kNotFound);
    CHECK(!exists(path + ".part"));
  }
  SECTION("a stream that is not libxl's is refused before libxl sees it") {
    REQUIRE(write_restore_file(path, {256, 1, false, 0}, [](int fd) -> Result<void> {
      std::string junk(5000, 'j');
      if (::write(fd, junk.data(), junk.size()) != 5000) return sys_error("write");
      return ok();
    }));
    auto opened = open_restore_file(path);
    REQUIRE(!opened);
    CHECK_THAT(opened.error().what, Catch::Contains("not a libxl save stream"));
  }
  SECTION("a truncated file is refused before libxl sees it") {
    REQUIRE(
        write_restore_file(path, {256, 1, false, 0}, [](int fd) { return write_bytes(fd, 5000); }));
    REQUIRE(::truncate(path.c_str(), kRestoreHeaderBytes + 4000) == 0);
    auto opened = open_restore_file(path);
    REQUIRE(!opened);
    CHECK_THAT(opened.error().what, Catch::Contains("truncated"));
  }
}

TEST_CASE("a zstd restore stream comes back byte for byte, and a damaged one is noticed",
          "[vacate]") {
  TempDir d;
  const std::string path = d.path + "/z";
  // Like a save: mostly zero pages, some data.
  std::string stream(8 << 20, '\0');
  for (size_t i = 0; i < stream.size(); i += 4096 * 16) stream[i] = static_cast<char>(i >> 12);
  UniqueFd out(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  REQUIRE(out);
  REQUIRE(write_compressed(out.get(), [&](int fd) -> Result<void> {
    if (::write(fd, stream.data(), stream.size()) != static_cast<ssize_t>(stream.size()))
      return sys_error("write");
    return ok();
  }));
  struct stat st {};
  REQUIRE(::fstat(out.get(), &st) == 0);
  CHECK(st.st_size < static_cast<off_t>(stream.size() / 50));
  auto read_back = [&](int in) {
    REQUIRE(::lseek(in, 0, SEEK_SET) == 0);
    auto dz = Decompressor::start(in);
    REQUIRE(dz);
    std::string got;
    char buf[65536];
    for (ssize_t n; (n = ::read((*dz)->fd(), buf, sizeof buf)) > 0;) got.append(buf, n);
    auto end = (*dz)->finish();
    return std::make_pair(got, static_cast<bool>(end));
  };
  auto [got, ended_ok] = read_back(out.get());
  CHECK(ended_ok);
  CHECK(got == stream);
  // Damage the frame's middle: the checksum or the structure fails, never a silent success.
  REQUIRE(::pwrite(out.get(), "\xff\xff\xff\xff", 4, st.st_size / 2) == 4);
  auto [bad, bad_ok] = read_back(out.get());
  CHECK((!bad_ok || bad != stream));
  CHECK(!bad_ok);
}

TEST_CASE("a save killed before its header, renamed as if whole, is refused by the header check",
          "[vacate]") {
  TempDir d;
  const std::string path = d.path + "/ringbox.restore";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  REQUIRE(fd);
  // What write_restore_fd leaves when killed mid-stream: the header's 4 KiB still zero.
  REQUIRE(::lseek(fd.get(), kRestoreHeaderBytes, SEEK_SET) == kRestoreHeaderBytes);
  REQUIRE(write_bytes(fd.get(), 20000));
  auto opened = check_restore_fd(std::move(fd), "the job's restore file");
  REQUIRE(!opened);
  CHECK_THAT(opened.error().what, Catch::Contains("not a ringbox restore file"));
}

TEST_CASE("a restore file written through a descriptor (the root service's way) reads back",
          "[vacate]") {
  TempDir d;
  const std::string path = d.path + "/ringbox.restore.part";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  REQUIRE(fd);
  // Whatever the file held before is replaced.
  REQUIRE(write_bytes(fd.get(), 50000));
  auto size = write_restore_fd(fd.get(), "the job's restore file", {128, 1, false, 0},
                               [](int out) { return write_bytes(out, 7000); });
  REQUIRE(size);
  CHECK(*size == kRestoreHeaderBytes + 7000);
  UniqueFd rd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  auto opened = check_restore_fd(std::move(rd), "the job's restore file");
  REQUIRE(opened);
  CHECK(opened->header.memory_mib == 128);
  CHECK(opened->header.stream_bytes == 7000);
  SECTION("a directory is not a restore file") {
    UniqueFd dir(::open(d.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    auto r = check_restore_fd(std::move(dir), "the job's restore file");
    REQUIRE(!r);
    CHECK_THAT(r.error().what, Catch::Contains("not a regular file"));
  }
}
