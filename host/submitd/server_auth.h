// Server side of Chirp authentication for ringbox-submitd.
//
// Two worlds, told apart by the first line:
// - "cookie <c>" (HTCondor starter proxy convention, io_proxy_handler.cpp): the cookie picks a
//   tenant (an export directory); 0 on a match, else -1 after a 1 s pause (as the starter).
// - a method name (cctools auth.c negotiation): "address" (peer IP on the allow list) or
//   "unix" (the client creates a challenge file; its owner's uid must be allowed). The server
//   answers "yes"/"no" per method and, on success, "yes\n<type>\n<subject>\n". Negotiated
//   methods reach the default tenant (--root) only.
// Anything else before authentication is -1 (a request) or "no" (an unknown method). After
// kMaxAuthAttempts failures the connection is closed. Cookies compare in constant time.
// Tenants never share: a cookie grants exactly its own directory.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "host/submitd/confined_dir.h"
#include "shared/chirp/stream.h"

namespace ringbox::submitd {

inline constexpr int kMaxAuthAttempts = 16;

struct Tenant {
  std::string name;                   // for logs and whoami ("root", or the job's name)
  std::shared_ptr<ConfinedDir> root;  // what it may reach
  std::string cookie;                 // "" = no cookie grants it
};

struct AuthConfig {
  bool allow_cookie = true;
  bool allow_address = true;
  bool allow_unix = true;
  std::vector<std::string> addresses{"127.0.0.1", "::1", "::ffff:127.0.0.1"};
  std::vector<uid_t> uids;  // unix auth; empty = the server's own uid
  std::string challenge_dir = "/tmp";
  int cookie_fail_delay_ms = 1000;
  std::vector<Tenant> tenants;  // tenants[0] is the default tenant when has_default
  bool has_default = false;
};

struct Authenticated {
  const Tenant* tenant = nullptr;
  std::string subject;  // "address:127.0.0.1", "unix:alice", "cookie:job1"
};

// Runs the exchange; kPeerGone/kTimeout/kTooLarge if the peer broke off or misbehaved, or
// kRemote ("refused") after too many failures.
Result<Authenticated> authenticate(chirp::Stream& s, const std::string& peer_ip,
                                   const AuthConfig& cfg);

// A 31-letter random cookie, as the starter makes (io_proxy.cpp).
std::string random_cookie();

}  // namespace ringbox::submitd
