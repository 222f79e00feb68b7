#include "shared/util/result.h"

#include <cstring>

namespace ringbox {

const char* errc_name(Errc code) {
  switch (code) {
    case Errc::kSystem:
      return "system";
    case Errc::kInvalidArgument:
      return "invalid-argument";
    case Errc::kPeerBroken:
      return "peer-broken";
    case Errc::kPeerGone:
      return "peer-gone";
    case Errc::kTimeout:
      return "timeout";
    case Errc::kProtocol:
      return "protocol";
    case Errc::kRemote:
      return "remote";
    case Errc::kNotFound:
      return "not-found";
    case Errc::kTooLarge:
      return "too-large";
    case Errc::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

std::string Error::message() const {
  if (sys_errno == 0) return what;
  return what + ": " + std::strerror(sys_errno);
}

Error sys_error(std::string what) {
  return Error{Errc::kSystem, errno, std::move(what)};
}
Error sys_error(int err, std::string what) {
  return Error{Errc::kSystem, err, std::move(what)};
}
Error make_error(Errc code, std::string what) {
  return Error{code, 0, std::move(what)};
}

}  // namespace ringbox
