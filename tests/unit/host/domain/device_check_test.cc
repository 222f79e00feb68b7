#include "host/domain/device_check.h"

#include <catch2/catch.hpp>

using namespace ringbox::host::domain;

TEST_CASE("only the suspend event channel may appear under device/", "[domain][devices]") {
  CHECK(device_class_allowed("suspend"));
  for (const char* c : {"vif", "vbd", "vbd3", "qdisk", "9pfs", "vkbd", "vfb", "console", "pci"})
    CHECK_FALSE(device_class_allowed(c));
}

TEST_CASE("the forbidden classes of a device listing are named", "[domain][devices]") {
  CHECK(forbidden_device_classes({}).empty());
  CHECK(forbidden_device_classes({"suspend"}).empty());
  CHECK(forbidden_device_classes({"suspend", "vif", "vbd"}) ==
        std::vector<std::string>{"vif", "vbd"});
}
