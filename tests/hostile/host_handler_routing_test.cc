// The routing the hostile tests rely on: HostHandler sends opcodes 32..50 to its FileService,
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
  CHECK(d.call(static_cast<Opcode>(51), "x").status == wire(WireError::kNoSys));
  host::HostHandler without;
  Driver d2(without);
  CHECK(d2.call(Opcode::kStat, "in/a.txt").status == wire(WireError::kNoSys));
  CHECK(d2.call(Opcode::kPutfile, "out/x", {5, 0, 0, 0}, proto::kPutfileFinal).status ==
        wire(WireError::kNoSys));
  CHECK_FALSE(TempTree::exists(host.tree.ex("out/x")));
}
