// The Chirp wire protocol as ringbox speaks it: one contract for the client (shared/chirp/client)
// and the server (host/submitd). Chirp is the file protocol of the HTCondor starter's IO proxy
// and of cctools' chirp_server; the summary with sources and observed traces is
// ../shared/research/chirp-protocol.md (HTCondor src/condor_starter.V6.1/io_proxy_handler.cpp,
// src/condor_chirp/PROTOCOL; cctools chirp/src/chirp_protocol.h, chirp_server.c).
//
// Framing (one outstanding call per connection, no tags):
//   request  = "command arg1 arg2 ...\n" [payload of a length given in the line]
//   response = "<signed decimal>\n" [payload], >= 0 success, < 0 an Error below.
// Payloads after a response: counted (pread, getfile, readlink, whoami: exactly N bytes),
// one stat line (stat, lstat, fstat, and open after its fd), one statfs line (statfs, fstatfs),
// a line list ended by an empty line (getdir, getlongdir: cctools answers 0, HTCondor the byte
// count N of the list; read lines until the empty one either way).
// putfile is two-phase: "putfile path mode len\n" -> go-ahead (>= 0) -> len bytes -> count;
// HTCondor's proxy sends no second reply when len == 0.
//
// Limits: the HTCondor proxy parses every number as a C int and refuses more than 256 MiB per
// call (shadow MAX_REMOTE_BUF_SIZE); cctools answers pread with at most 16 MiB and drops lines
// over 1024 bytes. Words are escaped: cctools URL-encodes (%XX), HTCondor backslash-escapes.
#pragma once

#include <cstdint>

namespace ringbox::chirp {

// Response codes < 0 (HTCondor chirp_protocol.h, cctools chirp_protocol.h). A relay that serves
// both worlds emits only -1..-17 and -127 (HTCondor clients know no others).
enum class Status : int32_t {
  kNotAuthenticated = -1,
  kNotAuthorized = -2,
  kDoesntExist = -3,
  kAlreadyExists = -4,
  kTooBig = -5,
  kNoSpace = -6,
  kNoMemory = -7,
  kInvalidRequest = -8,
  kTooManyOpen = -9,
  kBusy = -10,
  kTryAgain = -11,
  kBadFd = -12,
  kIsDir = -13,
  kNotDir = -14,
  kNotEmpty = -15,
  kCrossDeviceLink = -16,
  kOffline = -17,
  kTimedOut = -18,
  kDisconnected = -19,
  kGrpUnreachable = -20,
  kNoSuchJob = -21,
  kIsAPipe = -22,
  kNotSupported = -23,
  kNameTooLong = -24,
  kUnknown = -127,
};

// Longest request line the server accepts, LF included (HTCondor's CHIRP_LINE_MAX).
inline constexpr size_t kMaxRequestLineBytes = 5120;
// Longest request line the client sends: cctools silently drops longer ones.
inline constexpr size_t kMaxClientLineBytes = 1024;
// Longest line the client accepts in a response (a stat line is at most 13 * 21 bytes; a
// directory entry name is at most NAME_MAX escaped, plus slack for hostile peers' honest ones).
inline constexpr size_t kMaxResponseLineBytes = 4096;
// Longest decoded path either side handles (PATH_MAX is 4096; cctools uses 1024).
inline constexpr size_t kMaxPathBytes = 4096;
// Most words in one request line (putfile has 4, sread 6).
inline constexpr size_t kMaxWords = 8;
// HTCondor proxy: numbers are C ints, and one call moves at most 256 MiB.
inline constexpr int64_t kCondorMaxInt = 2147483647;
inline constexpr int64_t kCondorMaxCallBytes = 256ll << 20;
// cctools chirp_server answers pread with at most 16 MiB.
inline constexpr int64_t kCctoolsMaxPreadBytes = 16ll << 20;
// Most entries the client accepts in one directory listing (bounds memory against a peer).
inline constexpr size_t kMaxDirEntries = 1u << 20;

// The stat line: 13 decimals in this order (cctools chirp_stat_encode, HTCondor shadow
// stat_string). mode is the raw st_mode; dev and rdev are informational only.
struct StatLine {
  int64_t dev = 0, ino = 0, mode = 0, nlink = 0, uid = 0, gid = 0, rdev = 0, size = 0, blksize = 0,
          blocks = 0, atime = 0, mtime = 0, ctime = 0;
};
inline constexpr int kStatFields = 13;

// The statfs line: 7 decimals (cctools chirp_statfs_encode).
struct StatfsLine {
  int64_t type = 0, bsize = 0, blocks = 0, bfree = 0, bavail = 0, files = 0, ffree = 0;
};
inline constexpr int kStatfsFields = 7;

// How words are escaped on the wire. kUrl: cctools (%XX for anything outside a safe set);
// kBackslash: HTCondor (backslash before space, tab, CR, LF, backslash and '%').
enum class Escaping { kUrl, kBackslash };

}  // namespace ringbox::chirp
