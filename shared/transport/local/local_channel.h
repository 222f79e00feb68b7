// Local transport: the ring in a memfd shared by two processes on one Linux machine, with
// eventfd doorbells. For development, tests and the no-Xen benchmark; it isolates nothing.
//
// Handshake over a connected Unix stream socket: the frontend sends LocalHello with three fds
// (SCM_RIGHTS): the memfd, the eventfd that kicks the backend, the eventfd that kicks the
// frontend. The backend checks the geometry, checks that the memfd is sealed against shrinking
// (otherwise the peer could truncate it and turn our next access into SIGBUS), maps it and
// answers with one byte. The socket stays open: its hang-up is how each side learns the other
// is gone.
#pragma once

#include <memory>
#include <string>

#include "shared/transport/channel.h"
#include "shared/util/unique_fd.h"

namespace ringbox::transport {

// Frontend (agent): creates and shares the region over an already connected socket.
Result<std::unique_ptr<RingChannel>> local_connect(UniqueFd socket, const ring::Geometry& g);
// Frontend: connects to a Unix socket path first.
Result<std::unique_ptr<RingChannel>> local_connect(const std::string& path,
                                                   const ring::Geometry& g);

// Backend (host): receives the region from the peer on a connected socket.
Result<std::unique_ptr<RingChannel>> local_accept(UniqueFd socket);

// A listening Unix socket at `path` (unlinked again on destruction).
class LocalListener {
 public:
  static Result<LocalListener> listen(const std::string& path);
  Result<UniqueFd> accept_socket(int timeout_ms);
  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  LocalListener(LocalListener&&) = default;
  LocalListener& operator=(LocalListener&&) = default;
  ~LocalListener();

 private:
  LocalListener(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  UniqueFd fd_;
  std::string path_;
};

}  // namespace ringbox::transport
