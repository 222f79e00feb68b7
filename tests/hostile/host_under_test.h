// The host as a hostile test sees it: a temporary export with a sentinel directory beside it,
// the real FileService and HostHandler, and a snapshot of the sentinel taken before the attack.
#pragma once

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "host/files/file_service.h"
#include "host/host_handler.h"
#include "shared/protocol/codec.h"
#include "tests/unit/host/files/temp_tree.h"

namespace ringbox::test {

struct HostUnderTest {
  explicit HostUnderTest(host::files::Policy policy = host::files::Policy::read_write(),
                         uint32_t max_open_files = host::files::kDefaultMaxOpenFiles,
                         bool putfile_named_temp = false)
      : files(make_service(tree, std::move(policy), max_open_files, putfile_named_temp)),
        handler(*files),
        sentinel_before(TempTree::snapshot(tree.sentinel_dir)) {}

  // Nothing beside the export changed since construction.
  bool sentinel_unchanged() const {
    return TempTree::snapshot(tree.sentinel_dir) == sentinel_before;
  }

  TempTree tree;
  std::unique_ptr<host::files::FileService> files;
  host::HostHandler handler;
  std::string sentinel_before;

 private:
  static std::unique_ptr<host::files::FileService> make_service(const TempTree& t,
                                                                host::files::Policy p,
                                                                uint32_t max_open,
                                                                bool named_temp) {
    host::files::FileServiceConfig cfg;
    cfg.export_dir = t.export_dir;
    cfg.policy = std::move(p);
    cfg.max_open_files = max_open;
    cfg.putfile_named_temp = named_temp;
    auto s = host::files::FileService::create(std::move(cfg));
    REQUIRE(s);
    return std::move(*s);
  }
};

inline int32_t wire(proto::WireError e) {
  return -static_cast<int32_t>(e);
}

// A status the contract allows (an errno the host forgot to map, a positive value or garbage
// fails).
inline bool is_wire_status(int32_t status) {
  return proto::is_wire_status(status);
}

}  // namespace ringbox::test
