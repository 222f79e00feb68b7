// PutfileStage: the unfinished kPutfile uploads of one connection.
//
// An upload writes into a private temporary file in the target's directory: an O_TMPFILE
// inode (nameless: nothing to clean up even if the host is killed), or, where the file system
// has no O_TMPFILE (or the config asks for it), a hidden ".ringbox-put.<random>" name. Only the
// final chunk makes it visible: fsync, give it a temporary name if it has none, rename over
// the target, fsync the directory. Until then the target is untouched; an upload dropped
// (restarted, connection ended, service destroyed) leaves nothing behind.
//
// Uploads are keyed by the wire path the guest sends, are bounded in number, and are
// shared_ptr so a chunk being written keeps its file alive while another thread commits or
// drops the upload. Thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "host/files/export_root.h"

namespace ringbox::host::files {

class Upload {
 public:
  Upload(const ExportRoot& root, UniqueFd dir, std::string name, std::string target_path,
         UniqueFd file, std::string temp_name);
  Upload(const Upload&) = delete;
  Upload& operator=(const Upload&) = delete;
  ~Upload();  // discards the temporary file unless committed

  int fd() const { return file_.get(); }
  const std::string& target_path() const { return target_path_; }
  // fsync, name, rename over the target, fsync the directory. Returns the file's size.
  Result<uint64_t> commit();

 private:
  void discard();

  const ExportRoot& root_;
  UniqueFd dir_;             // O_PATH fd of the target's directory
  std::string name_;         // the target's name in dir_
  std::string target_path_;  // canonical path, for logs
  UniqueFd file_;            // the temporary file, open for writing
  std::string temp_name_;    // its name in dir_, empty while it is an O_TMPFILE
  bool committed_ = false;
};

class PutfileStage {
 public:
  PutfileStage(const ExportRoot& root, uint32_t max_pending, bool named_temp)
      : root_(root), max_pending_(max_pending), named_temp_(named_temp) {}

  // Starts an upload of key (dropping an unfinished one of the same key) into parent/name,
  // with exactly the permission bits mode (no umask; the caller cleared setuid/setgid). EMFILE
  // when max_pending uploads are unfinished.
  Result<std::shared_ptr<Upload>> start(const std::string& key, ResolvedParent parent, mode_t mode);
  // The unfinished upload of key, or nullptr.
  std::shared_ptr<Upload> find(const std::string& key) const;
  // Takes the upload of key out of the stage, for its final chunk (nullptr if none).
  std::shared_ptr<Upload> take(const std::string& key);
  // Drops every unfinished upload (connection end).
  void clear();
  size_t size() const;

 private:
  Result<std::shared_ptr<Upload>> create_temp(ResolvedParent parent, mode_t mode);

  const ExportRoot& root_;
  const uint32_t max_pending_;
  const bool named_temp_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Upload>> uploads_;
};

}  // namespace ringbox::host::files
