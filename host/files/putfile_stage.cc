#include "host/files/putfile_stage.h"

#include <cerrno>

namespace ringbox::host::files {

namespace {
Error too_many(uint32_t max) {
  return sys_error(EMFILE,
                   "too many unfinished uploads on this connection (" + std::to_string(max) + ")");
}
}  // namespace

Result<std::shared_ptr<BackendUpload>> PutfileStage::start(const std::string& key,
                                                           const Maker& make) {
  std::shared_ptr<BackendUpload> dropped;  // destroyed (discarded) outside the lock
  {
    std::lock_guard lk(mu_);
    if (auto it = uploads_.find(key); it != uploads_.end()) {
      dropped = std::move(it->second);
      uploads_.erase(it);
    }
    if (uploads_.size() >= max_pending_) return too_many(max_pending_);
  }
  auto made = make();
  if (!made) return std::move(made.error());
  std::shared_ptr<BackendUpload> up = std::move(*made);
  std::lock_guard lk(mu_);
  if (uploads_.size() >= max_pending_) return too_many(max_pending_);  // filled meanwhile
  uploads_[key] = up;
  return up;
}

std::shared_ptr<BackendUpload> PutfileStage::find(const std::string& key) const {
  std::lock_guard lk(mu_);
  auto it = uploads_.find(key);
  return it == uploads_.end() ? nullptr : it->second;
}

std::shared_ptr<BackendUpload> PutfileStage::take(const std::string& key) {
  std::lock_guard lk(mu_);
  auto it = uploads_.find(key);
  if (it == uploads_.end()) return nullptr;
  auto up = std::move(it->second);
  uploads_.erase(it);
  return up;
}

void PutfileStage::clear() {
  std::map<std::string, std::shared_ptr<BackendUpload>> dropped;
  {
    std::lock_guard lk(mu_);
    dropped.swap(uploads_);
  }
}

size_t PutfileStage::size() const {
  std::lock_guard lk(mu_);
  return uploads_.size();
}

}  // namespace ringbox::host::files
