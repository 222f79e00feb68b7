#include "host/condor/job_plan.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace ringbox::host::condor {
namespace {

Error bad(const std::string& why) {
  return make_error(Errc::kInvalidArgument, why);
}

// Environment names that point at this machine's files or at HTCondor's machinery: meaningless
// (or misleading) inside the guest, where the job's directory is the view of the scratch dir.
bool host_only_variable(std::string_view entry) {
  std::string_view name = entry.substr(0, entry.find('='));
  static constexpr std::string_view kPrefixes[] = {"_CONDOR_", "RINGBOX_"};
  for (auto p : kPrefixes)
    if (name.substr(0, p.size()) == p) return true;
  static constexpr std::string_view kNames[] = {"TMPDIR",
                                                "TMP",
                                                "TEMP",
                                                "PWD",
                                                "OLDPWD",
                                                "APPTAINER_CACHEDIR",
                                                "SINGULARITY_CACHEDIR",
                                                "CONDOR_STARTER_PID",
                                                "CONDOR_CONFIG",
                                                "_CHIRP_DELAYED_UPDATE_PREFIX"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',' || c == ' ' || c == '\t' || c == '\n') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// "./a//b/" -> "a/b"
std::string tidy(std::string p) {
  while (p.size() > 2 && p.compare(0, 2, "./") == 0) p.erase(0, 2);
  std::string out;
  for (char c : p)
    if (!(c == '/' && !out.empty() && out.back() == '/')) out.push_back(c);
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

// A string attribute: absent -> fallback; present but not a string -> an error.
Result<std::string> string_attr(const ClassAd& ad, const char* name, const std::string& fallback) {
  const ClassAdValue* v = ad.find(name);
  if (!v || v->kind == ClassAdValue::Kind::kUndefined) return fallback;
  if (v->kind != ClassAdValue::Kind::kString)
    return bad(std::string(name) + " must be a string (e.g. +" + name + " = \"...\"), not " +
               v->text);
  return v->text;
}

}  // namespace

std::optional<int64_t> integer_or_product(const ClassAd& ad, std::string_view name) {
  const ClassAdValue* v = ad.find(name);
  if (!v) return std::nullopt;
  if (v->kind == ClassAdValue::Kind::kInteger) return v->integer;
  if (v->kind == ClassAdValue::Kind::kReal && std::isfinite(v->real)) return std::llround(v->real);
  if (v->kind != ClassAdValue::Kind::kExpression) return std::nullopt;
  int64_t product = 1;
  std::string_view t = v->text;
  for (;;) {
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    int64_t f = 0;
    auto r = std::from_chars(t.data(), t.data() + t.size(), f);
    if (r.ec != std::errc() || f < 0 || (f != 0 && product > INT64_MAX / f)) return std::nullopt;
    product *= f;
    t.remove_prefix(static_cast<size_t>(r.ptr - t.data()));
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    if (t.empty()) return product;
    if (t.front() != '*') return std::nullopt;
    t.remove_prefix(1);
  }
}

Result<JobPlan> plan_job(const ClassAd& job, const ClassAd& machine,
                         const std::vector<std::string>& argv, const std::vector<std::string>& env,
                         const std::string& scratch_dir) {
  JobPlan plan;
  auto& m = plan.request;
  m.add("op", "run");
  auto mode = string_attr(job, "RingboxMode", "lazy-file");
  if (!mode) return std::move(mode.error());
  if (*mode != "remote-io" && *mode != "lazy-file" && *mode != "eager")
    return bad("RingboxMode \"" + *mode + "\" is not a ringbox mode: use \"remote-io\", " +
               "\"lazy-file\" or \"eager\"");
  m.add("mode", *mode);

  if (argv.empty() || argv[0].empty())
    return bad(
        "no job to run: the wrapper's arguments must be the job's executable and "
        "arguments");
  // The job sees the scratch dir as its working directory: its executable, which HTCondor
  // names by its full path here, is ./NAME there.
  std::string exe = argv[0];
  std::string prefix = scratch_dir;
  while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
  if (exe.size() > prefix.size() + 1 && exe.compare(0, prefix.size(), prefix) == 0 &&
      exe[prefix.size()] == '/')
    exe = "./" + exe.substr(prefix.size() + 1);
  m.add("arg", exe);
  for (size_t i = 1; i < argv.size(); ++i) m.add("arg", argv[i]);
  for (const auto& e : env)
    if (e.find('=') != std::string::npos && !host_only_variable(e)) m.add("env", e);
  m.add("cwd", ".");

  auto inputs = string_attr(job, "RingboxInputs", "");
  if (!inputs) return std::move(inputs.error());
  std::vector<std::string> in_list;
  if (job.find("RingboxInputs")) {
    in_list = split_list(*inputs);
  } else if (*mode == "eager") {
    // HTCondor put each TransferInput entry in the scratch dir under its base name; URLs and
    // directories ("dir/" copies the contents) are left to RingboxInputs.
    auto ti = string_attr(job, "TransferInput", "");
    if (!ti) return std::move(ti.error());
    for (const auto& e : split_list(*ti)) {
      if (e.find("://") != std::string::npos || e.back() == '/') continue;
      in_list.push_back(e.substr(e.rfind('/') + 1));
    }
  }
  // eager: the guest sees only what was pushed, so the job's own executable goes too.
  if (*mode == "eager" && exe.rfind("./", 0) == 0 &&
      std::find(in_list.begin(), in_list.end(), exe.substr(2)) == in_list.end())
    in_list.push_back(exe.substr(2));
  for (auto& p : in_list) {
    p = tidy(p);
    if (p.empty() || p[0] == '/' || p == ".." || p.rfind("../", 0) == 0 ||
        p.find("/../") != std::string::npos || (p.size() >= 3 && p.substr(p.size() - 3) == "/.."))
      return bad("RingboxInputs: \"" + p + "\" is not a path inside the job's scratch directory");
    if (*mode == "eager") m.add("input", p);
  }

  auto image = string_attr(job, "RingboxImage", "default");
  if (!image) return std::move(image.error());
  m.add("image", *image);
  if (const ClassAdValue* c = job.find("RingboxCacheMb")) {
    if (c->kind != ClassAdValue::Kind::kInteger || c->integer < 0 || c->integer > (1 << 30))
      return bad("RingboxCacheMb must be a whole number of MiB (e.g. +RingboxCacheMb = 512), not " +
                 c->text);
    m.add("cache_mb", std::to_string(c->integer));
  }
  if (const ClassAdValue* r = job.find("RingboxRunAsRoot")) {
    if (r->kind != ClassAdValue::Kind::kBoolean)
      return bad("RingboxRunAsRoot must be true or false, not " + r->text);
    m.add("root", r->boolean ? "1" : "0");
  }

  // Size: what the job asked for, never more than the slot has.
  std::optional<int64_t> slot_mem = integer_or_product(machine, "Memory");
  std::optional<int64_t> slot_cpus = integer_or_product(machine, "Cpus");
  std::optional<int64_t> mem = integer_or_product(job, "RequestMemory");
  if (!mem) mem = slot_mem;
  if (mem && slot_mem && *slot_mem > 0) mem = std::min(*mem, *slot_mem);
  if (mem && *mem > 0) m.add("memory_mib", std::to_string(*mem));
  std::optional<int64_t> cpus = integer_or_product(job, "RequestCpus");
  if (!cpus) cpus = slot_cpus;
  if (cpus && slot_cpus && *slot_cpus > 0) cpus = std::min(*cpus, *slot_cpus);
  m.add("vcpus", std::to_string(cpus && *cpus > 0 ? *cpus : 1));

  // A stop must end within min(MachineMaxVacateTime, JobMaxVacateTime): the guest gets 80% of
  // it, the rest is for the wrapper to report and exit.
  int64_t vacate_s =
      integer_or_product(machine, "MachineMaxVacateTime").value_or(kDefaultMaxVacateTimeS);
  if (auto j = integer_or_product(job, "JobMaxVacateTime")) vacate_s = std::min(vacate_s, *j);
  vacate_s = std::clamp<int64_t>(vacate_s, 1, 24 * 3600);
  plan.stop_budget_ms = static_cast<int>(vacate_s * 1000);
  m.add("grace_ms", std::to_string(plan.stop_budget_ms * 8 / 10));
  if (auto id = job.get_string("GlobalJobId")) m.add("job", *id);
  return plan;
}

}  // namespace ringbox::host::condor
