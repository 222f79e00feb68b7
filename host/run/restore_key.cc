#include "host/run/restore_key.h"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "shared/util/file_io.h"
#include "shared/util/unique_fd.h"
#include "shared/util/unique_handle.h"

namespace ringbox::host::run {
namespace {

constexpr size_t kHexDigits = 2 * sizeof(RestoreKey::bytes);

// kSystem, not kInvalidArgument: the key is this machine's, a restore file is not at fault.
Error bad_key(const std::string& path, const std::string& why) {
  return make_error(Errc::kSystem,
                    "restore key " + path + ": " + why +
                        " (remove it to have a new one made, or copy the pool's key there: "
                        "docs/vacate.md, \"Restore file\")");
}

Result<RestoreKey> read_key(const std::string& path, int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return sys_error("stat the restore key " + path);
  if (!S_ISREG(st.st_mode)) return bad_key(path, "not a regular file");
  if (st.st_uid != ::geteuid())
    return bad_key(path, "owned by uid " + std::to_string(st.st_uid) + ", not by uid " +
                             std::to_string(::geteuid()) + " who uses it");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return bad_key(path,
                   std::string("mode ") + mode + " lets others read or change it; chmod 600 it");
  }
  std::string text(kHexDigits + 2, '\0');
  auto n = read_all(fd, std::as_writable_bytes(std::span(text)));
  if (!n) return sys_error(n.error().sys_errno, "read the restore key " + path);
  text.resize(*n);
  if (text.size() == kHexDigits + 1 && text.back() == '\n') text.pop_back();
  if (text.size() != kHexDigits)
    return bad_key(path, "not " + std::to_string(kHexDigits) + " hex digits and a newline");
  RestoreKey key;
  key.path = path;
  if (!hex_decode(text, key.bytes))
    return bad_key(path, "holds a character that is not a hex digit");
  return key;
}

// Makes a fresh key at path; a key another run made first wins (link(2) does not replace).
Result<void> make_key(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) return make_error(Errc::kSystem, "create " + dir.string() + ": " + ec.message());
    ::chmod(dir.c_str(), 0700);
  }
  std::array<uint8_t, 32> bytes{};
  if (::getrandom(bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size()))
    return sys_error("draw a restore key from getrandom");
  const std::string tmp = path + ".new." + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return sys_error("create the restore key " + tmp);
  const std::string text = hex_encode(bytes) + "\n";
  auto w = write_all(fd.get(), std::as_bytes(std::span(text)));
  Result<void> r = ok();
  if (!w || ::fsync(fd.get()) != 0)
    r = sys_error("write the restore key " + tmp);
  else if (::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST)
    r = sys_error("put the restore key in place as " + path);
  ::unlink(tmp.c_str());
  // The new name must survive a crash: a lost key makes every file saved under it worthless.
  UniqueFd d(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (r && (!d || ::fsync(d.get()) != 0)) r = sys_error("sync the restore key's directory");
  return r;
}

}  // namespace

std::string hex_encode(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * bytes.size());
  for (uint8_t v : bytes) {
    s.push_back(kDigits[v >> 4]);
    s.push_back(kDigits[v & 15]);
  }
  return s;
}

bool hex_decode(std::string_view hex, std::span<uint8_t> out) {
  auto value = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() != 2 * out.size()) return false;
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = value(hex[2 * i]), lo = value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

namespace {

// The key's directory must be as private as the key: owned by us, writable by nobody else
// (else another user could swap the key for one they know), as sshd's StrictModes asks.
Result<void> check_key_dir(const std::string& path) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  struct stat st {};
  if (::stat(dir.empty() ? "." : dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return ok();  // made by make_key, mode 0700
    return sys_error("stat the restore key's directory " + dir);
  }
  if (st.st_uid != ::geteuid() || (st.st_mode & 022) != 0)
    return bad_key(path, "its directory " + dir +
                             " is not owned by this user or others may write it (chmod go-w)");
  return ok();
}

}  // namespace

Result<RestoreKey> load_restore_key(const std::string& path) {
  RINGBOX_TRY(check_key_dir(path));
  for (int attempt = 0; attempt < 2; ++attempt) {
    // O_NONBLOCK: a FIFO planted at the path must not hang the run (read_key refuses it).
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (fd) return read_key(path, fd.get());
    if (errno != ENOENT || attempt > 0) return sys_error("open the restore key " + path);
    RINGBOX_TRY(make_key(path));
  }
  return make_error(Errc::kSystem, "restore key " + path + ": unreachable");
}

Result<std::optional<RestoreKey>> load_previous_restore_key(const std::string& path) {
  const std::string previous = path + kPreviousKeySuffix;
  RINGBOX_TRY(check_key_dir(previous));
  UniqueFd fd(::open(previous.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return std::optional<RestoreKey>();
    return sys_error("open the previous restore key " + previous);
  }
  auto key = read_key(previous, fd.get());
  if (!key) return std::move(key.error());
  return std::optional<RestoreKey>(std::move(*key));
}

struct RestoreMac::Ctx {
  UniqueHandle<EVP_MAC_CTX, EVP_MAC_CTX_free> ctx;
  bool failed = false;  // an update failed: finish() reports it
};

RestoreMac::RestoreMac(std::unique_ptr<Ctx> c) : ctx_(std::move(c)) {}
RestoreMac::RestoreMac(RestoreMac&&) noexcept = default;
RestoreMac& RestoreMac::operator=(RestoreMac&&) noexcept = default;
RestoreMac::~RestoreMac() = default;

Result<RestoreMac> RestoreMac::start(const RestoreKey& key) {
  UniqueHandle<EVP_MAC, EVP_MAC_free> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) return make_error(Errc::kSystem, "OpenSSL offers no HMAC (EVP_MAC_fetch)");
  auto c = std::make_unique<Ctx>();
  c->ctx.reset(EVP_MAC_CTX_new(mac.get()));
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (!c->ctx || EVP_MAC_init(c->ctx.get(), key.bytes.data(), key.bytes.size(), params) != 1)
    return make_error(Errc::kSystem, "OpenSSL cannot start HMAC-SHA256 (EVP_MAC_init)");
  return RestoreMac(std::move(c));
}

void RestoreMac::update(std::span<const std::byte> bytes) {
  if (ctx_ && ctx_->ctx &&
      EVP_MAC_update(ctx_->ctx.get(), reinterpret_cast<const unsigned char*>(bytes.data()),
                     bytes.size()) != 1)
    ctx_->failed = true;
}

void RestoreMac::update(std::string_view text) {
  update(std::as_bytes(std::span(text.data(), text.size())));
}

Result<RestoreMacValue> RestoreMac::finish() {
  RestoreMacValue out{};
  size_t len = 0;
  if (!ctx_ || !ctx_->ctx || ctx_->failed ||
      EVP_MAC_final(ctx_->ctx.get(), out.data(), &len, out.size()) != 1 || len != out.size())
    return make_error(Errc::kSystem, "OpenSSL cannot finish HMAC-SHA256 (EVP_MAC_final)");
  ctx_.reset();
  return out;
}

bool same_mac(const RestoreMacValue& a, const RestoreMacValue& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace ringbox::host::run
