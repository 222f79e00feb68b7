#include "host/domain/device_check.h"

// The Xen library headers have no extern "C" guards of their own.
extern "C" {
#include <xenstore.h>
}

#include <cstdlib>
#include <memory>

namespace ringbox::host::domain {
namespace {

struct XsClose {
  void operator()(xs_handle* h) const { xs_close(h); }
};
using XsPtr = std::unique_ptr<xs_handle, XsClose>;

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }  // libxenstore returns malloc()ed arrays
};

// Backend kinds that would give the guest a network or a disk (or a file system, 9pfs).
constexpr const char* kForbiddenBackends[] = {"vif", "vbd", "vbd3", "qdisk", "vscsi", "9pfs"};

// The entries of `path`; empty when the node does not exist (ENOENT is not an error here).
Result<std::vector<std::string>> list_dir(xs_handle* xs, const std::string& path) {
  unsigned int n = 0;
  errno = 0;
  std::unique_ptr<char*, FreeDeleter> entries(xs_directory(xs, XBT_NULL, path.c_str(), &n));
  if (!entries) {
    if (errno == ENOENT) return std::vector<std::string>{};
    return sys_error("list xenstore " + path);
  }
  std::vector<std::string> out;
  for (unsigned int i = 0; i < n; ++i) out.emplace_back(entries.get()[i]);
  return out;
}

}  // namespace

bool device_class_allowed(const std::string& device_class) {
  return device_class == "suspend";
}

std::vector<std::string> forbidden_device_classes(const std::vector<std::string>& device_classes) {
  std::vector<std::string> bad;
  for (const auto& c : device_classes)
    if (!device_class_allowed(c)) bad.push_back(c);
  return bad;
}

Result<void> check_no_devices(uint32_t domid) {
  XsPtr xs(xs_open(0));
  if (!xs)
    return sys_error("connect to xenstored to check domain " + std::to_string(domid) +
                     "'s devices");
  const std::string id = std::to_string(domid);
  std::vector<std::string> offending;

  auto classes = list_dir(xs.get(), "/local/domain/" + id + "/device");
  if (!classes) return std::move(classes.error());
  for (const auto& c : forbidden_device_classes(*classes))
    offending.push_back("/local/domain/" + id + "/device/" + c);

  for (const char* kind : kForbiddenBackends) {
    std::string path = "/local/domain/0/backend/" + std::string(kind) + "/" + id;
    auto entries = list_dir(xs.get(), path);
    if (!entries) return std::move(entries.error());
    if (!entries->empty()) offending.push_back(path);
  }
  if (offending.empty()) return ok();
  std::string list;
  for (const auto& p : offending) list += (list.empty() ? "" : ", ") + p;
  return make_error(Errc::kProtocol,
                    "domain " + id + " has devices in xenstore: " + list +
                        "; ringbox domains must have no network or disk device. The domain is "
                        "destroyed; report this (a libxl default or hotplug setup added them)");
}

}  // namespace ringbox::host::domain
