// FileService: set-up, dispatch, and the opcodes that work on an open handle.
#include "host/files/file_service.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <new>

#include "host/files/export_backend.h"
#include "host/files/request_decode.h"
#include "shared/path/wire_path.h"
#include "shared/util/log.h"

namespace ringbox::host::files {

using proto::Opcode;
using rpc::Reply;
using rpc::Request;

namespace {

// Process-wide preparation; idempotent, so several services (or tests) may run it.
void prepare_process(const FileServiceConfig& cfg) {
  // A guest pwrite or ftruncate past RLIMIT_FSIZE would raise SIGXFSZ, whose default action
  // kills the host. Ignored, the call fails with EFBIG and the guest gets kFBig.
  struct sigaction old {};
  if (::sigaction(SIGXFSZ, nullptr, &old) == 0 && old.sa_handler == SIG_DFL)
    ::signal(SIGXFSZ, SIG_IGN);
  // Each open handle and unfinished upload holds an fd; Debian's default soft limit (1024)
  // would make the table's limit unreachable. Raise the soft limit as far as the hard one.
  const rlim_t want = rlim_t{cfg.max_open_files} + cfg.max_pending_putfiles * 2 + 256;
  struct rlimit lim {};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
      lim.rlim_cur < want) {
    lim.rlim_cur = (lim.rlim_max == RLIM_INFINITY || lim.rlim_max >= want) ? want : lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur < want)
      log::warn("open file limit " + std::to_string(lim.rlim_cur) + " is below the " +
                std::to_string(want) +
                " the file service may need; guests will see kMFile "
                "earlier (raise `ulimit -n`)");
  }
}

}  // namespace

Result<std::unique_ptr<FileService>> FileService::create(FileServiceConfig cfg) {
  if (cfg.max_open_files == 0 || cfg.max_open_files > (1u << 20))
    return make_error(Errc::kInvalidArgument,
                      "max_open_files must be 1.." + std::to_string(1u << 20));
  std::shared_ptr<FileBackend> backend = std::move(cfg.backend);
  if (!backend) {
    auto exp = ExportBackend::create(cfg.export_dir, cfg.putfile_named_temp);
    if (!exp) return std::move(exp.error());
    backend = std::move(*exp);
  }
  prepare_process(cfg);
  log::info("file service on " + backend->describe() + ", " + cfg.policy.describe());
  return std::unique_ptr<FileService>(new FileService(std::move(backend), std::move(cfg)));
}

FileService::FileService(std::shared_ptr<FileBackend> backend, FileServiceConfig cfg)
    : backend_(std::move(backend)),
      policy_(std::move(cfg.policy)),
      handles_(cfg.max_open_files),
      uploads_(cfg.max_pending_putfiles) {}

FileService::~FileService() {
  end_connection();
}

void FileService::end_connection() {
  uploads_.clear();
  handles_.clear();
}

bool FileService::owns_opcode(uint16_t opcode) {
  return opcode >= static_cast<uint16_t>(Opcode::kOpen) &&
         opcode <= static_cast<uint16_t>(Opcode::kFallocate);
}

Reply FileService::handle(const Request& req) {
  try {
    auto r = dispatch(req);
    if (r) return *r;
    // debug, not warn: a hostile guest could otherwise flood the host's log
    log::debug("file request " + std::to_string(req.id) + " (opcode " + std::to_string(req.opcode) +
               ") refused: " + r.error().message());
    return Reply::error(proto::to_wire_error(r.error()));
  } catch (const std::bad_alloc&) {
    return Reply::error(proto::WireError::kNoMem);
  } catch (...) {
    log::error("file request " + std::to_string(req.id) + " (opcode " + std::to_string(req.opcode) +
               ") threw; answered kIo");
    return Reply::error(proto::WireError::kIo);
  }
}

Result<Reply> FileService::dispatch(const Request& req) {
  if (!owns_opcode(req.opcode)) return Reply::error(proto::WireError::kNoSys);
  const auto op = static_cast<Opcode>(req.opcode);
  if (op == Opcode::kPutfile) return do_putfile(req);  // the one file opcode with flags
  RINGBOX_TRY(check_no_flags(req));
  switch (op) {
    case Opcode::kOpen:
      return do_open(req);
    case Opcode::kClose:
      return do_close(req);
    case Opcode::kPread:
      return do_pread(req);
    case Opcode::kPwrite:
      return do_pwrite(req);
    case Opcode::kFstat:
      return do_fstat(req);
    case Opcode::kStat:
      return do_stat(req, Follow::kYes);
    case Opcode::kLstat:
      return do_stat(req, Follow::kNo);
    case Opcode::kReaddir:
      return do_readdir(req);
    case Opcode::kMkdir:
      return do_mkdir(req);
    case Opcode::kRmdir:
      return do_remove(req, true);
    case Opcode::kUnlink:
      return do_remove(req, false);
    case Opcode::kRename:
      return do_rename(req);
    case Opcode::kTruncate:
      return do_truncate(req);
    case Opcode::kFsync:
      return do_fsync(req);
    case Opcode::kReadlink:
      return do_readlink(req);
    case Opcode::kSymlink:
      return do_symlink(req);
    case Opcode::kGetfile:
      return do_getfile(req);
    case Opcode::kFtruncate:
      return do_ftruncate(req);
    case Opcode::kSetattr:
      return do_setattr(req);
    case Opcode::kLink:
      return do_link(req);
    case Opcode::kStatfs:
      return do_statfs(req);
    case Opcode::kFallocate:
      return do_fallocate(req);
    default:
      return Reply::error(proto::WireError::kNoSys);
  }
}

Result<void> FileService::check(std::string_view path, Access access, const char* op) const {
  if (policy_.allows(path, access)) return ok();
  // A reserved name is not the job's: to a lookup it is not there, as it is not listed (a
  // create or a rename onto it still says EACCES, since the name cannot be made the job's).
  if (access == Access::kRead && policy_.reserved(path))
    return sys_error(ENOENT, std::string("cannot ") + op + " '" + printable(path) +
                                 "': the name is ringbox's (vacate's files, docs/vacate.md), "
                                 "hidden from the job");
  return sys_error(EACCES, std::string("job policy refuses to ") + op + " '" + printable(path) +
                               "' (" + (access == Access::kWrite ? "write" : "read") +
                               " access needed)");
}

Result<void> FileService::check_lookup(std::string_view path, const char* op) const {
  if (policy_.allows(path, Access::kRead) || policy_.leads_to_readable(path)) return ok();
  return check(path, Access::kRead, op);
}

Result<std::shared_ptr<OpenFile>> FileService::lookup_handle(uint64_t handle) const {
  auto f = handles_.get(handle);
  if (!f) return sys_error(EBADF, "no open file with handle " + std::to_string(handle));
  return f;
}

std::string FileService::Parent::path() const {
  return proto::join_wire_path(dir_path, name);
}

namespace {
Error hidden_reserved(std::string_view path) {
  return sys_error(ENOENT, "no such file or directory: '" + printable(path) +
                               "' (a name on its way is ringbox's, hidden from the job)");
}
}  // namespace

Result<Lookup> FileService::lookup(std::string_view path, Follow follow) const {
  auto r = backend_->lookup(path, follow);
  if (r || r.error().sys_errno != ENOTDIR || !policy_.has_reserved()) return r;
  // Which name on the way is not a directory? One more walk, only on this error path.
  auto not_dir = backend_->not_directory_on_way(path, follow);
  if (not_dir && policy_.reserved(*not_dir)) return hidden_reserved(path);
  return r;
}

Result<FileService::Parent> FileService::lookup_parent(std::string_view path) const {
  if (path == ".")
    return sys_error(EINVAL,
                     "the export root has no parent: it cannot be created, removed, "
                     "renamed, replaced or linked");
  proto::ParentAndName pn = proto::split_wire_path(path);
  auto d = lookup(pn.parent, Follow::kYes);
  if (!d) return std::move(d.error());
  if (!S_ISDIR(d->st.st_mode)) {
    if (policy_.reserved(d->path)) return hidden_reserved(path);
    return sys_error(ENOTDIR, "'" + printable(d->path) + "' is not a directory");
  }
  return Parent{std::move(d->path), std::move(pn.name)};
}

Result<proto::RenamePaths> FileService::writable_pair(const proto::RenamePaths& paths,
                                                      const char* from_op,
                                                      const char* to_op) const {
  auto from = lookup_parent(paths.from);
  if (!from) return std::move(from.error());
  auto to = lookup_parent(paths.to);
  if (!to) return std::move(to.error());
  proto::RenamePaths found{from->path(), to->path()};
  RINGBOX_TRY(check(found.from, Access::kWrite, from_op));
  RINGBOX_TRY(check(found.to, Access::kWrite, to_op));
  return found;
}

namespace {
constexpr uint32_t kMaxModeNotes = 32;  // per connection: a hostile guest cannot flood the log
}  // namespace

mode_t FileService::storable_mode(mode_t requested, std::string_view path, const char* op) const {
  const mode_t kept = requested & ~mode_t{S_ISUID | S_ISGID};
  if (kept != requested) {
    const uint32_t n = mode_notes_.fetch_add(1, std::memory_order_relaxed);
    if (n < kMaxModeNotes)
      log::info(std::string(op) + " '" + printable(path) + "': cleared setuid/setgid from mode 0" +
                std::to_string((requested >> 9) & 7) + std::to_string((requested >> 6) & 7) +
                std::to_string((requested >> 3) & 7) + std::to_string(requested & 7) +
                " (a job's file never becomes a privileged program on this machine)");
    else if (n == kMaxModeNotes)
      log::info("further setuid/setgid bits cleared on this connection are not logged");
  }
  return kept;
}

// ---- kOpen and the handle opcodes -------------------------------------------------------------

Result<Reply> FileService::do_open(const Request& req) {
  auto intent = proto::decode_open_flags(req.arg[0]);
  if (!intent) return std::move(intent.error());
  auto path = copy_path(req.in);
  if (!path) return std::move(path.error());
  mode_t create_mode = 0;
  if (intent->create) {
    auto m = wire_mode(req.arg[1], "open mode");
    if (!m) return std::move(m.error());
    create_mode = *m;
  }
  const bool wants_write = intent->write || intent->create || intent->truncate || intent->append;
  OpenMode how;
  how.read = intent->read;
  how.write = intent->write;
  how.truncate = intent->truncate;
  how.append = intent->append;
  how.directory = intent->directory;

  std::unique_ptr<BackendFile> file;
  std::string where = *path;
  if (intent->create) {
    auto parent = lookup_parent(*path);
    if (!parent) return std::move(parent.error());
    where = parent->path();
    RINGBOX_TRY(check(where, Access::kWrite, "create"));
    auto made = backend_->create(where, how, storable_mode(create_mode, where, "create"));
    if (made) {
      file = std::move(*made);
    } else if (made.error().sys_errno != EEXIST || intent->exclusive) {
      return std::move(made.error());
    }
    // EEXIST without exclusive: open the existing file below (through a final symlink, as
    // open(2) would).
  }
  if (!file) {
    auto r = lookup(where, Follow::kYes);
    if (!r) return std::move(r.error());
    RINGBOX_TRY(check(r->path, wants_write ? Access::kWrite : Access::kRead, "open"));
    if (intent->directory && !S_ISDIR(r->st.st_mode))
      return sys_error(ENOTDIR, "open '" + printable(r->path) + "' as a directory");
    auto opened = backend_->open(r->path, how);
    if (!opened) return std::move(opened.error());
    file = std::move(*opened);
    where = std::move(r->path);
  }
  auto st = file->fstat();
  if (!st) return std::move(st.error());
  auto entry = std::make_shared<OpenFile>();
  entry->file = std::move(file);
  entry->readable = intent->read;
  entry->writable = intent->write;
  entry->directory = S_ISDIR(st->st_mode);
  entry->path = where;
  auto handle = handles_.insert(std::move(entry));
  if (!handle) return std::move(handle.error());
  Reply rep;
  rep.val[0] = *handle;
  if (req.out.size() >= sizeof(proto::WireStat)) {
    auto n = proto::encode_wire_stat(proto::wire_stat_from(*st), req.out);
    if (n) rep.out_len = static_cast<uint32_t>(*n);
  }
  return rep;
}

Result<Reply> FileService::do_close(const Request& req) {
  if (!handles_.remove(req.arg[0]))
    return sys_error(EBADF, "close: no open file with handle " + std::to_string(req.arg[0]));
  return Reply{};
}

Result<Reply> FileService::do_pread(const Request& req) {
  auto f = lookup_handle(req.arg[0]);
  if (!f) return std::move(f.error());
  if ((*f)->directory) return sys_error(EISDIR, "pread from a directory handle");
  if (!(*f)->readable) return sys_error(EBADF, "pread from a handle not opened for reading");
  auto offset = wire_offset(req.arg[1], "pread offset");
  if (!offset) return std::move(offset.error());
  if (req.arg[2] > req.out.size())
    return sys_error(EINVAL, "pread length " + std::to_string(req.arg[2]) + " exceeds the " +
                                 std::to_string(req.out.size()) + "-byte buffer");
  const size_t len = static_cast<size_t>(req.arg[2]);
  RINGBOX_TRY(check_extent(*offset, len));
  // Straight into the data area: file bytes are opaque to the host, no staging copy.
  auto n = (*f)->file->pread(req.out.first(len), *offset);
  if (!n) return std::move(n.error());
  Reply rep;
  rep.out_len = static_cast<uint32_t>(*n);
  rep.val[0] = *n;
  return rep;
}

Result<Reply> FileService::do_pwrite(const Request& req) {
  auto f = lookup_handle(req.arg[0]);
  if (!f) return std::move(f.error());
  if (!(*f)->writable) return sys_error(EBADF, "pwrite to a handle not opened for writing");
  auto offset = wire_offset(req.arg[1], "pwrite offset");
  if (!offset) return std::move(offset.error());
  auto data = req.in.opaque();  // opaque file bytes: straight from the data area to the file
  RINGBOX_TRY(check_extent(*offset, data.size()));
  auto n = (*f)->file->pwrite(data, *offset);
  if (!n) return std::move(n.error());
  Reply rep;
  rep.val[0] = *n;
  return rep;
}

Result<Reply> FileService::do_fstat(const Request& req) {
  auto f = lookup_handle(req.arg[0]);
  if (!f) return std::move(f.error());
  auto st = (*f)->file->fstat();
  if (!st) return std::move(st.error());
  auto n = proto::encode_wire_stat(proto::wire_stat_from(*st), req.out);
  if (!n) return std::move(n.error());
  Reply rep;
  rep.out_len = static_cast<uint32_t>(*n);
  return rep;
}

Result<Reply> FileService::do_fsync(const Request& req) {
  auto f = lookup_handle(req.arg[0]);
  if (!f) return std::move(f.error());
  RINGBOX_TRY((*f)->file->fsync());
  return Reply{};
}

Result<Reply> FileService::do_fallocate(const Request& req) {
  auto offset = wire_offset(req.arg[1], "fallocate offset");
  if (!offset) return std::move(offset.error());
  auto length = wire_offset(req.arg[2], "fallocate length");
  if (!length) return std::move(length.error());
  if (*length == 0) return sys_error(EINVAL, "fallocate length is 0");
  RINGBOX_TRY(check_extent(*offset, static_cast<size_t>(*length)));
  auto mode = proto::posix_fallocate_mode_from_wire(req.arg[3]);
  if (!mode) return std::move(mode.error());
  auto f = lookup_handle(req.arg[0]);
  if (!f) return std::move(f.error());
  if (!(*f)->writable) return sys_error(EBADF, "fallocate a handle not opened for writing");
  // EOPNOTSUPP reaches the guest as kOpNotSupp: it falls back as posix_fallocate(3) does.
  RINGBOX_TRY((*f)->file->fallocate(*mode, *offset, *length));
  return Reply{};
}

Result<Reply> FileService::do_ftruncate(const Request& req) {
  auto f = lookup_handle(req.arg[0]);
  if (!f) return std::move(f.error());
  if (!(*f)->writable) return sys_error(EBADF, "ftruncate a handle not opened for writing");
  auto size = wire_offset(req.arg[1], "ftruncate size");
  if (!size) return std::move(size.error());
  RINGBOX_TRY((*f)->file->ftruncate(*size));
  return Reply{};
}

}  // namespace ringbox::host::files
