// FileService: the opcodes that name a path (stat, readdir, namespace changes, links).
//
// Pattern of every operation: copy and check the payload (request_decode.h), resolve beneath
// the root (ExportRoot), check the policy on the resolved symlink-free path, then act through
// the resolved fd: on the object itself, or with an *at() call on one checked name inside the
// resolved parent directory.
#include <fcntl.h>
#include <stdio.h>  // renameat2, RENAME_*
#include <sys/stat.h>
#include <unistd.h>

#include <array>

#include "host/files/dir_lister.h"
#include "host/files/file_service.h"
#include "host/files/lexical_path.h"
#include "host/files/request_decode.h"
#include "shared/ring/shared_memory.h"

namespace ringbox::host::files {

using rpc::Reply;
using rpc::Request;

namespace {

Error at_error(const char* what, std::string_view path) {
  return sys_error(std::string(what) + " '" + printable(path) + "' in the export");
}

}  // namespace

Result<Reply> FileService::do_stat(const Request& req, Follow follow) {
  auto path = copy_path(req.in);
  if (!path) return std::move(path.error());
  auto r = root_.resolve(*path, follow);
  if (!r) return std::move(r.error());
  RINGBOX_TRY(check_lookup(r->path, "stat"));
  auto n = proto::encode_wire_stat(proto::wire_stat_from(r->st), req.out);
  if (!n) return std::move(n.error());
  Reply rep;
  rep.out_len = static_cast<uint32_t>(*n);
  return rep;
}

Result<Reply> FileService::do_readdir(const Request& req) {
  auto path = copy_path(req.in);  // copied before req.out (the same buffer) is written
  if (!path) return std::move(path.error());
  auto r = root_.resolve(*path, Follow::kYes);
  if (!r) return std::move(r.error());
  if (!S_ISDIR(r->st.st_mode))
    return sys_error(ENOTDIR, "readdir '" + printable(r->path) + "': not a directory");
  const bool readable = policy_.allows(r->path, Access::kRead);
  if (!readable) RINGBOX_TRY(check_lookup(r->path, "list"));
  auto dir = root_.open_for_io(*r, O_RDONLY | O_DIRECTORY);
  if (!dir) return std::move(dir.error());
  // A directory that is only on the way to readable paths lists just those entries.
  auto keep = [&](std::string_view name) {
    if (readable) return true;
    std::string child = join_path(r->path, name);
    return policy_.allows(child, Access::kRead) || policy_.leads_to_readable(child);
  };
  auto listing = list_directory(dir->get(), req.arg[0], req.out, keep);
  if (!listing) return std::move(listing.error());
  if (listing->count == 0 && !listing->at_end)
    return sys_error(EOVERFLOW, "readdir: the next entry does not fit a " +
                                    std::to_string(req.out.size()) + "-byte buffer");
  Reply rep;
  rep.out_len = static_cast<uint32_t>(listing->bytes);
  rep.val[0] = listing->count;
  rep.val[1] = listing->at_end ? 1 : 0;
  return rep;
}

Result<Reply> FileService::do_mkdir(const Request& req) {
  auto requested = wire_mode(req.arg[0], "mkdir mode");
  if (!requested) return std::move(requested.error());
  auto path = copy_path(req.in);
  if (!path) return std::move(path.error());
  auto p = root_.resolve_parent(*path);
  if (!p) return std::move(p.error());
  RINGBOX_TRY(check(p->path(), Access::kWrite, "create directory"));
  const mode_t mode = storable_mode(*requested, p->path(), "create directory");
  if (::mkdirat(p->dir.get(), p->name.c_str(), mode) != 0)
    return at_error("create directory", p->path());
  // The umask, or a setgid parent, may have changed the bits: set them exactly on the new
  // directory, found again without following anything.
  auto made = root_.resolve(p->path(), Follow::kNo);
  if (!made) return std::move(made.error());
  if (!S_ISDIR(made->st.st_mode))
    return sys_error(EAGAIN, "create directory '" + printable(p->path()) +
                                 "': replaced while it was being made; try again");
  RINGBOX_TRY(set_exact_mode(made->fd.get(), mode, made->path));
  return Reply{};
}

Result<Reply> FileService::do_remove(const Request& req, bool directory) {
  auto path = copy_path(req.in);
  if (!path) return std::move(path.error());
  auto p = root_.resolve_parent(*path);
  if (!p) return std::move(p.error());
  RINGBOX_TRY(check(p->path(), Access::kWrite, directory ? "remove directory" : "remove"));
  if (::unlinkat(p->dir.get(), p->name.c_str(), directory ? AT_REMOVEDIR : 0) != 0)
    return at_error(directory ? "remove directory" : "remove", p->path());
  return Reply{};
}

Result<Reply> FileService::do_rename(const Request& req) {
  auto flags = proto::posix_rename_flags_from_wire(req.arg[1]);
  if (!flags) return std::move(flags.error());
  auto paths = copy_rename(req.in, req.arg[0]);
  if (!paths) return std::move(paths.error());
  auto from = root_.resolve_parent(paths->from);
  if (!from) return std::move(from.error());
  auto to = root_.resolve_parent(paths->to);
  if (!to) return std::move(to.error());
  RINGBOX_TRY(check(from->path(), Access::kWrite, "rename"));
  RINGBOX_TRY(check(to->path(), Access::kWrite, "rename onto"));
  // renameat2(2) on one checked name in each resolved directory: neither name is followed.
  if (::renameat2(from->dir.get(), from->name.c_str(), to->dir.get(), to->name.c_str(), *flags) !=
      0)
    return at_error(*flags == RENAME_EXCHANGE ? "exchange" : "rename", from->path());
  return Reply{};
}

Result<Reply> FileService::do_truncate(const Request& req) {
  auto size = wire_offset(req.arg[0], "truncate size");
  if (!size) return std::move(size.error());
  auto path = copy_path(req.in);
  if (!path) return std::move(path.error());
  auto r = root_.resolve(*path, Follow::kYes);
  if (!r) return std::move(r.error());
  RINGBOX_TRY(check(r->path, Access::kWrite, "truncate"));
  if (S_ISDIR(r->st.st_mode))
    return sys_error(EISDIR, "truncate '" + printable(r->path) + "': a directory");
  auto fd = root_.open_for_io(*r, O_WRONLY);
  if (!fd) return std::move(fd.error());
  if (::ftruncate(fd->get(), *size) != 0) return at_error("truncate", r->path);
  return Reply{};
}

Result<Reply> FileService::do_readlink(const Request& req) {
  auto path = copy_path(req.in);  // copied before req.out (the same buffer) is written
  if (!path) return std::move(path.error());
  auto r = root_.resolve(*path, Follow::kNo);
  if (!r) return std::move(r.error());
  RINGBOX_TRY(check(r->path, Access::kRead, "read link"));
  if (!S_ISLNK(r->st.st_mode))
    return sys_error(EINVAL, "readlink '" + printable(r->path) + "': not a symlink");
  std::array<char, proto::kMaxPathBytes + 1> text{};
  ssize_t n = ::readlinkat(r->fd.get(), "", text.data(), text.size());
  if (n < 0) return at_error("read link", r->path);
  if (static_cast<size_t>(n) > req.out.size())
    return sys_error(EOVERFLOW, "readlink '" + printable(r->path) + "': " + std::to_string(n) +
                                    "-byte target does not fit a " +
                                    std::to_string(req.out.size()) + "-byte buffer");
  ring::copy_to_shared(req.out.data(), text.data(), static_cast<size_t>(n));
  Reply rep;
  rep.out_len = static_cast<uint32_t>(n);
  return rep;
}

Result<Reply> FileService::do_symlink(const Request& req) {
  auto paths = copy_symlink(req.in, req.arg[0]);
  if (!paths) return std::move(paths.error());
  auto p = root_.resolve_parent(paths->link);
  if (!p) return std::move(p.error());
  RINGBOX_TRY(check(p->path(), Access::kWrite, "create symlink"));
  // Host tools that later copy the export (output transfer) may follow links: a link may only
  // point inside the export, judged lexically from where it will live. Any other text is stored
  // as it is (components longer than 255 bytes too, as Linux does).
  auto lands = check_link_stays_inside(p->dir_path, paths->target);
  if (!lands)
    return sys_error(lands.error().sys_errno, "symlink '" + printable(p->path()) + "' -> '" +
                                                  printable(paths->target) +
                                                  "' would point out of the export");
  if (::symlinkat(paths->target.c_str(), p->dir.get(), p->name.c_str()) != 0)
    return at_error("create symlink", p->path());
  return Reply{};
}

}  // namespace ringbox::host::files
