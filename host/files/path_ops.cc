// FileService: the opcodes that name a path (stat, readdir, namespace changes, links).
//
// Pattern of every operation: copy and check the payload (request_decode.h), look the path (or
// its parent) up through the back end, check the policy on the symlink-free path found, then
// have the back end act on exactly that path (file_backend.h: nothing followed).
#include <fcntl.h>
#include <stdio.h>  // RENAME_*
#include <sys/stat.h>

#include "host/files/file_service.h"
#include "host/files/request_decode.h"
#include "shared/path/wire_path.h"
#include "shared/ring/shared_memory.h"
#include "shared/util/log.h"

namespace ringbox::host::files {

using rpc::Reply;
using rpc::Request;

Result<Reply> FileService::do_stat(const Request& req, Follow follow) {
  auto path = copy_path(req.in);
  if (!path) return std::move(path.error());
  auto r = lookup(*path, follow);
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
  auto r = lookup(*path, Follow::kYes);
  if (!r) return std::move(r.error());
  if (!S_ISDIR(r->st.st_mode))
    return sys_error(ENOTDIR, "readdir '" + printable(r->path) + "': not a directory");
  const bool readable = policy_.allows(r->path, Access::kRead);
  if (!readable) RINGBOX_TRY(check_lookup(r->path, "list"));
  // A directory that is only on the way to readable paths lists just those entries.
  auto keep = [&](std::string_view name) {
    if (readable && !policy_.has_reserved()) return true;
    std::string child = proto::join_wire_path(r->path, name);
    if (readable) return !policy_.reserved(child);
    return policy_.allows(child, Access::kRead) || policy_.leads_to_readable(child);
  };
  auto listing = backend_->readdir(r->path, req.arg[0], req.out, keep);
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
  auto p = lookup_parent(*path);
  if (!p) return std::move(p.error());
  const std::string target = p->path();
  RINGBOX_TRY(check(target, Access::kWrite, "create directory"));
  RINGBOX_TRY(backend_->mkdir(target, storable_mode(*requested, target, "create directory")));
  return Reply{};
}

Result<Reply> FileService::do_remove(const Request& req, bool directory) {
  auto path = copy_path(req.in);
  if (!path) return std::move(path.error());
  auto p = lookup_parent(*path);
  if (!p) return std::move(p.error());
  const std::string target = p->path();
  RINGBOX_TRY(check(target, Access::kWrite, directory ? "remove directory" : "remove"));
  RINGBOX_TRY(directory ? backend_->rmdir(target) : backend_->unlink(target));
  return Reply{};
}

Result<Reply> FileService::do_rename(const Request& req) {
  auto flags = proto::posix_rename_flags_from_wire(req.arg[1]);
  if (!flags) return std::move(flags.error());
  auto paths = copy_rename(req.in, req.arg[0]);
  if (!paths) return std::move(paths.error());
  auto found =
      writable_pair(*paths, "rename", *flags == RENAME_EXCHANGE ? "exchange with" : "rename onto");
  if (!found) return std::move(found.error());
  RINGBOX_TRY(backend_->rename(found->from, found->to, *flags));
  return Reply{};
}

Result<Reply> FileService::do_truncate(const Request& req) {
  auto size = wire_offset(req.arg[0], "truncate size");
  if (!size) return std::move(size.error());
  auto path = copy_path(req.in);
  if (!path) return std::move(path.error());
  auto r = lookup(*path, Follow::kYes);
  if (!r) return std::move(r.error());
  RINGBOX_TRY(check(r->path, Access::kWrite, "truncate"));
  RINGBOX_TRY(backend_->truncate(r->path, *size));
  return Reply{};
}

Result<Reply> FileService::do_readlink(const Request& req) {
  auto path = copy_path(req.in);  // copied before req.out (the same buffer) is written
  if (!path) return std::move(path.error());
  auto r = lookup(*path, Follow::kNo);
  if (!r) return std::move(r.error());
  RINGBOX_TRY(check(r->path, Access::kRead, "read link"));
  if (!S_ISLNK(r->st.st_mode))
    return sys_error(EINVAL, "readlink '" + printable(r->path) + "': not a symlink");
  auto text = backend_->readlink(r->path);
  if (!text) return std::move(text.error());
  if (text->size() > req.out.size())
    return sys_error(EOVERFLOW, "readlink '" + printable(r->path) + "': " +
                                    std::to_string(text->size()) + "-byte target does not fit a " +
                                    std::to_string(req.out.size()) + "-byte buffer");
  ring::copy_to_shared(req.out.data(), text->data(), text->size());
  Reply rep;
  rep.out_len = static_cast<uint32_t>(text->size());
  return rep;
}

Result<Reply> FileService::do_symlink(const Request& req) {
  auto paths = copy_symlink(req.in, req.arg[0]);
  if (!paths) return std::move(paths.error());
  auto p = lookup_parent(paths->link);
  if (!p) return std::move(p.error());
  const std::string link = p->path();
  RINGBOX_TRY(check(link, Access::kWrite, "create symlink"));
  // Host tools that later copy the export (output transfer) may follow links: a link may only
  // point inside the export, judged lexically from where it will live. Any other text is stored
  // as it is (components longer than 255 bytes too, as Linux does).
  auto lands = proto::check_link_stays_inside(p->dir_path, paths->target);
  if (!lands)
    return sys_error(lands.error().sys_errno, "symlink '" + printable(link) + "' -> '" +
                                                  printable(paths->target) +
                                                  "' would point out of the export");
  RINGBOX_TRY(backend_->symlink(paths->target, link));
  return Reply{};
}

}  // namespace ringbox::host::files
