// PutfileStage: the unfinished kPutfile uploads of one connection, for any FileBackend.
//
// The staging rules every back end shares: an upload is keyed by the wire path the guest sends;
// a chunk at offset 0 starts one (dropping an unfinished upload of the same key); later chunks
// find it; the final chunk takes it out of the stage before committing, so a second final chunk
// or a restart cannot touch it any more. At most max_pending uploads are unfinished (EMFILE
// beyond). Uploads are shared_ptr, so a chunk being written keeps its upload alive while another
// thread commits or drops it; an upload dropped (restarted, connection ended, service destroyed)
// is destroyed, which discards it in the back end (BackendUpload). Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "host/files/file_backend.h"

namespace ringbox::host::files {

class PutfileStage {
 public:
  explicit PutfileStage(uint32_t max_pending) : max_pending_(max_pending) {}

  // Starts an upload of key (dropping an unfinished one of the same key) made by make().
  // EMFILE when max_pending uploads are unfinished; make()'s error otherwise.
  using Maker = std::function<Result<std::unique_ptr<BackendUpload>>()>;
  Result<std::shared_ptr<BackendUpload>> start(const std::string& key, const Maker& make);
  // The unfinished upload of key, or nullptr.
  std::shared_ptr<BackendUpload> find(const std::string& key) const;
  // Takes the upload of key out of the stage, for its final chunk (nullptr if none).
  std::shared_ptr<BackendUpload> take(const std::string& key);
  // Drops every unfinished upload (connection end).
  void clear();
  size_t size() const;

 private:
  const uint32_t max_pending_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<BackendUpload>> uploads_;
};

}  // namespace ringbox::host::files
