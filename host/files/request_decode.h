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

// kLink (v2): existing path then new path.
Result<proto::LinkPaths> copy_link(const rpc::SharedBytes& in, uint64_t untrusted_first_len);
// kSetattr (v2): WireSetattr then the path (none when by_handle).
Result<proto::SetattrRequest> copy_setattr(const rpc::SharedBytes& in, bool by_handle);

// A file offset or size: EINVAL above INT64_MAX.
Result<off_t> wire_offset(uint64_t untrusted, const char* what);
// offset + len must stay within off_t (EINVAL), so offset arithmetic cannot overflow.
Result<void> check_extent(off_t offset, size_t len);
// flags must be zero for every file opcode but kPutfile (EPROTO, like a reserved field).
Result<void> check_no_flags(const rpc::Request& req);
// Permission bits of a create or kSetattr (v2 "Modes"): 0..07777, else EINVAL. Whether setuid
// and setgid survive is FileService's rule (they never do), not the decoder's.
Result<mode_t> wire_mode(uint64_t untrusted, const char* what);

}  // namespace ringbox::host::files
