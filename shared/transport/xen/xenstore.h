// xenstore access (libxenstore): XsHandle owns a connection, XsWatch one registered watch.
//
// Trust: a value read from a path the peer can write is the peer's, as hostile as a ring slot.
// read() bounds its length and hands back a private std::string; parsing and range checks are
// the caller's (see handshake_keys.h). Nothing here interprets a value.
#pragma once

// The Xen library headers have no extern "C" guards of their own.
extern "C" {
#include <xenstore.h>
}

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/util/result.h"
#include "shared/util/unique_handle.h"

namespace ringbox::transport::xen {

// xenstored refuses payloads above 4096 bytes (XENSTORE_PAYLOAD_MAX); a longer value would be a
// bug in the library, and any value we parse is far shorter.
inline constexpr size_t kMaxXenstoreValueBytes = 4096;

class XsHandle : public UniqueHandle<xs_handle, xs_close> {
 public:
  using unique_ptr::unique_ptr;  // takes ownership of a raw handle
  // Connects to xenstored (dom0: its socket; a guest: /dev/xen/xenbus).
  static Result<XsHandle> open();
  // Readable when a watch registered on this handle has fired.
  int watch_fd() const { return xs_fileno(get()); }

  // The value at `path`, or nullopt when the node does not exist (or we may not read it).
  Result<std::optional<std::string>> read(const std::string& path,
                                          xs_transaction_t t = XBT_NULL) const;
  Result<void> write(const std::string& path, std::string_view value,
                     xs_transaction_t t = XBT_NULL);
  Result<void> mkdir(const std::string& path, xs_transaction_t t = XBT_NULL);
  // Removes `path` and everything below it; a missing node is not an error.
  Result<void> remove(const std::string& path, xs_transaction_t t = XBT_NULL);
  // perms[0] is the owner (and the access of every domain not listed); then one entry per
  // domain granted more.
  Result<void> set_permissions(const std::string& path, std::vector<xs_permissions> perms,
                               xs_transaction_t t = XBT_NULL);
  // Runs `body` in a transaction and commits; when the commit fails with EAGAIN (somebody
  // changed what we read) the whole body runs again, up to a bound. `what` names it in errors.
  Result<void> transact(std::string_view what,
                        const std::function<Result<void>(xs_transaction_t)>& body);

  // Waits up to timeout_ms (-1: no limit) for a watch to fire, then consumes every pending
  // event. True when at least one fired.
  Result<bool> wait_watch(int timeout_ms);
  // Consumes pending watch events without waiting; true when there were any.
  Result<bool> drain_watch_events();
};

// A watch on `path` (and everything below it). xenstored fires it once at registration, so the
// owner always takes a first look. The handle must outlive it.
class XsWatch {
 public:
  XsWatch() = default;
  static Result<XsWatch> add(XsHandle& h, std::string path, std::string token);
  XsWatch(const XsWatch&) = delete;
  XsWatch& operator=(const XsWatch&) = delete;
  XsWatch(XsWatch&& o) noexcept
      : h_(std::exchange(o.h_, nullptr)), path_(std::move(o.path_)), token_(std::move(o.token_)) {}
  XsWatch& operator=(XsWatch&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, nullptr);
      path_ = std::move(o.path_);
      token_ = std::move(o.token_);
    }
    return *this;
  }
  ~XsWatch() { reset(); }

  const std::string& path() const { return path_; }
  explicit operator bool() const { return h_ != nullptr; }
  void release() { h_ = nullptr; }
  void reset() {
    if (h_ != nullptr) xs_unwatch(h_, path_.c_str(), token_.c_str());
    h_ = nullptr;
  }

 private:
  XsWatch(xs_handle* h, std::string path, std::string token)
      : h_(h), path_(std::move(path)), token_(std::move(token)) {}
  xs_handle* h_ = nullptr;
  std::string path_;
  std::string token_;
};

}  // namespace ringbox::transport::xen
