// The key that authenticates restore files (docs/vacate.md, "Restore file"): a restore file
// becomes a domain, and libxl/libxc parse its stream as root in dom0, so a run restores only a
// stream that an execute point holding the same key saved. The MAC is HMAC-SHA256 (OpenSSL's
// EVP_MAC, RFC 2104) over the stream and then the header's fields.
//
// The key file: 64 hex digits (32 bytes) and a newline, owned by root, mode 0600. Every
// execute point that may resume another's jobs must hold the same file (as HTCondor's pool
// password is shared); one that does not, starts such jobs from the beginning.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "shared/util/result.h"

namespace ringbox::host::run {

inline constexpr const char* kDefaultRestoreKeyFile = "/var/lib/ringbox/restore.key";
inline constexpr size_t kRestoreMacBytes = 32;
using RestoreMacValue = std::array<uint8_t, kRestoreMacBytes>;

struct RestoreKey {
  std::array<uint8_t, 32> bytes{};
  std::string path;  // where it was read, for messages
};

// Reads the key at path; when there is none, makes one (getrandom(2)) with its directory
// (mode 0700). Errors: a file that is not a regular file of 64 hex digits, or that group or
// others may read or write, or that another user owns (each says what to do); I/O errors.
Result<RestoreKey> load_restore_key(const std::string& path);

// Rotation: PATH.previous (kPreviousKeySuffix), when there is one, is a key the pool used
// before PATH; restores accept files saved under it, saves never use it. Checked as
// load_restore_key checks PATH; nullopt when there is none (none is ever made).
inline constexpr char kPreviousKeySuffix[] = ".previous";
Result<std::optional<RestoreKey>> load_previous_restore_key(const std::string& path);

// HMAC-SHA256 under a restore key, fed in pieces.
class RestoreMac {
 public:
  // Errors: OpenSSL cannot provide HMAC-SHA256 (Errc::kSystem).
  static Result<RestoreMac> start(const RestoreKey& key);
  RestoreMac(RestoreMac&&) noexcept;
  RestoreMac& operator=(RestoreMac&&) noexcept;
  ~RestoreMac();
  void update(std::span<const std::byte> bytes);
  void update(std::string_view text);
  // The MAC of everything fed; the object is spent afterwards.
  Result<RestoreMacValue> finish();

 private:
  struct Ctx;
  explicit RestoreMac(std::unique_ptr<Ctx> c);
  std::unique_ptr<Ctx> ctx_;
};

// Lower-case hex of bytes (two digits a byte).
std::string hex_encode(std::span<const uint8_t> bytes);
// Decodes exactly 2 * out.size() hex digits (either case) into out; false on anything else.
bool hex_decode(std::string_view hex, std::span<uint8_t> out);

// True when a and b are equal, in time that does not depend on where they differ.
bool same_mac(const RestoreMacValue& a, const RestoreMacValue& b);

}  // namespace ringbox::host::run
