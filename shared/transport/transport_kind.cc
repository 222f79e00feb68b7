#include "shared/transport/transport_kind.h"

#include <istream>
#include <ostream>
#include <utility>

namespace ringbox {

namespace {

constexpr std::pair<Transport, std::string_view> kNames[] = {
    {Transport::kLocal, "local"}, {Transport::kTcp, "tcp"}, {Transport::kXen, "xen"}};

}  // namespace

std::string transport_name(Transport t) {
  for (const auto& [kind, name] : kNames)
    if (kind == t) return std::string(name);
  return "?";
}

std::optional<Transport> parse_transport(std::string_view name) {
  for (const auto& [kind, known] : kNames)
    if (known == name) return kind;
  return std::nullopt;
}

std::istream& operator>>(std::istream& in, Transport& t) {
  std::string word;
  if (!(in >> word)) return in;
  if (auto parsed = parse_transport(word))
    t = *parsed;
  else
    in.setstate(std::ios::failbit);
  return in;
}

std::ostream& operator<<(std::ostream& out, Transport t) {
  return out << transport_name(t);
}

}  // namespace ringbox
