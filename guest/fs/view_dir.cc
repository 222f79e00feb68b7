// View: directory listings. A listing is read whole at opendir (every kReaddir page, plus the
// FIFOs and sockets of the guest and, in lazy-file mode, the files that exist only in the guest
// so far) and served from that snapshot,
// so offsets are plain indexes and stay valid however the directory changes meanwhile (POSIX
// leaves it open whether a readdir sees entries added or removed after opendir).
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <unordered_set>

#include "guest/fs/view.h"
#include "shared/util/log.h"

namespace ringbox::guest::fs {

void View::opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto path = path_or_reply(req, ino);
  if (!path) return;
  auto listing = remote_.readdir(*path);
  if (!listing) {
    int err = errno_of(listing.error());
    if (err == EIO) log::warn("view: " + listing.error().message());
    fuse_reply_err(req, err);
    return;
  }
  auto dir = std::make_unique<OpenDir>();
  dir->entries.push_back({".", 0, DT_DIR});
  dir->entries.push_back({"..", 0, DT_DIR});
  std::unordered_set<std::string> names;
  for (auto& d : *listing) {
    names.insert(d.name);
    dir->entries.push_back({std::move(d.name), d.ino, d.type});
  }
  if (lazy()) {
    for (auto& name : cache_->local_children(*path)) {
      if (!names.insert(name).second) continue;
      dir->entries.push_back({std::move(name), 0, DT_REG});
    }
  }
  for (auto& [name, mode] : nodes_.children(*path)) {
    if (!names.insert(name).second) continue;
    dir->entries.push_back({std::move(name), 0, static_cast<uint8_t>(IFTODT(mode))});
  }
  {
    std::lock_guard lk(handles_mu_);
    fi->fh = next_fh_++;
    dirs_[fi->fh] = std::move(dir);
  }
  if (fuse_reply_open(req, fi) != 0) {
    std::lock_guard lk(handles_mu_);
    dirs_.erase(fi->fh);
  }
}

void View::readdir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  OpenDir* dir;
  {
    std::lock_guard lk(handles_mu_);
    auto it = dirs_.find(fi->fh);
    dir = it == dirs_.end() ? nullptr : it->second.get();
  }
  if (!dir) {
    fuse_reply_err(req, EBADF);
    return;
  }
  std::vector<char> buf(std::min<size_t>(size, 1u << 20));
  size_t used = 0;
  for (size_t i = off < 0 ? 0 : static_cast<size_t>(off); i < dir->entries.size(); ++i) {
    const DirEntry& e = dir->entries[i];
    struct stat st {};
    st.st_ino = e.ino ? e.ino : 1;
    st.st_mode = static_cast<mode_t>(DTTOIF(e.type));
    size_t need = fuse_add_direntry(req, buf.data() + used, buf.size() - used, e.name.c_str(), &st,
                                    static_cast<off_t>(i + 1));
    if (need > buf.size() - used) break;  // the next call continues from entry i
    used += need;
  }
  fuse_reply_buf(req, buf.data(), used);
}

void View::releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  {
    std::lock_guard lk(handles_mu_);
    dirs_.erase(fi->fh);
  }
  fuse_reply_err(req, 0);
}

}  // namespace ringbox::guest::fs
