#include "host/domain/domain_config.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

using namespace ringbox;
using namespace ringbox::host::domain;

namespace {

// A scratch file that exists for the test's lifetime.
struct TempFile {
  std::string path;
  explicit TempFile(std::string_view content) {
    char tmpl[] = "/tmp/ringbox-domain-test.XXXXXX";
    int fd = ::mkstemp(tmpl);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
    ::close(fd);
    path = tmpl;
  }
  ~TempFile() { ::unlink(path.c_str()); }
};

// Runs the guest's own decoder (kernel-image/guest-init.sh, sourced with the repository's
// init-lib.sh: its main only runs as PID 1) on `encoded` and returns the argv it would give the
// agent, one argument per line.
std::string decode_with_guest_init(const std::string& encoded) {
  TempFile out("");
  std::string cmd = "RINGBOX_INIT_LIB=" RINGBOX_SOURCE_DIR
                    "/kernel-image/init-lib.sh sh -c '. " RINGBOX_SOURCE_DIR
                    "/kernel-image/guest-init.sh && "
                    "decode_agent_args \"$1\" \"$2\"' sh '" +
                    encoded + "' " + out.path;
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::ifstream in(out.path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

DomainConfig config_with_files(const TempFile& kernel, const TempFile& ramdisk) {
  DomainConfig c;
  c.kernel = kernel.path;
  c.ramdisk = ramdisk.path;
  return c;
}

}  // namespace

TEST_CASE("base64 matches the RFC 4648 test vectors", "[domain][config]") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK(base64_encode("fooba") == "Zm9vYmE=");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_encode(std::string("\xff\xfe\x00", 3)) == "//4A");
}

TEST_CASE("agent arguments encode as guest-init.sh documents", "[domain][config]") {
  // The example in kernel-image/guest-init.sh: "--version" and "a b".
  auto enc = encode_agent_args({"--version", "a b"});
  REQUIRE(enc);
  CHECK(*enc == "LS12ZXJzaW9uCmEgYgo=");
}

TEST_CASE("the guest's own decoder gives back every argument unchanged", "[domain][config]") {
  std::vector<std::string> args = {"--transport", "xen", "--ping", "5", "a b,c",
                                   "q'uote",      "x=y", "",       "--"};
  auto enc = encode_agent_args(args);
  REQUIRE(enc);
  std::string expected;
  for (const auto& a : args) expected += a + "\n";
  CHECK(decode_with_guest_init(*enc) == expected);
}

TEST_CASE("an agent argument with a newline or NUL is refused", "[domain][config]") {
  CHECK_FALSE(encode_agent_args({"ok", "two\nlines"}));
  CHECK_FALSE(encode_agent_args({std::string("nul\0byte", 8)}));
}

TEST_CASE("the command line puts ringbox.args after the kernel arguments", "[domain][config]") {
  DomainConfig c;
  c.kernel_args = "console=hvc0 loglevel=4";
  auto none = guest_cmdline(c);
  REQUIRE(none);
  CHECK(*none == "console=hvc0 loglevel=4");
  c.agent_args = {"--version", "a b"};
  auto line = guest_cmdline(c);
  REQUIRE(line);
  CHECK(*line == "console=hvc0 loglevel=4 ringbox.args=LS12ZXJzaW9uCmEgYgo=");
}

TEST_CASE("a command line longer than Xen keeps is refused", "[domain][config]") {
  DomainConfig c;
  c.agent_args = {std::string(800, 'a')};  // 801 bytes, base64 1068
  auto line = guest_cmdline(c);
  REQUIRE_FALSE(line);
  CHECK(line.error().code == Errc::kTooLarge);
  c.agent_args = {std::string(700, 'a')};  // base64 936 + "console=hvc0 ringbox.args=" fits
  CHECK(guest_cmdline(c));
}

TEST_CASE("kernel arguments may not set ringbox.args or hold control bytes", "[domain][config]") {
  DomainConfig c;
  c.kernel_args = "console=hvc0 ringbox.args=AAAA";
  CHECK_FALSE(guest_cmdline(c));
  c.kernel_args = "console=hvc0\nquiet";
  CHECK_FALSE(guest_cmdline(c));
}

TEST_CASE("domain names are short, file-name safe and not a domain id", "[domain][config]") {
  CHECK(validate_domain_name("ringbox-123-1"));
  CHECK(validate_domain_name("job_7.a"));
  CHECK_FALSE(validate_domain_name(""));
  CHECK_FALSE(validate_domain_name(std::string(65, 'a')));
  CHECK_FALSE(validate_domain_name("a/b"));
  CHECK_FALSE(validate_domain_name("a b"));
  CHECK_FALSE(validate_domain_name("123"));
  CHECK_FALSE(validate_domain_name("Domain-0"));
}

TEST_CASE("the default domain name is valid and differs per call", "[domain][config]") {
  std::string a = default_domain_name(), b = default_domain_name();
  CHECK(validate_domain_name(a));
  CHECK(a != b);
  CHECK(a.rfind("ringbox-" + std::to_string(::getpid()) + "-", 0) == 0);
}

TEST_CASE("a config with readable files and sane sizes validates", "[domain][config]") {
  TempFile kernel(
      "\x7f"
      "ELF....");
  TempFile ramdisk("070701");
  DomainConfig c = config_with_files(kernel, ramdisk);
  CHECK(validate_domain_config(c));
  CHECK(looks_like_elf(kernel.path));
  CHECK_FALSE(looks_like_elf(ramdisk.path));
}

TEST_CASE("memory and vCPU counts out of range are refused", "[domain][config]") {
  TempFile kernel(
      "\x7f"
      "ELF");
  TempFile ramdisk("x");
  DomainConfig c = config_with_files(kernel, ramdisk);
  c.memory_mib = kMinMemoryMib - 1;
  CHECK_FALSE(validate_domain_config(c));
  c.memory_mib = kMaxMemoryMib + 1;
  CHECK_FALSE(validate_domain_config(c));
  c.memory_mib = 256;
  c.vcpus = 0;
  CHECK_FALSE(validate_domain_config(c));
  c.vcpus = kMaxVcpus + 1;
  CHECK_FALSE(validate_domain_config(c));
}

TEST_CASE("a missing, empty or non-regular kernel or ramdisk is refused", "[domain][config]") {
  TempFile kernel(
      "\x7f"
      "ELF");
  TempFile empty("");
  DomainConfig c = config_with_files(kernel, kernel);
  c.ramdisk = "/nonexistent/ringbox-initrd";
  auto r = validate_domain_config(c);
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("/nonexistent/ringbox-initrd") != std::string::npos);
  c.ramdisk = empty.path;
  CHECK_FALSE(validate_domain_config(c));
  c.ramdisk = "/tmp";
  CHECK_FALSE(validate_domain_config(c));
  c.ramdisk = kernel.path;
  c.kernel = "";
  CHECK_FALSE(validate_domain_config(c));
}
