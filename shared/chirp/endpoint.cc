#include "shared/chirp/endpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include "shared/chirp/codec.h"
#include "shared/util/file_io.h"
#include "shared/util/unique_fd.h"

namespace ringbox::chirp {

std::string Endpoint::describe() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (!cookie.empty()) return "HTCondor Chirp proxy " + h + ":" + std::to_string(port);
  return "chirp://" + h + ":" + std::to_string(port) + (dir.empty() ? "" : "/" + dir);
}

Result<Endpoint> parse_chirp_url(const std::string& url) {
  const std::string scheme = "chirp://";
  if (url.compare(0, scheme.size(), scheme) != 0)
    return make_error(Errc::kInvalidArgument,
                      "Chirp URL '" + url + "' must start with chirp:// (chirp://HOST:PORT[/DIR])");
  std::string rest = url.substr(scheme.size());
  std::string hostport = rest.substr(0, rest.find('/'));
  Endpoint ep;
  if (rest.find('/') != std::string::npos) ep.dir = rest.substr(rest.find('/') + 1);
  while (!ep.dir.empty() && ep.dir.back() == '/') ep.dir.pop_back();
  size_t colon;
  if (!hostport.empty() && hostport[0] == '[') {
    size_t close = hostport.find(']');
    if (close == std::string::npos)
      return make_error(Errc::kInvalidArgument, "Chirp URL '" + url + "': unclosed [");
    ep.host = hostport.substr(1, close - 1);
    colon =
        close + 1 < hostport.size() && hostport[close + 1] == ':' ? close + 1 : std::string::npos;
  } else {
    colon = hostport.rfind(':');
    ep.host = hostport.substr(0, colon);
  }
  if (ep.host.empty())
    return make_error(Errc::kInvalidArgument, "Chirp URL '" + url + "' has no host");
  if (colon == std::string::npos) {
    ep.port = 9094;  // cctools' default port
  } else {
    auto p = parse_int(hostport.substr(colon + 1), 1, 65535);
    if (!p) return make_error(Errc::kInvalidArgument, "Chirp URL '" + url + "': bad port");
    ep.port = static_cast<uint16_t>(*p);
  }
  return ep;
}

Result<Endpoint> parse_chirp_config(std::string_view text, const std::string& what) {
  size_t nl = text.find('\n');
  if (nl != std::string_view::npos) text = text.substr(0, nl);
  std::string words[3];
  size_t n = 0, pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\r')) ++pos;
    if (pos == text.size()) break;
    size_t end = pos;
    while (end < text.size() && text[end] != ' ' && text[end] != '\t' && text[end] != '\r') ++end;
    if (n == 3)
      return make_error(Errc::kInvalidArgument, what + ": expected '<host> <port> <cookie>'");
    words[n++] = std::string(text.substr(pos, end - pos));
    pos = end;
  }
  if (n != 3)
    return make_error(Errc::kInvalidArgument, what + ": expected '<host> <port> <cookie>'");
  auto port = parse_int(words[1], 1, 65535);
  if (!port) return make_error(Errc::kInvalidArgument, what + ": bad port '" + words[1] + "'");
  if (words[2].size() > 256)
    return make_error(Errc::kInvalidArgument, what + ": cookie longer than 256 characters");
  for (char c : words[2]) {
    if (c < 0x21 || c > 0x7e)
      return make_error(Errc::kInvalidArgument, what + ": cookie holds a non-printable byte");
  }
  Endpoint ep;
  ep.host = words[0];
  ep.port = static_cast<uint16_t>(*port);
  ep.cookie = words[2];
  ep.methods.clear();
  ep.kind = PeerKind::kCondorProxy;
  ep.escaping = Escaping::kBackslash;
  return ep;
}

Result<Endpoint> read_chirp_config(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd)
    return sys_error("open Chirp config " + path +
                     " (is $_CONDOR_CHIRP_CONFIG set, and did the job ask for +WantIOProxy?)");
  char buf[1024];
  auto n = read_all(fd.get(), std::as_writable_bytes(std::span(buf)));
  if (!n) return sys_error(n.error().sys_errno, "read Chirp config " + path);
  return parse_chirp_config(std::string_view(buf, *n), "Chirp config " + path);
}

}  // namespace ringbox::chirp
