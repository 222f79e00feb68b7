// ChirpBackend: the `chirp` FileBackend, a job's files on the submit machine, reached through a
// Chirp server (ringbox-submitd, cctools chirp_server, or the HTCondor starter's IO proxy via a
// .chirp.config). A thin adapter over shared/chirp's ChirpClient (pooled, reconnecting,
// exactly-once); the policy is checked by FileService before anything is relayed.
//
// Mapping (docs/submit-side.md has the table): lookup = lstat/readlink per component, expanded
// here inside the root (absolute or climbing targets EXDEV, > 40 links or > 4096 components
// walked ELOOP, the bounds of ExportRoot); open = lstat +
// open (its stat line); pread/pwrite (never read/write); fstat/fsync/ftruncate; readdir =
// getlongdir, the cookie being the index of the next entry; mkdir/create then chmod (Chirp
// servers apply their umask, ringbox modes are exact); utime in whole seconds (Chirp carries no
// nanoseconds); statfs; getfile = open + pread + close per chunk; uploads = a hidden
// ".ringbox-put.*" temporary written with pwrite, fsync, chmod, then rename over the target.
//
// What Chirp lacks: fallocate (EOPNOTSUPP), RENAME_EXCHANGE (EOPNOTSUPP), O_APPEND (appends are
// written at the size fstat reports, not atomic against other writers), a no-follow open: a symlink
// planted on the submit side between the lstat and the call is followed by the server (which still
// keeps it beneath its root).
#pragma once

#include <memory>
#include <string>

#include "host/files/file_backend.h"
#include "shared/chirp/client.h"

namespace ringbox::host::files {

class ChirpBackend final : public FileBackend {
 public:
  // Connects once (ChirpClient::check), so a wrong address or cookie fails at start-up.
  static Result<std::unique_ptr<ChirpBackend>> create(chirp::Endpoint ep,
                                                      chirp::ClientOptions opt = {});

  std::string describe() const override;
  Result<Lookup> lookup(std::string_view path, Follow follow) const override;
  Result<std::unique_ptr<BackendFile>> open(const std::string& path, OpenMode how) override;
  Result<std::unique_ptr<BackendFile>> create(const std::string& path, OpenMode how,
                                              mode_t mode) override;
  Result<DirListing> readdir(const std::string& path, uint64_t cookie, std::span<std::byte> out,
                             const std::function<bool(std::string_view)>& keep) override;
  Result<void> mkdir(const std::string& path, mode_t mode) override;
  Result<void> rmdir(const std::string& path) override;
  Result<void> unlink(const std::string& path) override;
  Result<void> rename(const std::string& from, const std::string& to, unsigned flags) override;
  Result<void> truncate(const std::string& path, off_t size) override;
  Result<std::string> readlink(const std::string& path) override;
  Result<void> symlink(const std::string& target, const std::string& path) override;
  Result<void> link(const std::string& from, const std::string& to) override;
  Result<struct stat> setattr(const std::string& path, const AttrChange& change) override;
  Result<struct statvfs> statfs(const std::string& path) override;
  Result<Chunk> getfile(const std::string& path, off_t offset, std::span<std::byte> out) override;
  Result<std::unique_ptr<BackendUpload>> putfile_stage(const std::string& path,
                                                       mode_t mode) override;

 private:
  explicit ChirpBackend(std::shared_ptr<chirp::ChirpClient> c) : client_(std::move(c)) {}
  std::shared_ptr<chirp::ChirpClient> client_;
};

// A Chirp StatLine as struct stat (dev and rdev informational).
struct stat to_stat(const chirp::StatLine& s);

}  // namespace ringbox::host::files
