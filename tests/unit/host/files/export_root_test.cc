// ExportRoot: every lookup lands beneath the export, symlinks are expanded by us (never by the
// kernel) and only within the export, and only regular files and directories open for I/O.
#include "host/files/export_root.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/unit/host/files/temp_tree.h"

using namespace ringbox;
using namespace ringbox::host::files;
using ringbox::test::TempTree;

namespace {
void make_symlink(const std::string& target, const std::string& at) {
  REQUIRE(::symlink(target.c_str(), at.c_str()) == 0);
}
int err_of(const Error& e) {
  return e.sys_errno;
}
}  // namespace

TEST_CASE("an export that is missing or not a directory is refused with its name",
          "[files][root]") {
  TempTree t;
  auto missing = ExportRoot::open(t.base + "/nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().what.find("/nope") != std::string::npos);
  auto file = ExportRoot::open(t.ex("in/a.txt"));
  REQUIRE_FALSE(file);
  CHECK(file.error().sys_errno == ENOTDIR);
}

TEST_CASE("plain paths resolve in one step to the object beneath the root", "[files][root]") {
  TempTree t;
  auto root = ExportRoot::open(t.export_dir);
  REQUIRE(root);
  auto r = root->resolve("in/sub/b.txt", Follow::kYes);
  REQUIRE(r);
  CHECK(r->path == "in/sub/b.txt");
  CHECK(S_ISREG(r->st.st_mode));
  auto dot = root->resolve(".", Follow::kYes);
  REQUIRE(dot);
  CHECK(S_ISDIR(dot->st.st_mode));
  auto none = root->resolve("in/none", Follow::kYes);
  REQUIRE_FALSE(none);
  CHECK(err_of(none.error()) == ENOENT);
}

TEST_CASE("symlinks inside the export resolve to their symlink-free path", "[files][root]") {
  TempTree t;
  make_symlink("../in/sub", t.ex("out/dirlink"));
  make_symlink("b.txt", t.ex("in/sub/blink"));
  auto root = ExportRoot::open(t.export_dir);
  REQUIRE(root);
  // Intermediate link: always followed, by us.
  auto r = root->resolve("out/dirlink/b.txt", Follow::kNo);
  REQUIRE(r);
  CHECK(r->path == "in/sub/b.txt");
  // Final link: followed only when asked.
  auto link = root->resolve("out/dirlink/blink", Follow::kNo);
  REQUIRE(link);
  CHECK(link->path == "in/sub/blink");
  CHECK(S_ISLNK(link->st.st_mode));
  auto target = root->resolve("out/dirlink/blink", Follow::kYes);
  REQUIRE(target);
  CHECK(target->path == "in/sub/b.txt");
  CHECK(S_ISREG(target->st.st_mode));
}

TEST_CASE("a chain of symlinks is followed, a loop or an over-long chain is ELOOP",
          "[files][root]") {
  TempTree t;
  make_symlink("l2", t.ex("in/l1"));
  make_symlink("l3", t.ex("in/l2"));
  make_symlink("sub/b.txt", t.ex("in/l3"));
  make_symlink("loop-b", t.ex("in/loop-a"));
  make_symlink("loop-a", t.ex("in/loop-b"));
  for (int i = 0; i <= kMaxSymlinkHops; ++i)
    make_symlink("c" + std::to_string(i + 1), t.ex("in/c" + std::to_string(i)));
  TempTree::write_file(t.ex("in/c" + std::to_string(kMaxSymlinkHops + 1)), "end");
  auto root = ExportRoot::open(t.export_dir);
  REQUIRE(root);
  auto chain = root->resolve("in/l1", Follow::kYes);
  REQUIRE(chain);
  CHECK(chain->path == "in/sub/b.txt");
  auto loop = root->resolve("in/loop-a", Follow::kYes);
  REQUIRE_FALSE(loop);
  CHECK(err_of(loop.error()) == ELOOP);
  auto longest_ok = root->resolve("in/c1", Follow::kYes);  // 40 hops
  REQUIRE(longest_ok);
  auto too_long = root->resolve("in/c0", Follow::kYes);  // 41 hops
  REQUIRE_FALSE(too_long);
  CHECK(err_of(too_long.error()) == ELOOP);
}

TEST_CASE("symlinks that leave the export are EXDEV, whatever their form", "[files][root]") {
  TempTree t;
  make_symlink("../../sentinel", t.ex("out/rel-escape"));
  make_symlink(t.sentinel_dir, t.ex("out/abs-escape"));
  make_symlink("/proc/self/root", t.ex("out/magic"));
  make_symlink("/proc/self/cwd", t.ex("out/magic-cwd"));
  make_symlink("sub/../../../sentinel/passwd", t.ex("in/sneaky"));
  auto root = ExportRoot::open(t.export_dir);
  REQUIRE(root);
  for (const char* p : {"out/rel-escape/passwd", "out/abs-escape/passwd", "out/magic/etc/passwd",
                        "out/magic-cwd", "in/sneaky"}) {
    CAPTURE(p);
    auto r = root->resolve(p, Follow::kYes);
    REQUIRE_FALSE(r);
    CHECK(err_of(r.error()) == EXDEV);
  }
  // Not following the final link is fine: it is an object inside the export.
  auto link = root->resolve("out/abs-escape", Follow::kNo);
  REQUIRE(link);
  CHECK(S_ISLNK(link->st.st_mode));
}

TEST_CASE("a directory swapped for a symlink between two lookups is not followed out",
          "[files][root]") {
  TempTree t;
  std::filesystem::create_directories(t.ex("out/d"));
  TempTree::write_file(t.ex("out/d/f"), "inside");
  auto root = ExportRoot::open(t.export_dir);
  REQUIRE(root);
  auto before = root->resolve("out/d/f", Follow::kYes);
  REQUIRE(before);
  CHECK(before->path == "out/d/f");
  REQUIRE(::rename(t.ex("out/d").c_str(), t.ex("out/d-old").c_str()) == 0);
  make_symlink(t.sentinel_dir + "/dir", t.ex("out/d"));
  TempTree::write_file(t.sentinel_dir + "/dir/f", "outside");
  auto after = root->resolve("out/d/f", Follow::kYes);
  REQUIRE_FALSE(after);
  CHECK(err_of(after.error()) == EXDEV);
  // The fd resolved before the swap still names the file that was checked.
  auto io = root->open_for_io(*before, O_RDONLY);
  REQUIRE(io);
  char buf[16] = {};
  CHECK(::read(io->get(), buf, sizeof(buf)) == 6);
  CHECK(std::string(buf) == "inside");
}

TEST_CASE("parents resolve with their name; the root has no parent", "[files][root]") {
  TempTree t;
  make_symlink("in/sub", t.ex("sublink"));
  auto root = ExportRoot::open(t.export_dir);
  REQUIRE(root);
  auto p = root->resolve_parent("sublink/new.txt");
  REQUIRE(p);
  CHECK(p->dir_path == "in/sub");
  CHECK(p->name == "new.txt");
  CHECK(p->path() == "in/sub/new.txt");
  auto top = root->resolve_parent("x");
  REQUIRE(top);
  CHECK(top->dir_path == ".");
  auto dot = root->resolve_parent(".");
  REQUIRE_FALSE(dot);
  CHECK(err_of(dot.error()) == EINVAL);
  auto notdir = root->resolve_parent("in/a.txt/x");
  REQUIRE_FALSE(notdir);
  CHECK(err_of(notdir.error()) == ENOTDIR);
}

TEST_CASE("only regular files and directories open for I/O; a FIFO never blocks the host",
          "[files][root]") {
  TempTree t;
  REQUIRE(::mkfifo(t.ex("in/fifo").c_str(), 0644) == 0);
  auto root = ExportRoot::open(t.export_dir);
  REQUIRE(root);
  auto fifo = root->resolve("in/fifo", Follow::kYes);  // O_PATH: does not block
  REQUIRE(fifo);
  auto io = root->open_for_io(*fifo, O_RDONLY);
  REQUIRE_FALSE(io);
  CHECK(err_of(io.error()) == EACCES);
  if (::mknod(t.ex("in/null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0) {
    auto dev = root->resolve("in/null", Follow::kYes);
    REQUIRE(dev);
    auto dio = root->open_for_io(*dev, O_RDWR);
    REQUIRE_FALSE(dio);
    CHECK(err_of(dio.error()) == EACCES);
  } else {
    WARN("mknod not permitted here; device-node case not exercised");
  }
  auto dir = root->resolve("in", Follow::kYes);
  REQUIRE(dir);
  CHECK(root->open_for_io(*dir, O_RDONLY | O_DIRECTORY));
}
