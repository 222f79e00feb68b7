// UniqueHandle<T, Close>: the one owner of a C library's handle, a T* released by Close(T*)
// (xs_close, xenevtchn_close, xengnttab_close, libxl_ctx_free, free ...). It is a
// std::unique_ptr with a deleter that calls the C function: move-only, released once, on
// destruction or reset(), and release() hands ownership out.
#pragma once

#include <memory>

namespace ringbox {

// A std::unique_ptr deleter calling the C function Fn; Fn's result, if any, is ignored (there
// is nothing a destructor could do with it).
template <auto Fn>
struct CallDeleter {
  template <typename P>
  void operator()(P* p) const {
    Fn(p);
  }
};

template <typename T, auto Close>
using UniqueHandle = std::unique_ptr<T, CallDeleter<Close>>;

}  // namespace ringbox
