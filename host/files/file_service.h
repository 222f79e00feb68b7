// FileService: the host's implementation of the file opcodes (32..54 of ringbox_proto.h, whose
// paragraphs are the contract) over one job's files and access policy.
//
// It is the part every file back end shares (file_backend.h): decoding and checking guest
// requests, symlink-free lookup through the back end, the job's policy (checked before anything
// is acted on or relayed), the handle table, the putfile staging rules, the setuid/setgid rule,
// and the mapping of errors to the wire. The back end (ExportBackend: a local directory;
// ChirpBackend: a Chirp client) does the file-system work on the checked, symlink-free paths.
//
// Trust: the guest is hostile. Every path or name the service interprets is copied out of the
// request buffer (SharedBytes::copy_string) and checked on the copy (proto::decode_*); file
// bytes move straight between the ring's data area and the file (pread into req.out, pwrite
// from req.in.opaque()), never interpreted. Every length is bounded by the buffer it refers to.
// Lookups are confined by the back end (FileBackend::lookup: symlinks expanded inside the root
// only) and allowed by Policy, checked on the symlink-free path that the back end then acts on
// without following anything. Errors reach the guest as WireErrors via proto::to_wire_error().
//
// Lifetime: one FileService per connection. Its handle table (open files) and putfile stage
// (unfinished uploads) belong to that connection: end_connection(), or destruction, closes
// every handle and discards every unfinished upload. Thread-safe: handle() may run on many
// server workers at once.
//
// Modes (v2): permission bits reach the back end exactly as asked (it applies no umask; see
// ExportBackend for how), except that setuid and setgid are cleared here, before anything is
// created or changed, and the host logs that it did; the sticky bit is kept.
//
// Callers: HostHandler routes opcodes 32..54 here; `ringbox-host run` builds one per job from
// the job's export directory and policy.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>

#include "host/files/file_backend.h"
#include "host/files/handle_table.h"
#include "host/files/policy.h"
#include "host/files/putfile_stage.h"
#include "shared/protocol/codec.h"
#include "shared/rpc/handler.h"

namespace ringbox::host::files {

inline constexpr uint32_t kDefaultMaxOpenFiles = 1024;      // per connection (wire contract)
inline constexpr uint32_t kDefaultMaxPendingPutfiles = 64;  // per connection (wire contract)

struct FileServiceConfig {
  // The back end. When null, an ExportBackend on export_dir (with putfile_named_temp).
  std::shared_ptr<FileBackend> backend;
  std::string export_dir;               // the job's files; must exist
  Policy policy = Policy::read_only();  // default: read the whole export, write nothing
  uint32_t max_open_files = kDefaultMaxOpenFiles;
  uint32_t max_pending_putfiles = kDefaultMaxPendingPutfiles;
  // Stage uploads under a hidden ".ringbox-put.*" name instead of an O_TMPFILE inode. Chosen
  // automatically on file systems without O_TMPFILE; tests set it to cover that path.
  bool putfile_named_temp = false;
};

class FileService final : public rpc::Handler {
 public:
  // Opens the back end (the export: checking openat2 and /proc/self/fd), and prepares the
  // process: SIGXFSZ
  // is ignored (a guest write past RLIMIT_FSIZE must be EFBIG, not a killed host) and the fd
  // soft limit is raised to cover max_open_files.
  static Result<std::unique_ptr<FileService>> create(FileServiceConfig cfg);
  ~FileService() override;

  // True for the opcodes this service answers (32..54).
  static bool owns_opcode(uint16_t opcode);
  // Answers one file request; any other opcode is kNoSys. Never throws.
  rpc::Reply handle(const rpc::Request& req) override;
  // The connection ended: close every handle, discard every unfinished upload.
  void end_connection();

  size_t open_handles() const { return handles_.size(); }
  size_t pending_putfiles() const { return uploads_.size(); }
  FileBackend& backend() const { return *backend_; }
  const Policy& policy() const { return policy_; }

 private:
  // A directory found by lookup (followed) and one name to act on inside it.
  struct Parent {
    std::string dir_path;  // canonical, symlink-free
    std::string name;      // one valid component
    std::string path() const;
  };

  FileService(std::shared_ptr<FileBackend> backend, FileServiceConfig cfg);
  Result<rpc::Reply> dispatch(const rpc::Request& req);

  // handle opcodes (file_service.cc)
  Result<rpc::Reply> do_open(const rpc::Request& req);
  Result<rpc::Reply> do_close(const rpc::Request& req);
  Result<rpc::Reply> do_pread(const rpc::Request& req);
  Result<rpc::Reply> do_pwrite(const rpc::Request& req);
  Result<rpc::Reply> do_fstat(const rpc::Request& req);
  Result<rpc::Reply> do_fsync(const rpc::Request& req);
  Result<rpc::Reply> do_ftruncate(const rpc::Request& req);
  Result<rpc::Reply> do_fallocate(const rpc::Request& req);
  // path opcodes (path_ops.cc)
  Result<rpc::Reply> do_stat(const rpc::Request& req, Follow follow);
  Result<rpc::Reply> do_readdir(const rpc::Request& req);
  Result<rpc::Reply> do_mkdir(const rpc::Request& req);
  Result<rpc::Reply> do_remove(const rpc::Request& req, bool directory);
  Result<rpc::Reply> do_rename(const rpc::Request& req);
  Result<rpc::Reply> do_truncate(const rpc::Request& req);
  Result<rpc::Reply> do_readlink(const rpc::Request& req);
  Result<rpc::Reply> do_symlink(const rpc::Request& req);
  // metadata opcodes, v2 (metadata_ops.cc)
  Result<rpc::Reply> do_setattr(const rpc::Request& req);
  Result<rpc::Reply> do_link(const rpc::Request& req);
  Result<rpc::Reply> do_statfs(const rpc::Request& req);
  // whole-file opcodes (whole_file_ops.cc)
  Result<rpc::Reply> do_getfile(const rpc::Request& req);
  Result<rpc::Reply> do_putfile(const rpc::Request& req);

  // EACCES unless the policy grants access to path (a canonical, symlink-free path).
  Result<void> check(std::string_view path, Access access, const char* op) const;
  // Read access, or (for stat/readdir) a directory on the way to something readable.
  Result<void> check_lookup(std::string_view path, const char* op) const;
  Result<std::shared_ptr<OpenFile>> lookup_handle(uint64_t handle) const;
  // The back end's lookup, except that a path through a reserved name (lexically or by a
  // symlink) answers ENOENT where the back end says ENOTDIR: the job must not learn that the
  // name exists (docs/file-service.md, "Policy").
  Result<Lookup> lookup(std::string_view path, Follow follow) const;
  // The directory holding path's last component (symlinks followed) and that component.
  // EINVAL for "." (the root has no parent), ENOTDIR when the parent is not a directory
  // (ENOENT when it is a reserved name).
  Result<Parent> lookup_parent(std::string_view path) const;
  // For the two-path opcodes (rename, link): both paths through their parents (lookup_parent's
  // errors), each checked for write access (check's EACCES, saying from_op or to_op).
  // Returns the two symlink-free paths to act on.
  Result<proto::RenamePaths> writable_pair(const proto::RenamePaths& paths, const char* from_op,
                                           const char* to_op) const;
  // The bits to store for requested permission bits: setuid and setgid cleared, and logged
  // (the first kMaxModeNotes times per connection, then once that further ones are not).
  mode_t storable_mode(mode_t requested, std::string_view path, const char* op) const;

  const std::shared_ptr<FileBackend> backend_;
  const Policy policy_;
  HandleTable handles_;   // files of backend_: declared after it, closed before it
  PutfileStage uploads_;  // uploads of backend_: declared after it, discarded before it
  mutable std::atomic<uint32_t> mode_notes_{0};
};

}  // namespace ringbox::host::files
