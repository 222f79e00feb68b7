#include "shared/transport/xen/xenstore.h"

#include <poll.h>

#include <cerrno>
#include <cstdlib>
#include <memory>

#include "shared/util/file_io.h"

namespace ringbox::transport::xen {
namespace {

using FreeDeleter = CallDeleter<std::free>;  // libxenstore hands out malloc()ed memory

// A commit fails with EAGAIN only when another writer touched what we read; a handful of
// retries covers any honest contention. Past that, something is rewriting the node in a loop.
constexpr int kMaxTransactionAttempts = 16;

}  // namespace

Result<XsHandle> XsHandle::open() {
  xs_handle* h = xs_open(0);
  if (h == nullptr)
    return sys_error(
        "connect to xenstore (dom0: is xenstored running? a guest: is "
        "/dev/xen/xenbus there?)");
  return XsHandle(h);
}

Result<std::optional<std::string>> XsHandle::read(const std::string& path,
                                                  xs_transaction_t t) const {
  unsigned int len = 0;
  errno = 0;
  std::unique_ptr<void, FreeDeleter> raw(xs_read(get(), t, path.c_str(), &len));
  if (!raw) {
    if (errno == ENOENT) return std::optional<std::string>();
    return sys_error("read xenstore node " + path);
  }
  if (len > kMaxXenstoreValueBytes)
    return make_error(Errc::kPeerBroken, "xenstore node " + path + " holds " + std::to_string(len) +
                                             " bytes, more than " +
                                             std::to_string(kMaxXenstoreValueBytes));
  return std::optional<std::string>(std::string(static_cast<const char*>(raw.get()), len));
}

Result<void> XsHandle::write(const std::string& path, std::string_view value, xs_transaction_t t) {
  if (!xs_write(get(), t, path.c_str(), value.data(), static_cast<unsigned int>(value.size())))
    return sys_error("write xenstore node " + path);
  return ok();
}

Result<void> XsHandle::mkdir(const std::string& path, xs_transaction_t t) {
  if (!xs_mkdir(get(), t, path.c_str())) return sys_error("create xenstore directory " + path);
  return ok();
}

Result<void> XsHandle::remove(const std::string& path, xs_transaction_t t) {
  if (!xs_rm(get(), t, path.c_str()) && errno != ENOENT)
    return sys_error("remove xenstore node " + path);
  return ok();
}

Result<void> XsHandle::set_permissions(const std::string& path, std::vector<xs_permissions> perms,
                                       xs_transaction_t t) {
  if (!xs_set_permissions(get(), t, path.c_str(), perms.data(),
                          static_cast<unsigned int>(perms.size())))
    return sys_error("set permissions of xenstore node " + path);
  return ok();
}

Result<void> XsHandle::transact(std::string_view what,
                                const std::function<Result<void>(xs_transaction_t)>& body) {
  for (int attempt = 0; attempt < kMaxTransactionAttempts; ++attempt) {
    xs_transaction_t t = xs_transaction_start(get());
    if (t == XBT_NULL) return sys_error("start a xenstore transaction to " + std::string(what));
    auto r = body(t);
    if (!r) {
      xs_transaction_end(get(), t, true);  // abort
      if (r.error().sys_errno == EAGAIN) continue;
      return r;
    }
    if (xs_transaction_end(get(), t, false)) return ok();
    if (errno != EAGAIN)
      return sys_error("commit the xenstore transaction to " + std::string(what));
  }
  return make_error(Errc::kTimeout, "the xenstore transaction to " + std::string(what) +
                                        " conflicted " + std::to_string(kMaxTransactionAttempts) +
                                        " times in a row; something rewrites those nodes "
                                        "continuously");
}

Result<bool> XsHandle::drain_watch_events() {
  bool any = false;
  for (;;) {
    std::unique_ptr<char*, FreeDeleter> ev(xs_check_watch(get()));
    if (!ev) {
      if (errno == EAGAIN) return any;
      return sys_error("read xenstore watch events");
    }
    any = true;
  }
}

Result<bool> XsHandle::wait_watch(int timeout_ms) {
  pollfd p{watch_fd(), POLLIN, 0};
  int r = poll_retry(&p, 1, timeout_ms);
  if (r < 0) return sys_error("wait for a xenstore watch");
  // Drain even after a timeout: the fd may be quiet while events are already queued (see
  // xs_check_watch in xenstore.h).
  return drain_watch_events();
}

Result<XsWatch> XsWatch::add(XsHandle& h, std::string path, std::string token) {
  if (!xs_watch(h.get(), path.c_str(), token.c_str()))
    return sys_error("watch xenstore node " + path);
  return XsWatch(h.get(), std::move(path), std::move(token));
}

}  // namespace ringbox::transport::xen
