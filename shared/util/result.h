// Result<T>: the error-as-value type of every data-path function in ringbox.
//
// Shaped like C++23 std::expected (value(), error(), has_value(), operator*) so that it can
// become that once the project moves past GCC 12's C++20 mode. An Error carries a step code
// (what kind of thing failed), the OS errno where there was one, and a sentence naming what
// failed on what ("map grant ref 17 from domain 5"). Wire errors sent to a peer are a separate
// type (protocol/wire.h); to_wire_error() is the one mapping between them.
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace ringbox {

// One value per kind of failing step, so a log line or a test can name the step.
enum class Errc {
  kSystem,           // a system call failed; sys_errno says why
  kInvalidArgument,  // a caller (or a command line) passed something impossible
  kPeerBroken,       // the peer broke the ring/protocol contract; the connection is dead
  kPeerGone,         // the peer closed or died
  kTimeout,
  kProtocol,  // a well-formed message we cannot accept (version, unknown opcode, ...)
  kRemote,    // the peer answered with a wire error; sys_errno holds its errno value
  kNotFound,
  kTooLarge,
  kCancelled,
};

const char* errc_name(Errc code);

struct Error {
  Errc code = Errc::kSystem;
  int sys_errno = 0;
  std::string what;

  // "what: strerror(errno)" or "what" for errors without an errno.
  std::string message() const;
};

// Builds an Error from the current errno; call right after the failing system call.
Error sys_error(std::string what);
Error sys_error(int err, std::string what);
Error make_error(Errc code, std::string what);

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit like std::expected
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }
  Error& error() { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const {}
  const Error& error() const { return err_; }
  Error& error() { return err_; }

 private:
  Error err_;
  bool ok_ = true;
};

inline Result<void> ok() {
  return {};
}

}  // namespace ringbox

// Propagates an error from an expression returning Result<...>; evaluates to nothing.
#define RINGBOX_TRY_CAT2(a, b) a##b
#define RINGBOX_TRY_CAT(a, b) RINGBOX_TRY_CAT2(a, b)
#define RINGBOX_TRY(expr) RINGBOX_TRY_IMPL(expr, RINGBOX_TRY_CAT(ringbox_try_r_, __COUNTER__))
#define RINGBOX_TRY_IMPL(expr, var)          \
  do {                                       \
    auto var = (expr);                       \
    if (!var) return std::move(var.error()); \
  } while (0)
