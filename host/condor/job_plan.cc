#include "host/condor/job_plan.h"

#include <strings.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "shared/util/split.h"

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

// RingboxFiles = "submit": the job's executable as the guest reaches it, "./PATH" relative to
// the initialdir (OrigIwd: the starter rewrites Iwd to the scratch dir). Cmd is the
// executable's path on the submit side, absolute after condor_submit.
Result<std::string> submit_side_executable(const ClassAd& job) {
  auto cmd = job.get_string("Cmd");
  if (!cmd || cmd->empty()) return bad("the job ad has no Cmd (the job's executable)");
  if ((*cmd)[0] != '/') return "./" + tidy(*cmd);
  auto iwd = job.get_string("OrigIwd");
  if (!iwd) iwd = job.get_string("Iwd");
  std::string dir = iwd ? tidy(*iwd) : "";
  if (!dir.empty() && cmd->size() > dir.size() + 1 && cmd->compare(0, dir.size(), dir) == 0 &&
      (*cmd)[dir.size()] == '/')
    return "./" + tidy(cmd->substr(dir.size() + 1));
  return bad("RingboxFiles = \"submit\": the job's executable " + *cmd +
             " is outside its initialdir " + (iwd ? *iwd : std::string("(unknown)")) +
             ", the only place the guest reaches on the submit side; put it there");
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
  if (*mode != "auto" && *mode != "remote-io" && *mode != "lazy-file" && *mode != "eager")
    return bad("RingboxMode \"" + *mode + "\" is not a ringbox mode: use \"auto\", " +
               "\"remote-io\", \"lazy-file\" or \"eager\"");
  m.add("mode", *mode);

  // Where the guest's files are: the scratch dir, or the submit side through the IO proxy
  // (HTCondor starts the proxy's file calls only for WantIOProxy, JICShadow::initIOProxy).
  bool io_proxy = false;
  if (const ClassAdValue* w = job.find("WantIOProxy");
      w && w->kind != ClassAdValue::Kind::kUndefined) {
    if (w->kind != ClassAdValue::Kind::kBoolean)
      return bad("WantIOProxy must be true or false (want_io_proxy = true), not " + w->text);
    io_proxy = w->boolean;
  }
  auto files = string_attr(job, "RingboxFiles", io_proxy ? "submit" : "scratch");
  if (!files) return std::move(files.error());
  if (*files != "scratch" && *files != "submit")
    return bad(
        "RingboxFiles \"" + *files + "\" is not where ringbox finds files: use " +
        "\"scratch\" (the scratch dir) or \"submit\" (the submit side, through the IO proxy)");
  if (*files == "submit" && !io_proxy)
    return bad(
        "RingboxFiles = \"submit\" reaches the job's files through HTCondor's IO proxy: "
        "add want_io_proxy = true (or +WantIOProxy = true) to the submit file");
  plan.submit_files = *files == "submit";
  m.add("files", *files);

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
      exe[prefix.size()] == '/') {
    exe = "./" + exe.substr(prefix.size() + 1);
    // The guest sees the job's initialdir on the submit side, where the executable HTCondor
    // copied into the scratch dir (as condor_exec.exe, say) is Cmd.
    if (plan.submit_files) {
      auto in_iwd = submit_side_executable(job);
      if (!in_iwd) return std::move(in_iwd.error());
      exe = *in_iwd;
    }
  }
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
    // With the submit side's files, the entries are where they are in the initialdir.
    for (const auto& e : split_list(*ti)) {
      if (e.find("://") != std::string::npos || e.back() == '/') continue;
      in_list.push_back(plan.submit_files ? e : e.substr(e.rfind('/') + 1));
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
  if (auto when = job.get_string("WhenToTransferOutput"))
    plan.save_on_vacate = strcasecmp(when->c_str(), "ON_EXIT_OR_EVICT") == 0;
  if (const ClassAdValue* v = job.find("RingboxSaveOnVacate")) {
    if (v->kind != ClassAdValue::Kind::kBoolean)
      return bad("RingboxSaveOnVacate must be true or false, not " + v->text);
    plan.save_on_vacate = v->boolean;
  }
  if (job.find("RingboxCheckpointMinutes")) {
    auto minutes = job.get_number("RingboxCheckpointMinutes");
    if (!minutes || !(*minutes >= 0.05 && *minutes <= 7 * 24 * 60))
      return bad("RingboxCheckpointMinutes must be a number of minutes in 0.05..10080");
    if (!plan.save_on_vacate)
      return bad(
          "RingboxCheckpointMinutes needs when_to_transfer_output = ON_EXIT_OR_EVICT (so "
          "HTCondor carries the checkpoint) or +RingboxSaveOnVacate = true");
    plan.checkpoint_minutes = *minutes;
  }
  return plan;
}

}  // namespace ringbox::host::condor
