// The restore file of a vacated job (host/run/restore_file.h): its header is hostile input (the
// file comes back from elsewhere), a stream without a good MAC never reaches libxl, and a save
// that did not finish must leave nothing trusted.
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
  std::string key_file;  // a fresh key, made on first use
  TempDir() {
    char t[] = "/tmp/ringbox-restore-XXXXXX";
    REQUIRE(::mkdtemp(t) != nullptr);
    path = t;
    key_file = path + "/keys/restore.key";
  }
  RestoreKey key() const {
    auto k = load_restore_key(key_file);
    REQUIRE(k);
    return *k;
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
  RestoreHeader h{256, 1, true, 123456, {}};
  for (size_t i = 0; i < h.mac.size(); ++i) h.mac[i] = static_cast<uint8_t>(i * 7 + 1);
  auto text = padded(format_restore_header(h));
  auto back = parse_restore_header(text, kRestoreHeaderBytes + 123456);
  REQUIRE(back);
  CHECK(back->memory_mib == 256);
  CHECK(back->vcpus == 1);
  CHECK(back->zstd);
  CHECK(back->stream_bytes == 123456);
  CHECK(back->mac == h.mac);
}

TEST_CASE("damaged, truncated or foreign restore headers are refused with a reason", "[vacate]") {
  auto good = format_restore_header({256, 1, false, 1000, {}});
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
  SECTION("an older ringbox's file, without a MAC") {
    auto r = parse_restore_header(
        padded("ringbox-restore 1\nmemory-mib 256\nvcpus 1\ncompression none\nstream-bytes 1000\n"),
        kRestoreHeaderBytes + 1000);
    REQUIRE(!r);
    CHECK_THAT(r.error().what, Catch::Contains("without a MAC"));
  }
  const std::string mac = "mac hmac-sha256 " + std::string(64, 'a') + "\n";
  for (std::string bad :
       {"ringbox-restore 2\nmemory-mib 0256\nvcpus 1\ncompression none\nstream-bytes 1000\n" + mac,
        "ringbox-restore 2\nmemory-mib 256\nvcpus 1\ncompression lz4\nstream-bytes 1000\n" + mac,
        "ringbox-restore 2\nmemory-mib 2\nvcpus 1\ncompression none\nstream-bytes 1000\n" + mac,
        "ringbox-restore 2\nmemory-mib 256\nvcpus -1\ncompression none\nstream-bytes 1000\n" + mac,
        "ringbox-restore 2\nmemory-mib 256\nvcpus 1\ncompression none\nstream-bytes "
        "99999999999999999999\n" +
            mac,
        "ringbox-restore 2\nmemory-mib 256\nvcpus 1\ncompression none\nstream-bytes 1000\n" +
            mac.substr(0, mac.size() - 1),
        "ringbox-restore 2\nmemory-mib 256\nvcpus 1\ncompression none\nstream-bytes 1000\n" + mac +
            "extra 1\n",
        "ringbox-restore 2\nmemory-mib  256\nvcpus 1\ncompression none\nstream-bytes 1000\n" + mac,
        std::string("ringbox-restore 2\nmemory-mib 256\nvcpus 1\ncompression none\nstream-bytes "
                    "1000\n"),
        "ringbox-restore 2\nmemory-mib 256\nvcpus 1\ncompression none\nstream-bytes 1000\nmac "
        "hmac-sha256 " +
            std::string(63, 'a') + "g\n",
        "ringbox-restore 2\nmemory-mib 256\nvcpus 1\ncompression none\nstream-bytes 1000\nmac "
        "hmac-md5 " +
            std::string(64, 'a') + "\n"}) {
    INFO(bad);
    CHECK(!parse_restore_header(padded(bad), kRestoreHeaderBytes + 1000));
  }
}

TEST_CASE("a restore file appears only once complete; a half one is never trusted", "[vacate]") {
  TempDir d;
  const std::string path = d.path + "/ringbox.restore";
  SECTION("complete") {
    auto size = write_restore_file(path, {256, 2, false, 0, {}}, d.key(),
                                   [](int fd) { return write_bytes(fd, 5000); });
    REQUIRE(size);
    CHECK(*size == kRestoreHeaderBytes + 5000);
    CHECK(!exists(path + ".part"));
    auto opened = open_restore_file(path, d.key_file, 256);
    REQUIRE(opened);
    CHECK(opened->header.memory_mib == 256);
    CHECK(opened->header.vcpus == 2);
    CHECK(opened->header.stream_bytes == 5000);
    // A file only we could write is handed on itself, positioned at the stream.
    CHECK(::lseek(opened->fd.get(), 0, SEEK_CUR) == static_cast<off_t>(kRestoreHeaderBytes));
    char ident[8] = {};
    CHECK(::read(opened->fd.get(), ident, 8) == 8);
    CHECK(std::string(ident, 8) == "LibxlFmt");
  }
  SECTION("the save fails") {
    auto size =
        write_restore_file(path, {256, 1, false, 0, {}}, d.key(), [](int fd) -> Result<void> {
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
    auto opened = open_restore_file(path, d.key_file, 256);
    REQUIRE(!opened);
    CHECK(opened.error().code == Errc::kNotFound);
    CHECK(!exists(path + ".part"));
  }
  SECTION("a stream that is not libxl's is refused before libxl sees it") {
    REQUIRE(write_restore_file(path, {256, 1, false, 0, {}}, d.key(), [](int fd) -> Result<void> {
      std::string junk(5000, 'j');
      if (::write(fd, junk.data(), junk.size()) != 5000) return sys_error("write");
      return ok();
    }));
    auto opened = open_restore_file(path, d.key_file, 256);
    REQUIRE(!opened);
    CHECK_THAT(opened.error().what, Catch::Contains("not a libxl save stream"));
  }
  SECTION("a truncated file is refused before libxl sees it") {
    REQUIRE(write_restore_file(path, {256, 1, false, 0, {}}, d.key(),
                               [](int fd) { return write_bytes(fd, 5000); }));
    REQUIRE(::truncate(path.c_str(), kRestoreHeaderBytes + 4000) == 0);
    auto opened = open_restore_file(path, d.key_file, 256);
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
  auto opened = check_restore_fd(std::move(fd), "the job's restore file", d.key_file, 256);
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
  auto size = write_restore_fd(fd.get(), "the job's restore file", {128, 1, false, 0, {}}, d.key(),
                               [](int out) { return write_bytes(out, 7000); });
  REQUIRE(size);
  CHECK(*size == kRestoreHeaderBytes + 7000);
  UniqueFd rd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  auto opened = check_restore_fd(std::move(rd), "the job's restore file", d.key_file, 128);
  REQUIRE(opened);
  CHECK(opened->header.memory_mib == 128);
  CHECK(opened->header.stream_bytes == 7000);
  SECTION("a directory is not a restore file") {
    UniqueFd dir(::open(d.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    auto r = check_restore_fd(std::move(dir), "the job's restore file", d.key_file, 128);
    REQUIRE(!r);
    CHECK_THAT(r.error().what, Catch::Contains("not a regular file"));
  }
}

namespace {

// A restore file at path, written under d's key: 256 MiB, uncompressed, a 5000-byte stream.
void write_good(const TempDir& d, const std::string& path) {
  REQUIRE(write_restore_file(path, {256, 1, false, 0, {}}, d.key(),
                             [](int fd) { return write_bytes(fd, 5000); }));
}

void overwrite(const std::string& path, off_t at, const std::string& bytes) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  REQUIRE(fd);
  REQUIRE(::pwrite(fd.get(), bytes.data(), bytes.size(), at) == static_cast<ssize_t>(bytes.size()));
}

}  // namespace

TEST_CASE("a restore file changed after its save, or saved under another key, is refused",
          "[vacate]") {
  TempDir d;
  const std::string path = d.path + "/ringbox.restore";
  write_good(d, path);
  REQUIRE(open_restore_file(path, d.key_file, 256));
  SECTION("one byte of the stream") {
    overwrite(path, kRestoreHeaderBytes + 4000, "y");
  }
  SECTION("the header's memory (the same length, so the size still matches)") {
    std::string head(kRestoreHeaderBytes, '\0');
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(::pread(fd.get(), head.data(), head.size(), 0) == static_cast<ssize_t>(head.size()));
    auto at = head.find("memory-mib 256");
    REQUIRE(at != std::string::npos);
    overwrite(path, static_cast<off_t>(at), "memory-mib 128");
  }
  SECTION("the MAC itself") {
    std::string head(kRestoreHeaderBytes, '\0');
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(::pread(fd.get(), head.data(), head.size(), 0) == static_cast<ssize_t>(head.size()));
    auto at = head.find("hmac-sha256 ");
    REQUIRE(at != std::string::npos);
    const char was = head[at + 12];
    overwrite(path, static_cast<off_t>(at + 12), was == '0' ? "1" : "0");
  }
  SECTION("a pool whose key differs") {
    TempDir other;
    (void)other.key();
    auto r = open_restore_file(path, other.key_file, 256);
    REQUIRE(!r);
    CHECK_THAT(r.error().what,
               Catch::Contains("MAC does not match the restore key " + other.key_file));
    return;
  }
  auto r = open_restore_file(path, d.key_file, 256);
  REQUIRE(!r);
  CHECK_THAT(r.error().what, Catch::Contains("MAC does not match"));
}

TEST_CASE("a restore is bounded by the job's memory before a byte of the stream is copied",
          "[vacate]") {
  TempDir d;
  const std::string path = d.path + "/ringbox.restore";
  SECTION("a domain larger than the job may have") {
    write_good(d, path);
    auto r = open_restore_file(path, d.key_file, 128);
    REQUIRE(!r);
    CHECK_THAT(r.error().what, Catch::Contains("256 MiB, more than the 128 MiB"));
  }
  SECTION("a stream longer than any save of its domain (a sparse 1 GiB file)") {
    const uint64_t stream = uint64_t{1} << 30;
    RestoreHeader h{32, 1, false, stream, {}};
    std::string head = padded(format_restore_header(h));
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    REQUIRE(fd);
    REQUIRE(::pwrite(fd.get(), head.data(), head.size(), 0) == static_cast<ssize_t>(head.size()));
    REQUIRE(::ftruncate(fd.get(), static_cast<off_t>(kRestoreHeaderBytes + stream)) == 0);
    auto r = open_restore_file(path, d.key_file, 256);
    REQUIRE(!r);
    CHECK_THAT(r.error().what, Catch::Contains("longer than any save of a 32 MiB domain"));
  }
}

TEST_CASE(
    "libxl reads a sealed private copy of a file others may write: changing it afterwards "
    "changes nothing",
    "[vacate]") {
  TempDir d;
  const std::string path = d.path + "/ringbox.restore";
  write_good(d, path);
  // As the root service's restore file is: someone else's, or writable by others.
  REQUIRE(::chmod(path.c_str(), 0666) == 0);
  auto opened = open_restore_file(path, d.key_file, 256);
  REQUIRE(opened);
  overwrite(path, kRestoreHeaderBytes, "EVILEVIL");
  char ident[8] = {};
  REQUIRE(::read(opened->fd.get(), ident, 8) == 8);
  CHECK(std::string(ident, 8) == "LibxlFmt");
  // Nobody can change the copy either, not even through the descriptor it is read by.
  CHECK(::pwrite(opened->fd.get(), "x", 1, 0) == -1);
  CHECK(errno == EPERM);
  struct stat st {};
  REQUIRE(::fstat(opened->fd.get(), &st) == 0);
  CHECK(st.st_size == 5000);
}

TEST_CASE("a restore key is made once, kept private, and a careless one is refused", "[vacate]") {
  TempDir d;
  auto first = load_restore_key(d.key_file);
  REQUIRE(first);
  auto again = load_restore_key(d.key_file);
  REQUIRE(again);
  CHECK(first->bytes == again->bytes);
  struct stat st {};
  REQUIRE(::stat(d.key_file.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(st.st_size == 65);
  REQUIRE(::stat((d.path + "/keys").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);
  SECTION("readable by others") {
    REQUIRE(::chmod(d.key_file.c_str(), 0644) == 0);
    auto r = load_restore_key(d.key_file);
    REQUIRE(!r);
    CHECK_THAT(r.error().what, Catch::Contains("mode 0644") && Catch::Contains("chmod 600"));
  }
  SECTION("not hex") {
    overwrite(d.key_file, 10, "z");
    auto r = load_restore_key(d.key_file);
    REQUIRE(!r);
    CHECK_THAT(r.error().what, Catch::Contains("not a hex digit"));
  }
  SECTION("too short") {
    REQUIRE(::truncate(d.key_file.c_str(), 40) == 0);
    auto r = load_restore_key(d.key_file);
    REQUIRE(!r);
    CHECK_THAT(r.error().what, Catch::Contains("64 hex digits"));
  }
  SECTION("a symlink") {
    const std::string link = d.path + "/link.key";
    REQUIRE(::symlink(d.key_file.c_str(), link.c_str()) == 0);
    CHECK(!load_restore_key(link));
  }
}

TEST_CASE("the restore MAC is standard HMAC-SHA256", "[vacate]") {
  // The key is bytes 00..1f; the value is what `openssl dgst -sha256 -mac HMAC -macopt
  // hexkey:000102..1f` and Python's hmac module both give for "what do ya want for nothing?".
  RestoreKey key;
  for (size_t i = 0; i < key.bytes.size(); ++i) key.bytes[i] = static_cast<uint8_t>(i);
  auto mac = RestoreMac::start(key);
  REQUIRE(mac);
  mac->update(std::string_view("what do ya want "));
  mac->update(std::string_view("for nothing?"));
  auto v = mac->finish();
  REQUIRE(v);
  CHECK(hex_encode(*v) == "099805f4ac310786968565c098db515cc50862b420ae31e20238312344bed36a");
}

TEST_CASE("a consumer that gives up does not leave libxl blocked on the pipe", "[vacate]") {
  // The producer writes far more than a pipe holds; the consumer (the file's writer) fails at
  // once, as on a full disk. Before the read end was closed on failure, this hung for ever.
  auto r = pump_through([](int out) { return write_bytes(out, 64 << 20); },
                        [](int) -> Result<void> { return make_error(Errc::kSystem, "disk full"); });
  REQUIRE(!r);
  // The cause is named first, the producer's broken pipe after it.
  CHECK(r.error().message().rfind("disk full", 0) == 0);
  CHECK(r.error().message().find("(and so: ") != std::string::npos);
}

TEST_CASE("a file's fault and this machine's fault are told apart: only the first sets it aside",
          "[vacate]") {
  TempDir d;
  const std::string path = d.path + "/ringbox.restore";
  write_good(d, path);
  SECTION("forged: kInvalidArgument") {
    overwrite(path, kRestoreHeaderBytes + 10, "z");
    auto r = open_restore_file(path, d.key_file);
    REQUIRE(!r);
    CHECK(r.error().code == Errc::kInvalidArgument);
  }
  SECTION("more vCPUs than allowed: kInvalidArgument") {
    auto r = open_restore_file(path, d.key_file, 256, 0);
    REQUIRE(!r);
    CHECK(r.error().code == Errc::kInvalidArgument);
    CHECK_THAT(r.error().what, Catch::Contains("1 vCPUs, more than the 0"));
  }
  SECTION("a careless key file: not the file's fault") {
    REQUIRE(::chmod(d.key_file.c_str(), 0640) == 0);
    auto r = open_restore_file(path, d.key_file);
    REQUIRE(!r);
    CHECK(r.error().code != Errc::kInvalidArgument);
  }
  SECTION("a key directory others may write: not the file's fault") {
    REQUIRE(::chmod((d.path + "/keys").c_str(), 0777) == 0);
    auto r = open_restore_file(path, d.key_file);
    REQUIRE(!r);
    CHECK(r.error().code != Errc::kInvalidArgument);
    CHECK_THAT(r.error().what, Catch::Contains("others may write it"));
  }
}

TEST_CASE("a save refuses a descriptor open for appending (pwrite would append)", "[vacate]") {
  TempDir d;
  const std::string path = d.path + "/ringbox.restore.part";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  REQUIRE(fd);
  auto r = write_restore_fd(fd.get(), "the job's restore file", {128, 1, false, 0, {}}, d.key(),
                            [](int out) { return write_bytes(out, 7000); });
  REQUIRE(!r);
  CHECK_THAT(r.error().what, Catch::Contains("appending"));
}

TEST_CASE("after a key rotation, files saved under the previous key still restore", "[vacate]") {
  TempDir d;
  const std::string path = d.path + "/ringbox.restore";
  write_good(d, path);  // under the key the pool used until now
  // The administrator's rotation: the old key becomes PATH.previous, a new one is made.
  const std::string previous = d.key_file + kPreviousKeySuffix;
  REQUIRE(::rename(d.key_file.c_str(), previous.c_str()) == 0);
  const RestoreKey fresh = d.key();  // made on first use
  SECTION("the previous key is accepted for a restore") {
    auto r = open_restore_file(path, d.key_file, 256);
    REQUIRE(r);
  }
  SECTION("a save uses the new key, which restores too") {
    const std::string again = d.path + "/again.restore";
    write_good(d, again);
    REQUIRE(::unlink(previous.c_str()) == 0);
    CHECK(open_restore_file(again, d.key_file, 256));
    auto old = open_restore_file(path, d.key_file, 256);  // the previous key is gone now
    REQUIRE_FALSE(old);
    CHECK(old.error().code == Errc::kInvalidArgument);
  }
  SECTION("without the previous key the old file is refused, and the message names both") {
    TempDir other;
    (void)other.key();
    REQUIRE(::rename(d.key_file.c_str(), (other.key_file + kPreviousKeySuffix).c_str()) == 0);
    auto r = open_restore_file(path, other.key_file, 256);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().what, Catch::Contains("nor the previous key"));
  }
  SECTION("a careless previous key is this machine's fault, not the file's") {
    REQUIRE(::chmod(previous.c_str(), 0644) == 0);
    auto r = open_restore_file(path, d.key_file, 256);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::kSystem);
    CHECK_THAT(r.error().what, Catch::Contains("chmod 600"));
  }
  (void)fresh;
}
