// The Chirp codec (shared/chirp/codec): what it accepts, what it refuses, exact round trips.
#include "shared/chirp/codec.h"
#include "shared/chirp/endpoint.h"

#include <fcntl.h>

#include <catch2/catch.hpp>

using namespace ringbox;
using namespace ringbox::chirp;

TEST_CASE("request lines split into a command and decoded words", "[chirp][codec]") {
  auto r = parse_request_line("putfile /a\\ b%20c 420 6\n");
  REQUIRE(r);
  CHECK(r->command == "putfile");
  REQUIRE(r->args.size() == 3);
  CHECK(r->args[0] == "/a b c");
  CHECK(r->args[1] == "420");
  auto tabs = parse_request_line("stat\t\t/x  \r\n");
  REQUIRE(tabs);
  CHECK(tabs->args == std::vector<std::string>{"/x"});
  auto bs = parse_request_line("stat /a\\\\b\\%41");
  REQUIRE(bs);
  CHECK(bs->args[0] == "/a\\b%41");
}

TEST_CASE("malformed request lines are refused with a reason", "[chirp][codec]") {
  for (const char* bad : {"", "   ", "Stat /x", "st@t /x", "stat /x\\", "stat %00", "stat a\\",
                          "a b c d e f g h i"}) {
    CAPTURE(bad);
    auto r = parse_request_line(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::kProtocol);
  }
  CHECK_FALSE(parse_request_line(std::string(kMaxRequestLineBytes, 'a')));
  CHECK_FALSE(parse_request_line("stat /" + std::string(kMaxPathBytes + 1, 'a')));
}

TEST_CASE("numbers are parsed exactly within their range, never overflowing", "[chirp][codec]") {
  CHECK(*parse_int("0", 0, 10) == 0);
  CHECK(*parse_int("-9223372036854775808", INT64_MIN, INT64_MAX) == INT64_MIN);
  CHECK(*parse_int("9223372036854775807", INT64_MIN, INT64_MAX) == INT64_MAX);
  CHECK(*parse_int("+12", 0, 100) == 12);
  for (const char* bad : {"", "-", "+", "1x", " 1", "9223372036854775808", "-9223372036854775809",
                          "99999999999999999999", "0x10", "1.5"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_int(bad, INT64_MIN, INT64_MAX));
  }
  CHECK_FALSE(parse_int("2147483648", 0, kCondorMaxInt));
  CHECK_FALSE(parse_int("-1", 0, 10));
}

TEST_CASE("result lines", "[chirp][codec]") {
  CHECK(*parse_result_line("-3\n") == -3);
  CHECK(*parse_result_line("4096\r\n") == 4096);
  CHECK_FALSE(parse_result_line("yes"));
  CHECK_FALSE(parse_result_line(""));
  CHECK(encode_result(-127) == "-127\n");
}

TEST_CASE("stat and statfs lines round-trip and need every field", "[chirp][codec]") {
  StatLine st{65024, 10960953, 33152, 1, 65534, 65534, 0, 11, 4096, 8, 1795538421, 1795538422, -5};
  auto line = encode_stat_line(st);
  CHECK(line == "65024 10960953 33152 1 65534 65534 0 11 4096 8 1795538421 1795538422 -5\n");
  auto back = parse_stat_line(line);
  REQUIRE(back);
  CHECK(back->ino == st.ino);
  CHECK(back->mtime == st.mtime);
  CHECK(back->ctime == -5);
  CHECK_FALSE(parse_stat_line("1 2 3 4 5 6 7 8 9 10 11 12"));
  CHECK_FALSE(parse_stat_line("1 2 3 4 5 6 7 8 9 10 11 12 13 14"));
  CHECK_FALSE(parse_stat_line("1 2 3 4 5 6 7 8 9 10 11 12 x"));
  StatfsLine sf{61267, 4096, 100, 50, 40, 1000, 900};
  auto sb = parse_statfs_line(encode_statfs_line(sf));
  REQUIRE(sb);
  CHECK(sb->ffree == 900);
  CHECK_FALSE(parse_statfs_line("1 2 3"));
}

TEST_CASE("words survive both escapings", "[chirp][codec]") {
  for (std::string w :
       {"/plain/path", "/a b/c\td", "/100%/x", "/back\\slash", "/ünï/ç", "/new\nline", "/cr\r"}) {
    for (Escaping e : {Escaping::kUrl, Escaping::kBackslash}) {
      // A raw LF ends the line whatever precedes it: the backslash dialect cannot carry one
      // (Connection refuses such paths for HTCondor peers).
      if (e == Escaping::kBackslash && w.find('\n') != std::string::npos) continue;
      CAPTURE(w, static_cast<int>(e));
      auto line = "stat " + encode_word(w, e) + "\n";
      CHECK(line.find('\n') == line.size() - 1);
      auto r = parse_request_line(line);
      REQUIRE(r);
      CHECK(r->args[0] == w);
    }
  }
}

TEST_CASE("open flags map both ways", "[chirp][codec]") {
  CHECK(*parse_open_flags("r") == O_RDONLY);
  CHECK(*parse_open_flags("w") == O_WRONLY);
  CHECK(*parse_open_flags("rwct") == (O_RDWR | O_CREAT | O_TRUNC));
  CHECK(*parse_open_flags("wcx") == (O_WRONLY | O_CREAT | O_EXCL));
  CHECK(*parse_open_flags("wa") == (O_WRONLY | O_APPEND));
  CHECK_FALSE(parse_open_flags("rz"));
  CHECK(encode_open_flags(O_RDWR | O_CREAT | O_EXCL) == "rwcx");
  CHECK(encode_open_flags(O_RDONLY) == "r");
}

TEST_CASE("errno and status codes map as both servers do", "[chirp][codec]") {
  CHECK(status_from_errno(ENOENT) == Status::kDoesntExist);
  CHECK(status_from_errno(EACCES) == Status::kNotAuthorized);
  CHECK(status_from_errno(EROFS) == Status::kNotAuthorized);
  CHECK(status_from_errno(EDQUOT) == Status::kNoSpace);
  CHECK(status_from_errno(ENOTEMPTY) == Status::kNotEmpty);
  CHECK(status_from_errno(EPROTO) == Status::kUnknown);
  for (int e : {ENOENT, EEXIST, EFBIG, ENOSPC, ENOMEM, EINVAL, EMFILE, EBUSY, EAGAIN, EBADF, EISDIR,
                ENOTDIR, ENOTEMPTY, EXDEV, ENAMETOOLONG}) {
    CAPTURE(e);
    CHECK(errno_from_status(static_cast<int64_t>(status_from_errno(e))) == e);
  }
  CHECK(errno_from_status(-127) == EIO);
  CHECK(errno_from_status(-5000) == EIO);
  CHECK(std::string(status_name(-3)) == "DOESNT_EXIST");
}

TEST_CASE("endpoints from chirp:// URLs and .chirp.config lines", "[chirp][codec]") {
  auto u = parse_chirp_url("chirp://submit.example.org:9123/jobs/42/");
  REQUIRE(u);
  CHECK(u->host == "submit.example.org");
  CHECK(u->port == 9123);
  CHECK(u->dir == "jobs/42");
  CHECK(u->kind == PeerKind::kChirpServer);
  auto v6 = parse_chirp_url("chirp://[::1]:7");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(parse_chirp_url("chirp://h")->port == 9094);
  CHECK_FALSE(parse_chirp_url("http://h:1"));
  CHECK_FALSE(parse_chirp_url("chirp://h:99999"));
  CHECK_FALSE(parse_chirp_url("chirp://:1"));
  auto c = parse_chirp_config("127.0.0.1 34305 odxzpiofahqawnkmvwsaboyacamnqmq\n", "t");
  REQUIRE(c);
  CHECK(c->port == 34305);
  CHECK(c->cookie == "odxzpiofahqawnkmvwsaboyacamnqmq");
  CHECK(c->kind == PeerKind::kCondorProxy);
  CHECK(c->escaping == Escaping::kBackslash);
  CHECK_FALSE(parse_chirp_config("127.0.0.1 34305\n", "t"));
  CHECK_FALSE(parse_chirp_config("127.0.0.1 x cookie\n", "t"));
  CHECK_FALSE(parse_chirp_config("a 1 b c\n", "t"));
}
