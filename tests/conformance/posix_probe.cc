// ringbox-posix-probe: one POSIX behaviour per line, printed the same way on any file system, so
// the job's view can be compared with a local directory running the same binary (the local
// file system is the reference, never an expectation written in a test).
//
// usage: ringbox-posix-probe [--replace-race] [--as UID:GID] DIR
//   Makes DIR (must not exist), runs every check inside it and prints "name: result" lines on
//   stdout (with --replace-race only the atomic-replace check, hard: six readers on a busy
//   CPU). With --as (when started as root) it drops to UID:GID first, as a job runs. It leaves
//   a tree in DIR whose shape the caller may compare too (ringbox-posix-probe --manifest DIR
//   prints it: type, mode, size, FNV-1a of the bytes, link text, nlink, and mtime where a check
//   set it). Exit status 0 when every check ran (results may still differ from the
//   reference: comparing is the caller's job), 2 on a usage error.
//
// Results are errno names (ENOENT ...) or values that do not depend on the file system's
// identity (modes, sizes, set times, link counts): no inode numbers, no device numbers, no
// times the probe did not set itself.
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/fs.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string errname(int e) {
  switch (e) {
    case 0:
      return "ok";
    case ENOENT:
      return "ENOENT";
    case EEXIST:
      return "EEXIST";
    case ENOTEMPTY:
      return "ENOTEMPTY";
    case EPERM:
      return "EPERM";
    case EACCES:
      return "EACCES";
    case EINVAL:
      return "EINVAL";
    case EISDIR:
      return "EISDIR";
    case ENOTDIR:
      return "ENOTDIR";
    case ENOSYS:
      return "ENOSYS";
    case ENAMETOOLONG:
      return "ENAMETOOLONG";
    case EOPNOTSUPP:
      return "EOPNOTSUPP";
    case EXDEV:
      return "EXDEV";
    case EIO:
      return "EIO";
    case ENODEV:
      return "ENODEV";
    case ESTALE:
      return "ESTALE";
    case EBUSY:
      return "EBUSY";
    case EMLINK:
      return "EMLINK";
    default:
      return "errno" + std::to_string(e);
  }
}

// rc: a system call's return value; the result word is "ok" or the errno's name.
std::string res(long rc) {
  return rc < 0 ? errname(errno) : "ok";
}

void say(const std::string& name, const std::string& value) {
  std::printf("%s: %s\n", name.c_str(), value.c_str());
  std::fflush(stdout);
}

std::string octal(mode_t m) {
  char b[16];
  std::snprintf(b, sizeof b, "%04o", static_cast<unsigned>(m & 07777));
  return b;
}

std::string mode_of(const char* p) {
  struct stat st {};
  if (lstat(p, &st) != 0) return errname(errno);
  return octal(st.st_mode);
}

bool write_file(const char* p, const std::string& data, mode_t mode = 0644) {
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return false;
  bool ok = write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  return close(fd) == 0 && ok;
}

std::string read_file(const char* p) {
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "<" + errname(errno) + ">";
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

// 1. Rename over a directory: POSIX rename(2) says a non-empty directory target fails
//    (ENOTEMPTY or EEXIST); nothing of the target may be lost.
void check_rename_dirs() {
  mkdir("ra", 0755);
  mkdir("rb", 0755);
  write_file("rb/f", "precious");
  // POSIX allows either ENOTEMPTY or EEXIST here: both print as ENOTEMPTY.
  std::string r = res(rename("ra", "rb"));
  say("rename.dir-over-nonempty", r == "EEXIST" ? "ENOTEMPTY" : r);
  say("rename.dir-over-nonempty.kept", read_file("rb/f"));
  mkdir("rc", 0755);
  mkdir("rd", 0755);
  say("rename.dir-over-empty", res(rename("rc", "rd")));
  write_file("rfile", "x");
  say("rename.file-over-dir", res(rename("rfile", "rb")));
  say("rename.dir-over-file", res(rename("rd", "rfile")));
  say("rmdir.nonempty", res(rmdir("rb")));
  say("unlink.dir", res(unlink("rb")));
  say("rmdir.file", res(rmdir("rfile")));
  // The same with a directory made and filled by this job only.
  mkdir("re", 0755);
  mkdir("re/sub", 0755);
  write_file("re/sub/g", "guest-only");
  mkdir("rf", 0755);
  say("rename.into-new-nonempty", res(rename("rf", "re/sub")));
  say("rename.into-new-nonempty.kept", read_file("re/sub/g"));
}

// 2. Modes: the caller's umask only; chmod to any mode, the same one included.
void check_modes() {
  mode_t old = umask(0);
  int fd = open("m0777", O_CREAT | O_WRONLY | O_CLOEXEC, 0777);
  close(fd);
  mkdir("md0777", 0777);
  say("umask0.create", mode_of("m0777"));
  say("umask0.mkdir", mode_of("md0777"));
  umask(027);
  fd = open("m027", O_CREAT | O_WRONLY | O_CLOEXEC, 0777);
  close(fd);
  mkdir("md027", 0777);
  say("umask027.create", mode_of("m027"));
  say("umask027.mkdir", mode_of("md027"));
  umask(old);
  write_file("prog", "#!/bin/sh\necho ran\n", 0755);
  say("create.0755", mode_of("prog"));
  say("chmod.same", res(chmod("prog", 0755)));
  say("chmod.0700", res(chmod("prog", 0700)));
  say("chmod.0700.mode", mode_of("prog"));
  say("chmod.sticky-dir", res(chmod("md0777", 01777)));
  say("chmod.sticky-dir.mode", mode_of("md0777"));
  fd = open("prog", O_RDONLY | O_CLOEXEC);
  say("fchmod.0750", res(fchmod(fd, 0750)));
  close(fd);
  say("fchmod.0750.mode", mode_of("prog"));
  say("chmod.000", res(chmod("m027", 0)));
  say("chmod.000.mode", mode_of("m027"));
  // Linux clears setuid when an unprivileged owner writes; the write itself is allowed.
  fd = open("suid", O_CREAT | O_WRONLY | O_CLOEXEC, 04755);
  say("setuid.create", res(fd));
  say("setuid.write", res(fd >= 0 ? write(fd, "x", 1) : -1));
  if (fd >= 0) close(fd);
  mode_t m = 0;
  struct stat st {};
  if (stat("suid", &st) == 0) m = st.st_mode & 0777;  // setuid kept or not: both are allowed
  say("setuid.after-write.perm", octal(m));
  // chown to the caller's own ids succeeds; to another owner it is EPERM for a non-root job.
  say("chown.own", res(chown("prog", getuid(), getgid())));
  if (getuid() != 0) say("chown.other", res(chown("prog", 0, 0)));
}

// 3. Times set with utimensat, UTIME_OMIT and UTIME_NOW; directory times follow changes.
void check_times() {
  write_file("t", "t");
  struct timespec ts[2] = {{981173106, 0}, {981173106, 500000000}};
  say("utimens.set", res(utimensat(AT_FDCWD, "t", ts, 0)));
  struct stat st {};
  stat("t", &st);
  say("utimens.mtime",
      std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec));
  say("utimens.atime", std::to_string(st.st_atim.tv_sec));
  struct timespec omit[2] = {{0, UTIME_OMIT}, {1000000000, 0}};
  utimensat(AT_FDCWD, "t", omit, 0);
  stat("t", &st);
  say("utimens.omit-atime",
      std::to_string(st.st_atim.tv_sec) + " " + std::to_string(st.st_mtim.tv_sec));
  struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
  utimensat(AT_FDCWD, "t", now, 0);
  stat("t", &st);
  say("utimens.now-recent", std::llabs(st.st_mtim.tv_sec - time(nullptr)) < 120 ? "yes" : "no");
  // Directory times: set the directory to an old time, change its entries, look again.
  mkdir("dt", 0755);
  struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
  auto dir_changed = [&](const char* what) {
    struct stat d {};
    stat("dt", &d);
    say(std::string("dirtime.") + what,
        d.st_mtim.tv_sec > 1000000000 && d.st_ctim.tv_sec > 1000000000 ? "updated" : "stale");
    utimensat(AT_FDCWD, "dt", old, 0);
  };
  utimensat(AT_FDCWD, "dt", old, 0);
  write_file("dt/new", "n");
  dir_changed("create");
  rename("dt/new", "dt/moved");
  dir_changed("rename");
  unlink("dt/moved");
  dir_changed("unlink");
  mkdir("dt/sub", 0755);
  dir_changed("mkdir");
}

// 4. Atomic replace: readers opening the name while another thread renames over it never see
//    ENOENT nor any other error on a local file system. `contend`: the readers run at nice 19
//    next to as many spinning threads as CPUs, so a reader is often preempted between the
//    kernel's lookup of the name and its open, loses the race to the next rename, and loses
//    the retry too (the kernel retries an ESTALE open once, fs/namei.c): what a busy machine
//    does to a job polling a file another process replaces. Consecutive versions differ in
//    length and say theirs (replace_version), so a read that pairs one version's size with
//    another's bytes is seen: zeros past its end, or a cut version.
std::string replace_version(int i) {
  return "v" + std::to_string(i) + std::string(i % 2 ? 5 : 1, '.');
}

// True when b holds one whole replace_version().
bool is_replace_version(const char* b, size_t n) {
  size_t digits = 0;
  while (1 + digits < n && b[1 + digits] >= '0' && b[1 + digits] <= '9') digits++;
  if (n < 3 || b[0] != 'v' || digits == 0 || digits > 6) return false;
  int i = std::stoi(std::string(b + 1, digits));
  return std::string(b, n) == replace_version(i);
}

void check_atomic_replace(int readers, int replaces, bool contend) {
  write_file("ar", replace_version(0));
  std::atomic<bool> done{false};
  std::atomic<int> enoent{0}, other{0};
  auto reader = [&] {
    if (contend) setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 19);
    while (!done.load()) {
      int fd = open("ar", O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        if (errno != ENOENT) std::fprintf(stderr, "replace: open: %s\n", errname(errno).c_str());
        (errno == ENOENT ? enoent : other)++;
        continue;
      }
      char b[16];
      ssize_t n = read(fd, b, sizeof b);
      if (n < 0) {
        std::fprintf(stderr, "replace: read: %s\n", errname(errno).c_str());
        other++;
      } else if (!is_replace_version(b, static_cast<size_t>(n))) {
        // Some version, whole: never empty, never cut, never another version's length.
        std::string shown;
        for (ssize_t k = 0; k < n; k++)
          shown += b[k] >= 0x20 && b[k] < 0x7f ? std::string(1, b[k]) : "\\0";
        std::fprintf(stderr, "replace: read: %zd bytes not a version: %s\n", n, shown.c_str());
        other++;
      }
      close(fd);
    }
  };
  auto spinner = [&] {
    while (!done.load()) {
    }
  };
  std::vector<std::thread> threads;
  for (int r = 0; r < readers; r++) threads.emplace_back(reader);
  if (contend) {
    unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned c = 0; c < cpus; c++) threads.emplace_back(spinner);
  }
  for (int i = 0; i < replaces; i++) {
    write_file("ar.tmp", replace_version(i + 1));
    rename("ar.tmp", "ar");
  }
  done = true;
  for (auto& t : threads) t.join();
  say("replace.reader-enoent", std::to_string(enoent.load()));
  say("replace.reader-other-errors", std::to_string(other.load()));
}

// 5. Shared mappings: read-only and read-write MAP_SHARED, msync, then read(2) sees the bytes.
void check_mmap() {
  write_file("mm", std::string(8192, 'a'));
  int fd = open("mm", O_RDWR | O_CLOEXEC);
  void* ro = mmap(nullptr, 8192, PROT_READ, MAP_SHARED, fd, 0);
  say("mmap.shared-read", ro == MAP_FAILED ? errname(errno) : "ok");
  if (ro != MAP_FAILED) munmap(ro, 8192);
  void* rw = mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  say("mmap.shared-write", rw == MAP_FAILED ? errname(errno) : "ok");
  if (rw != MAP_FAILED) {
    std::memcpy(static_cast<char*>(rw) + 4096, "mapped", 6);
    say("mmap.msync", res(msync(rw, 8192, MS_SYNC)));
    munmap(rw, 8192);
  }
  close(fd);
  say("mmap.read-back", read_file("mm").substr(4096, 6));
}

// 6. statfs: a program that checks free space before writing needs non-zero numbers.
void check_statfs() {
  struct statvfs sv {};
  say("statfs", res(statvfs(".", &sv)));
  say("statfs.blocks-nonzero", sv.f_blocks > 0 ? "yes" : "no");
  say("statfs.bavail-nonzero", sv.f_bavail > 0 ? "yes" : "no");
  say("statfs.namemax", std::to_string(sv.f_namemax));
}

// 7. Deep trees: 17 levels of 250-byte names (4,267 bytes from here), each call's argument
//    short. Either it works, or the name is refused when it is created: never accepted and
//    dropped later.
void check_deep() {
  int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  std::string name(250, 'd');
  int level = 0;
  int err = 0;
  for (; level < 17; level++) {
    if (mkdir(name.c_str(), 0755) != 0 || chdir(name.c_str()) != 0) {
      err = errno;
      break;
    }
  }
  bool wrote = err == 0 && write_file("leaf", "deep\n");
  // Take the tree down again from the bottom: it proved what it had to, and an eager job's
  // write-back cannot carry a path longer than the wire's 4,096 bytes (that case is reported,
  // and tested, on its own).
  if (wrote) unlink("leaf");
  rmdir(name.c_str());  // made at the level where chdir failed, if it was
  for (int i = 0; i < level; i++) {
    if (chdir("..") != 0) std::abort();
    rmdir(name.c_str());
  }
  if (fchdir(cwd) != 0) std::abort();
  close(cwd);
  say("deep.17x250",
      err == 0 ? (wrote ? "ok" : "leaf-refused") : "refused-at-create " + errname(err));
  // A symlink's target text may hold a component longer than NAME_MAX.
  std::string target = std::string(256, 'x') + "/y";
  say("symlink.long-component", res(symlink(target.c_str(), "longlink")));
  char buf[512] = {};
  ssize_t n = readlink("longlink", buf, sizeof buf - 1);
  say("symlink.long-component.text", n == static_cast<ssize_t>(target.size()) ? "same" : "differs");
}

// 8. Smaller ones.
void check_small() {
  write_file("ul", "x");
  int fd = open("ul", O_RDWR | O_CLOEXEC);
  unlink("ul");
  struct stat st {};
  fstat(fd, &st);
  say("unlink.fstat-nlink", std::to_string(st.st_nlink));
  say("unlink.write-after", res(write(fd, "y", 1)));
  close(fd);
  write_file("tr", "content");
  fd = open("tr", O_RDONLY | O_TRUNC | O_CLOEXEC);
  say("open.rdonly-trunc", res(fd));
  if (fd >= 0) close(fd);
  stat("tr", &st);
  say("open.rdonly-trunc.size", std::to_string(st.st_size));
  // Hard links.
  write_file("h1", "one");
  say("link", res(link("h1", "h2")));
  stat("h1", &st);
  say("link.nlink", std::to_string(st.st_nlink));
  write_file("h2", "two");
  say("link.shared-bytes", read_file("h1"));
  say("link.dir", res(link("md027", "mdlink")));
  // FIFOs and Unix sockets live where the job runs.
  say("mkfifo", res(mkfifo("fifo", 0600)));
  int r = open("fifo", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  int w = open("fifo", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  char b[8] = {};
  bool piped = r >= 0 && w >= 0 && write(w, "pipe", 4) == 4 && read(r, b, 4) == 4;
  say("mkfifo.pass", piped ? std::string(b) : "failed " + errname(errno));
  if (r >= 0) close(r);
  if (w >= 0) close(w);
  stat("fifo", &st);
  say("mkfifo.type", S_ISFIFO(st.st_mode) ? "fifo" : "other");
  int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strcpy(sa.sun_path, "sock");
  say("socket.bind", res(bind(srv, reinterpret_cast<sockaddr*>(&sa), sizeof sa)));
  listen(srv, 1);
  int cli = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  say("socket.connect", res(connect(cli, reinterpret_cast<sockaddr*>(&sa), sizeof sa)));
  int acc = accept4(srv, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  char sb[8] = {};
  bool passed = acc >= 0 && write(cli, "sock", 4) == 4 && (usleep(10000), read(acc, sb, 4)) == 4;
  say("socket.pass", passed ? std::string(sb) : "failed");
  for (int s : {acc, cli, srv})
    if (s >= 0) close(s);
  say("socket.unlink", res(unlink("sock")));
  // renameat2 flags.
  write_file("xa", "A");
  write_file("xb", "B");
  say("renameat2.noreplace",
      res(syscall(SYS_renameat2, AT_FDCWD, "xa", AT_FDCWD, "xb", RENAME_NOREPLACE)));
  say("renameat2.exchange",
      res(syscall(SYS_renameat2, AT_FDCWD, "xa", AT_FDCWD, "xb", RENAME_EXCHANGE)));
  say("renameat2.exchange.result", read_file("xa") + read_file("xb"));
  // fallocate.
  fd = open("fa", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  say("fallocate", res(fallocate(fd, 0, 0, 1 << 20)));
  fstat(fd, &st);
  say("fallocate.size", std::to_string(st.st_size));
  say("fallocate.keep-size", res(fallocate(fd, FALLOC_FL_KEEP_SIZE, 1 << 20, 4096)));
  fstat(fd, &st);
  say("fallocate.keep-size.size", std::to_string(st.st_size));
  close(fd);
  // An empty directory and a symlink the job leaves behind are outputs too.
  mkdir("empty", 0700);
  say("symlink.relative", res(symlink("h1", "rel-link")));
}

// --manifest: the tree below DIR, one line per entry in name order.
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

void manifest(const std::string& dir, const std::string& rel) {
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (dirent* e = readdir(d))
    if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) names.emplace_back(e->d_name);
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    std::string p = dir + "/" + n, r = rel.empty() ? n : rel + "/" + n;
    std::string shown =
        r.size() > 80 ? r.substr(0, 20) + "...(" + std::to_string(r.size()) + ")" : r;
    struct stat st {};
    if (lstat(p.c_str(), &st) != 0) continue;
    char line[512];
    if (S_ISDIR(st.st_mode)) {
      std::snprintf(line, sizeof line, "d %s %s", octal(st.st_mode).c_str(), shown.c_str());
      std::puts(line);
      manifest(p, r);
    } else if (S_ISLNK(st.st_mode)) {
      char t[4200] = {};
      ssize_t k = readlink(p.c_str(), t, sizeof t - 1);
      std::string text(t, k > 0 ? static_cast<size_t>(k) : 0);
      std::snprintf(line, sizeof line, "l %s -> %.60s", shown.c_str(), text.c_str());
      std::puts(line);
    } else if (S_ISREG(st.st_mode)) {
      bool set_time = st.st_mtim.tv_sec < 1100000000;  // only times a check set (2001-2004)
      std::snprintf(line, sizeof line, "f %s %lld %016llx n%lu %s %s", octal(st.st_mode).c_str(),
                    static_cast<long long>(st.st_size),
                    static_cast<unsigned long long>(fnv1a(read_file(p.c_str()))),
                    static_cast<unsigned long>(st.st_nlink),
                    set_time ? std::to_string(st.st_mtim.tv_sec).c_str() : "-", shown.c_str());
      std::puts(line);
    } else {
      std::snprintf(line, sizeof line, "o %s", shown.c_str());
      std::puts(line);
    }
  }
}

int usage() {
  std::fprintf(stderr,
               "usage: ringbox-posix-probe [--replace-race] [--as UID:GID] DIR\n"
               "       ringbox-posix-probe --manifest DIR\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  bool replace_race = false;
  if (!args.empty() && args[0] == "--replace-race") {
    replace_race = true;
    args.erase(args.begin());
  }
  if (args.size() == 2 && args[0] == "--manifest") {
    manifest(args[1], "");
    return 0;
  }
  unsigned uid = 0, gid = 0;
  bool drop = false;
  if (args.size() == 3 && args[0] == "--as") {
    if (std::sscanf(args[1].c_str(), "%u:%u", &uid, &gid) != 2) return usage();
    drop = true;
    args.erase(args.begin(), args.begin() + 2);
  }
  if (args.size() != 1) return usage();
  if (mkdir(args[0].c_str(), 0777) != 0 && errno != EEXIST) {
    std::fprintf(stderr, "ringbox-posix-probe: cannot make %s: %s\n", args[0].c_str(),
                 std::strerror(errno));
    return 2;
  }
  if (drop) {
    if (chown(args[0].c_str(), uid, gid) != 0 || setgroups(0, nullptr) != 0 || setgid(gid) != 0 ||
        setuid(uid) != 0) {
      std::fprintf(stderr, "ringbox-posix-probe: cannot become %u:%u: %s\n", uid, gid,
                   std::strerror(errno));
      return 2;
    }
  }
  if (chdir(args[0].c_str()) != 0) {
    std::fprintf(stderr, "ringbox-posix-probe: cannot enter %s: %s\n", args[0].c_str(),
                 std::strerror(errno));
    return 2;
  }
  umask(022);
  check_rename_dirs();
  check_modes();
  check_times();
  if (replace_race) {
    check_atomic_replace(6, 1000, true);
    say("probe", "done");
    return 0;
  }
  check_atomic_replace(1, 300, false);
  check_mmap();
  check_statfs();
  check_deep();
  check_small();
  say("probe", "done");
  return 0;
}
