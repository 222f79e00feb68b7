#include "guest/job/wire_meta.h"

#include <string>
#include <vector>

#include "shared/protocol/codec.h"

namespace ringbox::guest::job {
namespace {

int64_t ns_of(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

Result<void> checked_call(rpc::Client& client, const rpc::Call& c, const char* what,
                          std::string_view path) {
  auto r = client.call(c);
  if (!r) return std::move(r.error());
  if (!r->ok())
    return Error{Errc::kRemote, proto::errno_from_wire_status(r->status),
                 std::string(what) + " '" + std::string(path) + "' on the host"};
  return ok();
}

}  // namespace

Result<void> remote_setattr(rpc::Client& client, std::string_view path, uint32_t valid, mode_t mode,
                            const struct timespec& atime, const struct timespec& mtime) {
  proto::WireSetattr head{};
  head.valid = valid;
  head.mode = mode & 07777;
  head.atime_ns = ns_of(atime);
  head.mtime_ns = ns_of(mtime);
  std::vector<std::byte> buf(sizeof(head) + path.size());
  auto n = proto::encode_setattr(head, path, buf);
  if (!n) return std::move(n.error());
  std::span<const std::byte> in = std::span(buf).first(*n);
  // Room for the WireStat the host may send back (unused here).
  std::vector<std::byte> out(sizeof(proto::WireStat));
  rpc::Call c;
  c.opcode = proto::Opcode::kSetattr;
  c.in = in;
  c.out = out;
  return checked_call(client, c, "set the mode and times of", path);
}

Result<void> remote_link(rpc::Client& client, std::string_view existing,
                         std::string_view link_path) {
  std::vector<std::byte> in(existing.size() + link_path.size());
  auto n = proto::encode_link(existing, link_path, in);
  if (!n) return std::move(n.error());
  rpc::Call c;
  c.opcode = proto::Opcode::kLink;
  c.arg[0] = existing.size();
  c.in = std::span(in).first(*n);
  return checked_call(client, c, "link", link_path);
}

}  // namespace ringbox::guest::job
