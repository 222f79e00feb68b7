#include "host/service/service_policy.h"

#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "host/run/run_config.h"
#include "shared/util/split.h"

namespace ringbox::host::service {
namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::string user_name(uid_t uid) {
  std::vector<char> buf(16384);
  passwd pw, *res = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) != 0 || !res) return "";
  return pw.pw_name;
}

std::string group_name(gid_t gid) {
  std::vector<char> buf(16384);
  group gr, *res = nullptr;
  if (::getgrgid_r(gid, &gr, buf.data(), buf.size(), &res) != 0 || !res) return "";
  return gr.gr_name;
}

}  // namespace

bool ServicePolicy::allows(uid_t uid, const std::vector<gid_t>& groups) const {
  std::string name = user_name(uid);
  bool star = std::find(allow_users.begin(), allow_users.end(), "*") != allow_users.end();
  if (!name.empty() && std::find(allow_users.begin(), allow_users.end(), name) != allow_users.end())
    return true;
  if (uid == 0) return false;  // root only when named: "*" means the job users
  if (star) return true;
  for (gid_t g : groups) {
    std::string gn = group_name(g);
    if (!gn.empty() &&
        std::find(allow_groups.begin(), allow_groups.end(), gn) != allow_groups.end())
      return true;
  }
  return false;
}

Result<ServicePolicy> parse_service_policy(const std::string& text, const std::string& origin) {
  ServicePolicy p;
  std::set<std::string> seen;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  auto bad = [&](const std::string& why) {
    return make_error(Errc::kInvalidArgument, origin + " line " + std::to_string(n) + ": " + why);
  };
  while (std::getline(in, line)) {
    ++n;
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    line = trim(line);
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos) return bad("expected 'key = value'");
    std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (!seen.insert(key).second) return bad("'" + key + "' is given twice");
    auto number = [&](uint32_t& out, uint32_t min) -> Result<void> {
      uint32_t v = 0;
      auto r = std::from_chars(value.data(), value.data() + value.size(), v);
      if (r.ec != std::errc() || r.ptr != value.data() + value.size() || v < min)
        return bad("'" + key + "' needs a whole number >= " + std::to_string(min) + ", not '" +
                   value + "'");
      out = v;
      return ok();
    };
    Result<void> r;
    if (key == "transport") {
      auto t = parse_transport(value);
      if (!t || *t == Transport::kTcp) return bad("transport is xen or local");
      p.transport = *t;
    } else if (key == "allow_users") {
      p.allow_users = split_list(value);
    } else if (key == "allow_groups") {
      p.allow_groups = split_list(value);
    } else if (key == "max_domains") {
      r = number(p.max_domains, 1);
    } else if (key == "max_domains_per_user") {
      r = number(p.max_domains_per_user, 1);
    } else if (key == "max_memory_mib") {
      r = number(p.max_memory_mib, 32);
    } else if (key == "default_memory_mib") {
      r = number(p.default_memory_mib, 32);
    } else if (key == "max_vcpus") {
      r = number(p.max_vcpus, 1);
    } else if (key == "max_output_mb") {
      r = number(p.max_output_mb, 1);
    } else if (key == "allow_root_in_guest") {
      if (value != "true" && value != "false") return bad("allow_root_in_guest is true or false");
      p.allow_root_in_guest = value == "true";
    } else if (key == "agent") {
      p.agent = value;
    } else if (key.rfind("image.", 0) == 0) {
      std::string name = key.substr(6);
      auto w = split_list(value);
      if (name.empty() || w.size() != 2) return bad("image.NAME = KERNEL RAMDISK");
      p.images[name] = {w[0], w[1]};
    } else {
      return bad("unknown key '" + key + "'");
    }
    if (!r) return std::move(r.error());
  }
  if (p.default_memory_mib > p.max_memory_mib)
    return make_error(Errc::kInvalidArgument,
                      origin + ": default_memory_mib is above max_memory_mib");
  if (!p.images.count("default"))
    p.images["default"] = {run::kDefaultGuestKernel, run::kDefaultGuestRamdisk};
  return p;
}

Result<ServicePolicy> read_service_policy(const std::string& path) {
  std::ifstream f(path);
  if (!f) return sys_error("read the service policy " + path);
  std::stringstream s;
  s << f.rdbuf();
  return parse_service_policy(s.str(), path);
}

}  // namespace ringbox::host::service
