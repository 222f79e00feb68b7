// InodeTable and LocalNodes: the view's name bookkeeping (guest/fs). The rules come from
// rename(2)/renameat2(2), link(2) and unlink(2): names move with their directory, a replaced or
// removed name detaches its inode, hard links share one inode, RENAME_EXCHANGE swaps subtrees.
#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <memory>
#include <thread>

#include "guest/fs/inode_table.h"
#include "guest/fs/local_nodes.h"

using namespace ringbox::guest::fs;

TEST_CASE("rename moves an inode and everything beneath it", "[guest][inode]") {
  InodeTable t;
  uint64_t dir = t.remember("a", true);
  uint64_t file = t.remember("a/f");
  t.renamed("a", "b");
  CHECK(t.path(dir) == "b");
  CHECK(t.path(file) == "b/f");
  CHECK(t.child_path(dir, "g") == "b/g");
}

TEST_CASE("a replaced file answers ESTALE, a removed directory ENOENT", "[guest][inode]") {
  InodeTable t;
  uint64_t old_file = t.remember("f");
  uint64_t tmp = t.remember("f.tmp");
  t.renamed("f.tmp", "f");  // os.replace("f.tmp", "f")
  CHECK_FALSE(t.path(old_file));
  CHECK(t.gone_errno(old_file) == ESTALE);  // the kernel looks "f" up again
  CHECK(t.path(tmp) == "f");
  CHECK(t.replaced_name(old_file) == "f");  // remote-io opens what "f" holds now
  CHECK_FALSE(t.replaced_name(tmp));        // still named
  uint64_t d = t.remember("d", true);
  t.removed("d");
  CHECK(t.gone_errno(d) == ENOENT);
  CHECK_FALSE(t.replaced_name(d));  // removed, not replaced
  CHECK(t.gone_errno(12345) == ENOENT);
  // A new file under the old name is a new inode.
  CHECK(t.remember("d") != d);
}

TEST_CASE("a hard link shares the inode until its last name goes", "[guest][inode]") {
  InodeTable t;
  uint64_t f = t.remember("f");
  uint64_t g = t.remember_link("f", "dir/g");
  CHECK(g == f);
  t.removed("f");
  CHECK(t.path(f) == "dir/g");  // still named
  t.renamed("dir", "dir2");
  CHECK(t.path(f) == "dir2/g");
  t.removed("dir2/g");
  CHECK_FALSE(t.path(f));
  CHECK(t.gone_errno(f) == ESTALE);
  CHECK_FALSE(t.replaced_name(f));  // unlinked: no name to open again
  // Two kernel references (lookup + link reply): the inode goes with the second forget.
  CHECK_FALSE(t.forget(f, 1));
  CHECK(t.forget(f, 1));
}

TEST_CASE("exchange swaps two subtrees", "[guest][inode]") {
  InodeTable t;
  uint64_t a = t.remember("a", true);
  uint64_t af = t.remember("a/f");
  uint64_t b = t.remember("b");
  t.exchanged("a", "b");
  CHECK(t.path(a) == "b");
  CHECK(t.path(af) == "b/f");
  CHECK(t.path(b) == "a");
  CHECK(t.remember("b/f") == af);
}

TEST_CASE("a rename over a directory detaches what was beneath it", "[guest][inode]") {
  InodeTable t;
  uint64_t target_child = t.remember("b/x");
  uint64_t src = t.remember("a", true);
  t.renamed("a", "b");
  CHECK_FALSE(t.path(target_child));
  CHECK_FALSE(t.replaced_name(target_child));  // "b/x" may name something else now
  CHECK(t.path(src) == "b");
}

TEST_CASE("an answer a name change overlapped is not remembered", "[guest][inode]") {
  InodeTable t;
  uint64_t old_file = t.remember("ar");
  t.remember("ar.tmp");
  // A lookup of "ar" asks the host while a rename over "ar" is under way: the host may already
  // hold the new file there, and the table still the old one.
  auto before = t.epoch("ar");
  {
    InodeTable::NameChange change(t, "ar.tmp", "ar");
    CHECK_FALSE(t.unchanged_since(before, "ar"));
    CHECK_FALSE(t.remember_if_unchanged("ar", false, before));
    auto during = t.epoch("ar");  // begun while the change is under way: never trusted
    CHECK_FALSE(t.remember_if_unchanged("ar", false, during));
    CHECK(t.unchanged_since(t.epoch("other"), "other"));  // a name it does not touch
    t.renamed("ar.tmp", "ar");
  }
  CHECK_FALSE(t.unchanged_since(before, "ar"));  // it ended, but it overlapped
  CHECK_FALSE(t.remember_if_unchanged("ar", false, before));
  // Asked again after it: the answer fits the table, and names the new file's inode.
  auto after = t.epoch("ar");
  CHECK(t.unchanged_since(after, "ar"));
  auto ino = t.remember_if_unchanged("ar", false, after);
  REQUIRE(ino);
  CHECK(*ino != old_file);
  CHECK(t.path(*ino) == "ar");
  // A change that began and ended in between is seen too; one elsewhere is not.
  auto e = t.epoch("ar");
  { InodeTable::NameChange change(t, "x.tmp", "x"); }
  CHECK(t.unchanged_since(e, "ar"));
  { InodeTable::NameChange change(t, "ar"); }  // an unlink of "ar"
  CHECK_FALSE(t.unchanged_since(e, "ar"));
}

TEST_CASE("a name change touches the names beneath it, and the table reads both at once",
          "[guest][inode]") {
  InodeTable t;
  uint64_t d = t.remember("d", true);
  uint64_t f = t.remember("d/f");
  auto named = t.path_and_epoch(f);
  REQUIRE(named);
  CHECK(named->first == "d/f");
  {
    InodeTable::NameChange change(t, "d", "e");  // its directory moves
    CHECK_FALSE(t.unchanged_since(named->second, "d/f"));
    auto child = t.child_path_and_epoch(d, "g");
    REQUIRE(child);
    CHECK(child->first == "d/g");
    CHECK_FALSE(child->second.quiet);
    t.renamed("d", "e");
  }
  CHECK(t.path_and_epoch(f)->first == "e/f");
  CHECK_FALSE(t.path_and_epoch(12345));
  CHECK_FALSE(t.child_path_and_epoch(12345, "g"));
  // Changes elsewhere: trusted while the table still remembers them all (256), not after.
  auto e = t.epoch("e/f");
  for (int i = 0; i < 256; ++i) InodeTable::NameChange change(t, "x" + std::to_string(i));
  CHECK(t.unchanged_since(e, "e/f"));
  { InodeTable::NameChange change(t, "y"); }
  CHECK_FALSE(t.unchanged_since(e, "e/f"));  // 257: one of them is forgotten
  auto e2 = t.epoch("e/f");
  for (int i = 0; i < 10; ++i) InodeTable::NameChange change(t, "x" + std::to_string(i));
  CHECK(t.unchanged_since(e2, "e/f"));
}

TEST_CASE("a reader waits for the name change it met to end", "[guest][inode]") {
  InodeTable t;
  t.remember("ar");
  auto change = std::make_unique<InodeTable::NameChange>(t, "ar.tmp", "ar");
  CHECK_FALSE(t.epoch("ar").quiet);
  std::thread ender([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    change.reset();
  });
  t.wait_quiet("ar", 60000);  // returns when the change ends, not after a minute
  CHECK(t.epoch("ar").quiet);
  ender.join();
  t.wait_quiet("ar", 60000);  // nothing under way: at once
  auto other = InodeTable::NameChange(t, "x");
  t.wait_quiet("ar", 60000);  // a change elsewhere is not waited for
}

TEST_CASE("local nodes follow rename, exchange, link and unlink", "[guest][nodes]") {
  LocalNodes n;
  REQUIRE(n.add("d/p", S_IFIFO | 0644, 7));
  CHECK_FALSE(n.add("d/p", S_IFIFO | 0644, 8));
  CHECK(n.any_beneath("d"));
  CHECK_FALSE(n.any_beneath("d/p"));
  CHECK(n.longest_beneath("d") == 3);
  n.rename("d", "e");
  CHECK_FALSE(n.find("d/p"));
  auto p = n.find("e/p");
  REQUIRE(p);
  CHECK(n.link("e/p", "q"));
  CHECK(n.read(*p).nlink == 2);
  auto kids = n.children("e");
  REQUIRE(kids.size() == 1);
  CHECK(kids[0].first == "p");
  CHECK(S_ISFIFO(kids[0].second));
  n.exchange("e", "q");  // "q" was a second name of the FIFO; "e" a directory holding it
  CHECK(n.find("e") == p);
  CHECK(n.find("q/p") == p);
  CHECK(n.erase("e"));
  CHECK(n.erase("q/p"));
  CHECK(n.read(*p).nlink == 0);  // what fstat of the open FIFO shows
  CHECK_FALSE(n.erase("q/p"));
}
