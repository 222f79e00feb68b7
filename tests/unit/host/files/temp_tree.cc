#include "tests/unit/host/files/temp_tree.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace ringbox::test {

TempTree::TempTree() {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/ringbox-files-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  REQUIRE(::mkdtemp(buf.data()) != nullptr);
  base = buf.data();
  export_dir = base + "/export";
  sentinel_dir = base + "/sentinel";
  fs::create_directories(export_dir + "/in/sub");
  fs::create_directories(export_dir + "/out");
  fs::create_directories(export_dir + "/secret");
  fs::create_directories(sentinel_dir + "/dir");
  write_file(ex("in/a.txt"), "alpha\n");
  write_file(ex("in/sub/b.txt"), "bravo\n");
  write_file(ex("secret/s.txt"), "top secret\n");
  write_file(sentinel_dir + "/passwd", "root:x:0:0::/root:/bin/sh\n");
  write_file(sentinel_dir + "/dir/x", "sentinel x\n");
}

TempTree::~TempTree() {
  std::error_code ec;
  fs::remove_all(base, ec);  // does not follow symlinks
}

void TempTree::write_file(const std::string& path, std::string_view content) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  REQUIRE(f.good());
  f.write(content.data(), static_cast<std::streamsize>(content.size()));
  REQUIRE(f.good());
}

std::string TempTree::read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool TempTree::exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string TempTree::snapshot(const std::string& dir) {
  std::vector<std::string> lines;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const std::string p = it->path().string();
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) continue;
    std::ostringstream line;
    line << p.substr(dir.size()) << " mode=" << std::oct << st.st_mode << std::dec
         << " size=" << st.st_size << " mtime=" << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec
         << " ino=" << st.st_ino;
    if (S_ISLNK(st.st_mode)) {
      line << " -> " << fs::read_symlink(p, ec).string();
    } else if (S_ISREG(st.st_mode)) {
      std::string c = read_file(p);
      uint64_t h = 0xcbf29ce484222325ull;
      for (unsigned char ch : c) h = (h ^ ch) * 0x100000001b3ull;
      line << " fnv=" << std::hex << h;
    }
    lines.push_back(line.str());
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (auto& l : lines) out += l + "\n";
  return out;
}

std::vector<std::string> TempTree::list(const std::string& dir) {
  std::vector<std::string> names;
  for (auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

rpc::Reply Driver::call(proto::Opcode op, std::string_view payload, std::array<uint64_t, 4> arg,
                        uint16_t flags) {
  REQUIRE(payload.size() <= buf_.size());
  if (!payload.empty()) std::memcpy(buf_.data(), payload.data(), payload.size());
  rpc::Request req;
  req.id = 1;
  req.opcode = static_cast<uint16_t>(op);
  req.flags = flags;
  req.arg = arg;
  req.in = rpc::SharedBytes(std::span<const std::byte>(buf_.data(), payload.size()));
  req.out = std::span<std::byte>(buf_);
  last_ = handler_.handle(req);
  REQUIRE(last_.out_len <= buf_.size());
  if (last_.status != 0) REQUIRE(last_.out_len == 0);
  return last_;
}

std::string Driver::getfile_all(std::string_view path) {
  std::string all;
  for (;;) {
    auto r = getfile(path, all.size());
    REQUIRE(r.status == 0);
    all += out_string();
    if (all.size() >= r.val[0] || r.out_len == 0) return all;
  }
}

}  // namespace ringbox::test
