// FileService: set-up, dispatch, and the opcodes that work on an open handle.
#include "host/files/file_service.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <new>

#include "host/files/file_io.h"
#include "host/files/lexical_path.h"
#include "host/files/request_decode.h"
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
  auto root = ExportRoot::open(cfg.export_dir);
  if (!root) return std::move(root.error());
  prepare_process(cfg);
  log::info("file service on '" + cfg.export_dir + "', " + cfg.policy.describe());
  return std::unique_ptr<FileService>(new FileService(std::move(*root), std::move(cfg)));
}

FileService::FileService(ExportRoot root, FileServiceConfig cfg)
    : root_(std::move(root)),
      policy_(std::move(cfg.policy)),
      handles_(cfg.max_open_files),
      uploads_(root_, cfg.max_pending_putfiles, cfg.putfile_named_temp) {}

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

Result<void> FileService::set_exact_mode(int fd, mode_t mode, std::string_view path) const {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return sys_error("stat '" + printable(path) + "'");
  if ((st.st_mode & 07777) == mode) return ok();
  if (S_ISLNK(st.st_mode))
    return sys_error(EOPNOTSUPP, "set the mode of '" + printable(path) + "': a symlink");
  auto r = root_.chmod_fd(fd, mode);
  if (!r)
    return sys_error(r.error().sys_errno,
                     "set mode of '" + printable(path) + "' to the exact bits asked for");
  return ok();
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
  int flags = intent->read && intent->write ? O_RDWR : intent->write ? O_WRONLY : O_RDONLY;
  if (intent->truncate) flags |= O_TRUNC;
  if (intent->append) flags |= O_APPEND;
  if (intent->directory) flags |= O_DIRECTORY;

  UniqueFd fd;
  std::string where = *path;
  if (intent->create) {
    auto parent = root_.resolve_parent(*path);
    if (!parent) return std::move(parent.error());
    where = parent->path();
    RINGBOX_TRY(check(where, Access::kWrite, "create"));
    const mode_t mode = storable_mode(create_mode, where, "create");
    // O_EXCL|O_NOFOLLOW: only ever a brand-new regular file, never through a link.
    int cfd = ::openat(parent->dir.get(), parent->name.c_str(),
                       flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
    if (cfd >= 0) {
      fd = UniqueFd(cfd);
      auto exact = set_exact_mode(fd.get(), mode, where);
      if (!exact) {
        // Not left behind half-made: remove the name while it is still this file.
        struct stat mine {
        }, there{};
        if (::fstat(fd.get(), &mine) == 0 &&
            ::fstatat(parent->dir.get(), parent->name.c_str(), &there, AT_SYMLINK_NOFOLLOW) == 0 &&
            mine.st_ino == there.st_ino && mine.st_dev == there.st_dev)
          ::unlinkat(parent->dir.get(), parent->name.c_str(), 0);
        return std::move(exact.error());
      }
    } else if (errno != EEXIST || intent->exclusive) {
      return sys_error("create '" + printable(where) + "' in the export");
    }
    // EEXIST without exclusive: open the existing file below, as open(2) would.
  }
  if (!fd) {
    auto r = root_.resolve(where, Follow::kYes);
    if (!r) return std::move(r.error());
    RINGBOX_TRY(check(r->path, wants_write ? Access::kWrite : Access::kRead, "open"));
    if (intent->directory && !S_ISDIR(r->st.st_mode))
      return sys_error(ENOTDIR, "open '" + printable(r->path) + "' as a directory");
    auto io = root_.open_for_io(*r, flags);
    if (!io) return std::move(io.error());
    fd = std::move(*io);
    where = std::move(r->path);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return sys_error("stat '" + printable(where) + "'");
  auto file = std::make_shared<OpenFile>();
  file->fd = std::move(fd);
  file->readable = intent->read;
  file->writable = intent->write;
  file->directory = S_ISDIR(st.st_mode);
  file->path = where;
  auto handle = handles_.insert(std::move(file));
  if (!handle) return std::move(handle.error());
  Reply rep;
  rep.val[0] = *handle;
  if (req.out.size() >= sizeof(proto::WireStat)) {
    auto n = proto::encode_wire_stat(proto::wire_stat_from(st), req.out);
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
  auto n = read_fully((*f)->fd.get(), req.out.first(len), *offset);
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
  auto n = write_fully((*f)->fd.get(), data, *offset);
  if (!n) return std::move(n.error());
  Reply rep;
  rep.val[0] = *n;
  return rep;
}

Result<Reply> FileService::do_fstat(const Request& req) {
  auto f = lookup_handle(req.arg[0]);
  if (!f) return std::move(f.error());
  struct stat st {};
  if (::fstat((*f)->fd.get(), &st) != 0) return sys_error("fstat '" + printable((*f)->path) + "'");
  auto n = proto::encode_wire_stat(proto::wire_stat_from(st), req.out);
  if (!n) return std::move(n.error());
  Reply rep;
  rep.out_len = static_cast<uint32_t>(*n);
  return rep;
}

Result<Reply> FileService::do_fsync(const Request& req) {
  auto f = lookup_handle(req.arg[0]);
  if (!f) return std::move(f.error());
  if (::fsync((*f)->fd.get()) != 0) return sys_error("fsync '" + printable((*f)->path) + "'");
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
  int rc;
  do {
    rc = ::fallocate((*f)->fd.get(), *mode, *offset, *length);
  } while (rc != 0 && errno == EINTR);
  // EOPNOTSUPP reaches the guest as kOpNotSupp: it falls back as posix_fallocate(3) does.
  if (rc != 0) return sys_error("fallocate '" + printable((*f)->path) + "'");
  return Reply{};
}

Result<Reply> FileService::do_ftruncate(const Request& req) {
  auto f = lookup_handle(req.arg[0]);
  if (!f) return std::move(f.error());
  if (!(*f)->writable) return sys_error(EBADF, "ftruncate a handle not opened for writing");
  auto size = wire_offset(req.arg[1], "ftruncate size");
  if (!size) return std::move(size.error());
  if (::ftruncate((*f)->fd.get(), *size) != 0)
    return sys_error("ftruncate '" + printable((*f)->path) + "'");
  return Reply{};
}

}  // namespace ringbox::host::files
