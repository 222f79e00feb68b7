// The copy-and-check barrier of the file service: turns the untrusted parts of an rpc::Request
// (payload paths, offsets, sizes, modes) into checked values. Nothing here touches the file
// system. Every payload byte the service interprets is copied out of shared memory here, once,
// before any check (the guest can rewrite the buffer at any moment); the copy is what is
// checked and used.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "shared/protocol/codec.h"
#include "shared/rpc/handler.h"

namespace ringbox::host::files {

// The whole payload as one wire path (copied, then proto::decode_path).
Result<std::string> copy_path(const rpc::SharedBytes& in);
// The first len bytes of the payload as a wire path (kPutfile). len <= in.size() is checked.
Result<std::string> copy_path_prefix(const rpc::SharedBytes& in, size_t len);
// The whole payload as two strings split at untrusted_first_len (kRename).
Result<proto::RenamePaths> copy_rename(const rpc::SharedBytes& in, uint64_t untrusted_first_len);
// kSymlink: link target then link path.
Result<proto::SymlinkPaths> copy_symlink(const rpc::SharedBytes& in, uint64_t untrusted_first_len);

// A file offset or size: EINVAL above INT64_MAX.
Result<off_t> wire_offset(uint64_t untrusted, const char* what);
// offset + len must stay within off_t (EINVAL), so offset arithmetic cannot overflow.
Result<void> check_extent(off_t offset, size_t len);
// flags must be zero for every file opcode but kPutfile (EPROTO, like a reserved field).
Result<void> check_no_flags(const rpc::Request& req);
// Permission bits for a new file or directory: 0777 only, never setuid/setgid/sticky (a
// guest-made setuid file would be a privilege on the host).
mode_t wire_mode(uint64_t untrusted);

}  // namespace ringbox::host::files
