#include "host/submitd/server_auth.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace ringbox::submitd {
namespace {

constexpr size_t kAuthLineBytes = 1024;

bool equal_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

uint64_t random_u64() {
  uint64_t v = 0;
  if (::getrandom(&v, sizeof(v), 0) != static_cast<ssize_t>(sizeof(v)))
    v = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return v;
}

std::string user_name(uid_t uid) {
  passwd pw{};
  passwd* res = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res) return res->pw_name;
  return std::to_string(uid);
}

// The unix method: we name a file that does not exist yet; the client creates it; its owner
// is the client's uid. lstat (not stat): a symlink planted there proves nothing.
Result<bool> unix_challenge(chirp::Stream& s, const AuthConfig& cfg, std::string& subject) {
  char name[64];
  std::snprintf(name, sizeof(name), "/challenge.ringbox.%d.%016llx", static_cast<int>(::getpid()),
                static_cast<unsigned long long>(random_u64()));
  std::string path = cfg.challenge_dir + name;
  RINGBOX_TRY(s.write_all(path + "\n"));
  auto answer = s.read_line(kAuthLineBytes);
  if (!answer) return std::move(answer.error());
  if (*answer != "yes") {
    ::unlink(path.c_str());
    return false;
  }
  struct stat st {};
  bool found = false;
  for (int i = 0; i < 5 && !found; ++i) {
    found = ::lstat(path.c_str(), &st) == 0;
    if (!found) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::unlink(path.c_str());
  std::vector<uid_t> allowed = cfg.uids;
  if (allowed.empty()) allowed.push_back(::geteuid());
  if (!found || !S_ISREG(st.st_mode) ||
      std::find(allowed.begin(), allowed.end(), st.st_uid) == allowed.end()) {
    RINGBOX_TRY(s.write_all("no\n"));
    return false;
  }
  RINGBOX_TRY(s.write_all("yes\n"));
  subject = user_name(st.st_uid);
  return true;
}

}  // namespace

std::string random_cookie() {
  std::string c(31, 'a');
  for (auto& ch : c) ch = static_cast<char>('a' + random_u64() % 26);
  return c;
}

Result<Authenticated> authenticate(chirp::Stream& s, const std::string& peer_ip,
                                   const AuthConfig& cfg) {
  for (int attempt = 0; attempt < kMaxAuthAttempts; ++attempt) {
    auto line = s.read_line(kAuthLineBytes);
    if (!line) return std::move(line.error());
    std::string l = *line;
    if (!l.empty() && l.back() == '\r') l.pop_back();
    if (l.rfind("cookie ", 0) == 0) {
      std::string given = l.substr(7);
      const Tenant* match = nullptr;
      if (cfg.allow_cookie) {
        for (const auto& t : cfg.tenants) {
          if (!t.cookie.empty() && equal_constant_time(t.cookie, given)) match = &t;
        }
      }
      if (match) {
        RINGBOX_TRY(s.write_all("0\n"));
        return Authenticated{match, "cookie:" + match->name};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(cfg.cookie_fail_delay_ms));
      RINGBOX_TRY(s.write_all("-1\n"));
      continue;
    }
    if (l.find_first_of(" \t") != std::string::npos || l.empty()) {
      RINGBOX_TRY(s.write_all("-1\n"));  // a request before authentication (HTCondor's answer)
      continue;
    }
    bool address = l == "address" && cfg.allow_address && cfg.has_default;
    bool unix_m = l == "unix" && cfg.allow_unix && cfg.has_default;
    if (!address && !unix_m) {
      RINGBOX_TRY(s.write_all("no\n"));
      continue;
    }
    RINGBOX_TRY(s.write_all("yes\n"));
    std::string subject;
    if (address) {
      bool allowed =
          std::find(cfg.addresses.begin(), cfg.addresses.end(), peer_ip) != cfg.addresses.end();
      RINGBOX_TRY(s.write_all(allowed ? "yes\n" : "no\n"));
      if (!allowed) continue;
      subject = peer_ip;
    } else {
      auto okay = unix_challenge(s, cfg, subject);
      if (!okay) return std::move(okay.error());
      if (!*okay) continue;
    }
    RINGBOX_TRY(s.write_all("yes\n" + l + "\n" + subject + "\n"));
    return Authenticated{&cfg.tenants[0], l + ":" + subject};
  }
  return make_error(Errc::kRemote, "too many failed authentication attempts");
}

}  // namespace ringbox::submitd
