// Endpoint: where a Chirp server is and how to speak to it. Two sources:
//   chirp://HOST:PORT[/DIR]   a ringbox-submitd or cctools chirp_server; negotiated auth
//                             (address, unix), URL-escaped words, paths beneath /DIR;
//   an HTCondor .chirp.config one line "<ip> <port> <cookie>" (written by the starter,
//                             io_proxy.cpp; path in $_CONDOR_CHIRP_CONFIG): cookie auth,
//                             backslash-escaped words, the proxy's 32-bit / 256 MiB limits,
//                             relative paths resolved by the shadow against the job's Iwd.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "shared/chirp/chirp_proto.h"
#include "shared/util/result.h"

namespace ringbox::chirp {

// What the peer is, for its quirks (chirp-protocol.md section 5).
enum class PeerKind {
  kChirpServer,  // ringbox-submitd or cctools chirp_server
  kCondorProxy,  // the HTCondor starter's IO proxy: 32-bit numbers, <= 256 MiB per call,
                 // getfile of an empty file is -5, no second reply to a zero-length putfile
};

struct Endpoint {
  std::string host;
  uint16_t port = 0;
  std::string dir;     // prefix of every path ("" = the server's root / the job's Iwd)
  std::string cookie;  // non-empty: cookie auth (HTCondor), else negotiated methods
  std::vector<std::string> methods{"address", "unix"};  // negotiated, in this order
  PeerKind kind = PeerKind::kChirpServer;
  Escaping escaping = Escaping::kUrl;

  std::string describe() const;  // "chirp://127.0.0.1:9094/data" for messages
};

// Parses chirp://HOST:PORT[/DIR] (HOST may be [v6]). Errors name the bad part.
Result<Endpoint> parse_chirp_url(const std::string& url);
// Reads an HTCondor .chirp.config: one line "<host> <port> <cookie>". The cookie must be
// 1..256 printable non-blank characters.
Result<Endpoint> read_chirp_config(const std::string& path);
// Parses the same line from memory (for tests and for submitd, which reads the format too).
Result<Endpoint> parse_chirp_config(std::string_view text, const std::string& what);

}  // namespace ringbox::chirp
