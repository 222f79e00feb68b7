// FileService: whole-file streaming, kGetfile (out) and kPutfile (in, replaced atomically).
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>

#include "host/files/file_service.h"
#include "host/files/request_decode.h"
#include "shared/util/log.h"

namespace ringbox::host::files {

using rpc::Reply;
using rpc::Request;

Result<Reply> FileService::do_getfile(const Request& req) {
  auto offset = wire_offset(req.arg[0], "getfile offset");
  if (!offset) return std::move(offset.error());
  auto path = copy_path(req.in);  // copied before req.out (the same buffer) is written
  if (!path) return std::move(path.error());
  auto r = lookup(*path, Follow::kYes);
  if (!r) return std::move(r.error());
  RINGBOX_TRY(check(r->path, Access::kRead, "read"));
  if (S_ISDIR(r->st.st_mode))
    return sys_error(EISDIR, "getfile '" + printable(r->path) + "': a directory");
  auto chunk = backend_->getfile(r->path, *offset, req.out);  // straight into the data area
  if (!chunk) return std::move(chunk.error());
  Reply rep;
  rep.out_len = static_cast<uint32_t>(chunk->bytes);
  rep.val[0] = chunk->file_size;
  return rep;
}

Result<Reply> FileService::do_putfile(const Request& req) {
  if ((req.flags & ~proto::kPutfileFinal) != 0)
    return Error{Errc::kProtocol, EPROTO,
                 "putfile flags " + std::to_string(req.flags) + " have unknown bits"};
  const bool final_chunk = (req.flags & proto::kPutfileFinal) != 0;
  auto layout = proto::putfile_layout(req.in.size(), req.arg[0]);
  if (!layout) return std::move(layout.error());
  auto path = copy_path_prefix(req.in, layout->path_len);
  if (!path) return std::move(path.error());
  auto offset = wire_offset(req.arg[1], "putfile offset");
  if (!offset) return std::move(offset.error());
  // The data part is opaque file bytes: it goes from the data area to the file uncopied.
  auto data = req.in.opaque().subspan(layout->data_off, layout->data_len);
  RINGBOX_TRY(check_extent(*offset, data.size()));

  std::shared_ptr<BackendUpload> upload;
  if (*offset == 0) {
    auto requested = wire_mode(req.arg[2], "putfile mode");
    if (!requested) return std::move(requested.error());
    auto parent = lookup_parent(*path);
    if (!parent) return std::move(parent.error());
    const std::string target = parent->path();
    RINGBOX_TRY(check(target, Access::kWrite, "replace"));
    const mode_t mode = storable_mode(*requested, target, "replace");
    auto started = uploads_.start(*path, [&] { return backend_->putfile_stage(target, mode); });
    if (!started) return std::move(started.error());
    upload = std::move(*started);
  } else {
    upload = uploads_.find(*path);
    if (!upload)
      return sys_error(EBADF, "putfile chunk at offset " + std::to_string(*offset) + " for '" +
                                  printable(*path) + "', which has no upload in progress");
  }
  auto written = upload->write(data, *offset);
  if (!written) return std::move(written.error());
  Reply rep;
  rep.val[0] = *written;
  if (final_chunk) {
    if (*written != data.size())
      return sys_error(EIO, "putfile '" + printable(*path) + "': final chunk written short");
    // Out of the stage first: a second final chunk, or a restart, cannot touch it any more.
    auto taken = uploads_.take(*path);
    if (taken != upload)
      return sys_error(EBADF, "putfile '" + printable(*path) +
                                  "': upload was restarted while its final chunk was written");
    auto size = taken->commit();
    if (!size) return std::move(size.error());
    rep.val[1] = *size;
  }
  return rep;
}

}  // namespace ringbox::host::files
