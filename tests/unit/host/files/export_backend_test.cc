// ExportBackend: the FileBackend contract as the export implements it. The service hands it only
// symlink-free paths; a symlink that appears in one since is refused (ELOOP), never followed.
#include "host/files/export_backend.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "host/files/file_service.h"
#include "shared/protocol/codec.h"
#include "tests/unit/host/files/temp_tree.h"

using namespace ringbox;
using namespace ringbox::host::files;
using test::TempTree;

namespace {
std::unique_ptr<ExportBackend> backend(const TempTree& t) {
  auto b = ExportBackend::create(t.export_dir, false);
  REQUIRE(b);
  return std::move(*b);
}
}  // namespace

TEST_CASE("export back end: lookup expands links inside; other calls follow nothing",
          "[files][backend]") {
  TempTree t;
  REQUIRE(::symlink("../in", t.ex("out/toin").c_str()) == 0);
  REQUIRE(::symlink("../../sentinel", t.ex("out/esc").c_str()) == 0);
  const std::string before = TempTree::snapshot(t.sentinel_dir);
  auto b = backend(t);
  auto l = b->lookup("out/toin/a.txt", Follow::kYes);
  REQUIRE(l);
  CHECK(l->path == "in/a.txt");
  auto esc = b->lookup("out/esc/passwd", Follow::kYes);
  REQUIRE_FALSE(esc);
  CHECK(esc.error().sys_errno == EXDEV);
  // The same paths handed to the path calls directly: refused by the kernel, never followed.
  OpenMode rd;
  rd.read = true;
  for (const char* p : {"out/toin/a.txt", "out/esc/passwd"}) {
    CAPTURE(p);
    auto o = b->open(p, rd);
    REQUIRE_FALSE(o);
    CHECK(o.error().sys_errno == ELOOP);
    CHECK(b->truncate(p, 0).error().sys_errno == ELOOP);
    CHECK(b->unlink(p).error().sys_errno == ELOOP);
    CHECK(b->getfile(p, 0, {}).error().sys_errno == ELOOP);
    CHECK(b->link(p, "out/x").error().sys_errno == ELOOP);
    CHECK(b->rename("out/x", p, 0).error().sys_errno == ELOOP);
    CHECK(b->putfile_stage(p, 0644).error().sys_errno == ELOOP);
  }
  // A final symlink is acted on itself: open refuses it (not a regular file or directory).
  auto fin = b->open("out/toin", rd);
  REQUIRE_FALSE(fin);
  CHECK(fin.error().sys_errno == EACCES);
  CHECK(TempTree::read_file(t.ex("in/a.txt")) == "alpha\n");
  CHECK(TempTree::snapshot(t.sentinel_dir) == before);
}

TEST_CASE("export back end: create, mkdir and uploads get exactly the mode asked",
          "[files][backend]") {
  TempTree t;
  auto b = backend(t);
  const mode_t old = ::umask(077);
  OpenMode wr;
  wr.write = true;
  auto f = b->create("out/f", wr, 0751);
  REQUIRE(f);
  auto st = (*f)->fstat();
  REQUIRE(st);
  CHECK((st->st_mode & 07777) == 0751);
  auto again = b->create("out/f", wr, 0751);
  REQUIRE_FALSE(again);
  CHECK(again.error().sys_errno == EEXIST);
  REQUIRE(b->mkdir("out/d", 01777));
  auto u = b->putfile_stage("out/u", 0666);
  REQUIRE(u);
  REQUIRE((*u)->write(std::as_bytes(std::span("abc", 3)), 0));
  auto size = (*u)->commit();
  ::umask(old);
  REQUIRE(size);
  CHECK(*size == 3);
  struct stat d {
  }, up{};
  REQUIRE(::stat(t.ex("out/d").c_str(), &d) == 0);
  REQUIRE(::stat(t.ex("out/u").c_str(), &up) == 0);
  CHECK((d.st_mode & 07777) == 01777);
  CHECK((up.st_mode & 07777) == 0666);
}

TEST_CASE("a FileService runs on a back end it is given", "[files][backend]") {
  TempTree t;
  std::shared_ptr<FileBackend> shared = backend(t);
  FileServiceConfig cfg;
  cfg.backend = shared;
  cfg.export_dir = "/nonexistent";  // unused when a back end is given
  cfg.policy = Policy::read_write();
  auto s = FileService::create(std::move(cfg));
  REQUIRE(s);
  CHECK(&(*s)->backend() == shared.get());
  test::Driver d(**s);
  CHECK(d.getfile_all("in/a.txt") == "alpha\n");
  CHECK(shared->describe() == "export '" + t.export_dir + "'");
}
