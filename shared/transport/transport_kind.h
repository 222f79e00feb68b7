// Which transport carries the protocol: the --transport option of ringbox-host, ringbox-agent
// and ringbox-bench, and the root service's policy key "transport".
//   kLocal  a memfd ring between two processes on one machine (transport/local; isolates
//           nothing: tests and development)
//   kTcp    the messages framed over a TCP stream (transport/tcp; the network baseline)
//   kXen    granted pages between a domU and dom0 (transport/xen)
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace ringbox {

enum class Transport { kLocal, kTcp, kXen };

// "local", "tcp", "xen": the names options, policies and logs use.
std::string transport_name(Transport t);
// The Transport a name stands for; nullopt for anything else (case and spaces count).
std::optional<Transport> parse_transport(std::string_view name);

// Stream forms of the names, for boost::program_options: >> sets failbit on an unknown name.
std::istream& operator>>(std::istream& in, Transport& t);
std::ostream& operator<<(std::ostream& out, Transport t);

}  // namespace ringbox
