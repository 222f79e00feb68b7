#include "host/files/request_decode.h"

#include <cerrno>
#include <cstdint>

namespace ringbox::host::files {
namespace {

Error bad(int err, std::string what) {
  return Error{Errc::kProtocol, err, std::move(what)};
}

// Bounds a payload before it is copied, so a guest cannot make the host allocate more than
// the contract allows for a path-carrying payload.
Result<void> check_payload_size(size_t size, size_t max, const char* what) {
  if (size == 0) return bad(EINVAL, std::string(what) + " payload is empty");
  if (size > max)
    return bad(ENAMETOOLONG, std::string(what) + " payload is " + std::to_string(size) +
                                 " bytes, more than " + std::to_string(max));
  return ok();
}

}  // namespace

Result<std::string> copy_path(const rpc::SharedBytes& in) {
  RINGBOX_TRY(check_payload_size(in.size(), proto::kMaxPathBytes, "path"));
  // copied before the check: the guest can rewrite the buffer at any moment
  std::string untrusted = in.copy_string(0, in.size());
  return proto::decode_path(untrusted);
}

Result<std::string> copy_path_prefix(const rpc::SharedBytes& in, size_t len) {
  if (len > in.size())
    return bad(EINVAL, "path length " + std::to_string(len) + " exceeds the " +
                           std::to_string(in.size()) + "-byte payload");
  RINGBOX_TRY(check_payload_size(len, proto::kMaxPathBytes, "path"));
  std::string untrusted = in.copy_string(0, len);  // copied before the check
  return proto::decode_path(untrusted);
}

Result<proto::RenamePaths> copy_rename(const rpc::SharedBytes& in, uint64_t untrusted_first_len) {
  RINGBOX_TRY(check_payload_size(in.size(), 2 * size_t{proto::kMaxPathBytes}, "rename"));
  std::string untrusted = in.copy_string(0, in.size());  // copied before the check
  return proto::decode_rename(untrusted, untrusted_first_len);
}

Result<proto::SymlinkPaths> copy_symlink(const rpc::SharedBytes& in, uint64_t untrusted_first_len) {
  RINGBOX_TRY(check_payload_size(in.size(), 2 * size_t{proto::kMaxPathBytes}, "symlink"));
  std::string untrusted = in.copy_string(0, in.size());  // copied before the check
  return proto::decode_symlink(untrusted, untrusted_first_len);
}

Result<proto::LinkPaths> copy_link(const rpc::SharedBytes& in, uint64_t untrusted_first_len) {
  RINGBOX_TRY(check_payload_size(in.size(), 2 * size_t{proto::kMaxPathBytes}, "link"));
  std::string untrusted = in.copy_string(0, in.size());  // copied before the check
  return proto::decode_link(untrusted, untrusted_first_len);
}

Result<proto::SetattrRequest> copy_setattr(const rpc::SharedBytes& in, bool by_handle) {
  constexpr size_t kHead = sizeof(proto::WireSetattr);
  if (in.size() < kHead || (by_handle && in.size() != kHead))
    return bad(EINVAL, "setattr payload of " + std::to_string(in.size()) + " bytes is not a " +
                           std::to_string(kHead) + "-byte WireSetattr" +
                           (by_handle ? " (exactly, by handle)" : " and a path"));
  if (in.size() > kHead + proto::kMaxPathBytes)
    return bad(ENAMETOOLONG, "setattr path is " + std::to_string(in.size() - kHead) +
                                 " bytes, more than " + std::to_string(proto::kMaxPathBytes));
  std::string untrusted = in.copy_string(0, in.size());  // copied before the check
  return proto::decode_setattr(untrusted, by_handle);
}

Result<off_t> wire_offset(uint64_t untrusted, const char* what) {
  if (untrusted > static_cast<uint64_t>(INT64_MAX))
    return bad(EINVAL, std::string(what) + " " + std::to_string(untrusted) +
                           " is beyond the largest file offset");
  return static_cast<off_t>(untrusted);
}

Result<void> check_extent(off_t offset, size_t len) {
  if (len > static_cast<uint64_t>(INT64_MAX - offset))
    return bad(EINVAL, "offset " + std::to_string(offset) + " + length " + std::to_string(len) +
                           " is beyond the largest file offset");
  return ok();
}

Result<void> check_no_flags(const rpc::Request& req) {
  if (req.flags != 0)
    return bad(EPROTO, "flags " + std::to_string(req.flags) + " set on opcode " +
                           std::to_string(req.opcode) + ", which defines none");
  return ok();
}

Result<mode_t> wire_mode(uint64_t untrusted, const char* what) {
  auto m = proto::decode_mode(untrusted);
  if (!m) return bad(EINVAL, std::string(what) + ": " + m.error().message());
  return static_cast<mode_t>(*m);
}

}  // namespace ringbox::host::files
