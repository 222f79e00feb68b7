// The routing the hostile tests rely on: HostHandler sends opcodes 32..54 to its FileService,
// and refuses them when it has none.
#include <catch2/catch.hpp>

#include "host/files/file_service.h"
#include "host/host_handler.h"
#include "tests/hostile/host_under_test.h"
#include "tests/unit/host/files/temp_tree.h"

using namespace ringbox;
using namespace ringbox::test;
using proto::Opcode;
using proto::WireError;

TEST_CASE("HostHandler routes the file opcodes to its file service, or refuses them",
          "[hostile][routing]") {
  HostUnderTest host;
  Driver d(host.handler);
  CHECK(d.call(Opcode::kStat, "in/a.txt").status == 0);
  CHECK(d.call(Opcode::kPing, "xy").status == 0);
  CHECK(d.out_string() == "xy");
  CHECK(d.call(Opcode::kStatfs, ".").status == 0);  // v2 opcodes reach the service
  CHECK(d.call(static_cast<Opcode>(55), "x").status == wire(WireError::kNoSys));
  host::HostHandler without;
  Driver d2(without);
  // Without a file service every file opcode, v2's 51..54 included, is a clean kNoSys.
  for (Opcode op : {Opcode::kSetattr, Opcode::kLink, Opcode::kStatfs, Opcode::kFallocate})
    CHECK(d2.call(op, "x", {1, 1, 1, 0}).status == wire(WireError::kNoSys));
  CHECK(d2.call(Opcode::kStat, "in/a.txt").status == wire(WireError::kNoSys));
  CHECK(d2.call(Opcode::kPutfile, "out/x", {5, 0, 0, 0}, proto::kPutfileFinal).status ==
        wire(WireError::kNoSys));
  CHECK_FALSE(TempTree::exists(host.tree.ex("out/x")));
}
