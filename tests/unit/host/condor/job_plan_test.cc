// The wrapper's plan (host/condor/job_plan.h): ads + argv + environment -> the service request.
#include "host/condor/job_plan.h"

#include <catch2/catch.hpp>

using namespace ringbox::host::condor;

namespace {
ClassAd ad(const std::string& text) {
  auto a = ClassAd::parse(text);
  REQUIRE(a);
  return *a;
}
const std::string kScratch = "/var/tmp/pool/execute/dir_7/scratch";
}  // namespace

TEST_CASE("the plan of a real job: executable made relative, sized by the request",
          "[condor][plan]") {
  auto job = ClassAd::read_file(std::string(RINGBOX_SOURCE_DIR) + "/tests/condor/fixtures/job.ad");
  auto machine =
      ClassAd::read_file(std::string(RINGBOX_SOURCE_DIR) + "/tests/condor/fixtures/machine.ad");
  REQUIRE(job);
  REQUIRE(machine);
  auto plan = plan_job(*job, *machine, {kScratch + "/condor_exec.exe", "one", "two three"},
                       {"FOO=bar", "_CONDOR_JOB_AD=" + kScratch + "/.job.ad", "TMPDIR=" + kScratch,
                        "OMP_NUM_THREADS=1", "RINGBOX_SOCKET=/x"},
                       kScratch);
  REQUIRE(plan);
  const auto& m = plan->request;
  CHECK(m.get("op") == "run");
  CHECK(m.get("mode") == "lazy-file");
  CHECK(m.all("arg") == std::vector<std::string>{"./condor_exec.exe", "one", "two three"});
  CHECK(m.all("env") == std::vector<std::string>{"FOO=bar", "OMP_NUM_THREADS=1"});
  CHECK(m.get("memory_mib") == "128");
  CHECK(m.get("vcpus") == "1");
  CHECK(m.get("cache_mb") == "64");
  CHECK(m.all("input").empty());  // inputs are eager's
  CHECK(m.get("image") == "default");
  // MachineMaxVacateTime = 10 * 60 in the real machine ad: 600 s, the guest gets 80%.
  CHECK(plan->stop_budget_ms == 600000);
  CHECK(m.get("grace_ms") == "480000");
  CHECK(m.get("job").find("#1.0#") != std::string::npos);
}

TEST_CASE("the domain never gets more than the slot", "[condor][plan]") {
  auto plan = plan_job(ad("RequestMemory = 8192\nRequestCpus = 8\n"),
                       ad("Memory = 2048\nCpus = 2\n"), {"/bin/true"}, {}, kScratch);
  REQUIRE(plan);
  CHECK(plan->request.get("memory_mib") == "2048");
  CHECK(plan->request.get("vcpus") == "2");
  CHECK(plan->request.all("arg") == std::vector<std::string>{"/bin/true"});
  // An expression for RequestMemory (the default submit gives one) falls back to the slot.
  auto expr = plan_job(ad("RequestMemory = ifthenelse(MemoryUsage =!= undefined, 1, 2)\n"),
                       ad("Memory = 300\n"), {"x"}, {}, kScratch);
  REQUIRE(expr);
  CHECK(expr->request.get("memory_mib") == "300");
}

TEST_CASE("eager takes RingboxInputs, else TransferInput's base names", "[condor][plan]") {
  auto own = plan_job(ad("RingboxMode = \"eager\"\nRingboxInputs = \"a.txt, ./d//b.txt\"\n"),
                      ClassAd{}, {"x"}, {}, kScratch);
  REQUIRE(own);
  CHECK(own->request.all("input") == std::vector<std::string>{"a.txt", "d/b.txt"});
  // The executable HTCondor put in the scratch dir is pushed too, once.
  auto exe = plan_job(ad("RingboxMode = \"eager\"\nRingboxInputs = \"a.txt\"\n"), ClassAd{},
                      {kScratch + "/condor_exec.exe"}, {}, kScratch);
  REQUIRE(exe);
  CHECK(exe->request.all("input") == std::vector<std::string>{"a.txt", "condor_exec.exe"});
  auto ti = plan_job(ad("RingboxMode = \"eager\"\nTransferInput = "
                        "\"/home/u/in.dat,data/x.bin,http://h/y,dir/\"\n"),
                     ClassAd{}, {"x"}, {}, kScratch);
  REQUIRE(ti);
  CHECK(ti->request.all("input") == std::vector<std::string>{"in.dat", "x.bin"});
}

TEST_CASE("every ringbox mode is taken from RingboxMode", "[condor][plan]") {
  for (std::string mode : {"auto", "remote-io", "lazy-file", "eager"}) {
    auto plan = plan_job(ad("RingboxMode = \"" + mode + "\"\n"), ClassAd{}, {"x"}, {}, kScratch);
    REQUIRE(plan);
    CHECK(plan->request.get("mode", "") == mode);
  }
}

TEST_CASE("bad attributes are setup errors that name the attribute", "[condor][plan]") {
  auto check = [](const std::string& text, const std::string& names) {
    auto plan = plan_job(ad(text), ClassAd{}, {"x"}, {}, kScratch);
    REQUIRE(!plan);
    INFO(plan.error().what);
    CHECK(plan.error().what.find(names) != std::string::npos);
  };
  check("RingboxMode = \"turbo\"\n", "RingboxMode");
  check("RingboxMode = \"node\"\n", "RingboxMode");
  check("RingboxMode = 3\n", "RingboxMode must be a string");
  check("RingboxInputs = \"../etc/passwd\"\n", "RingboxInputs");
  check("RingboxInputs = \"/etc/passwd\"\n", "RingboxInputs");
  check("RingboxInputs = \"a/../../b\"\n", "RingboxInputs");
  check("RingboxCacheMb = \"big\"\n", "RingboxCacheMb");
  check("RingboxCacheMb = -1\n", "RingboxCacheMb");
  check("RingboxRunAsRoot = \"yes\"\n", "RingboxRunAsRoot");
  check("RingboxImage = 7\n", "RingboxImage");
  auto none = plan_job(ClassAd{}, ClassAd{}, {}, {}, kScratch);
  CHECK(!none);
}

TEST_CASE("vacate budget: the smaller of the machine's and the job's", "[condor][plan]") {
  auto plan = plan_job(ad("JobMaxVacateTime = 20\n"), ad("MachineMaxVacateTime = 10 * 60\n"), {"x"},
                       {}, kScratch);
  REQUIRE(plan);
  CHECK(plan->stop_budget_ms == 20000);
  CHECK(plan->request.get("grace_ms") == "16000");
  CHECK(integer_or_product(ad("A = 2 * 3 * 7\n"), "A") == 42);
  CHECK(!integer_or_product(ad("A = 2 + 3\n"), "A"));
  CHECK(!integer_or_product(ad("A = 99999999999 * 99999999999\n"), "A"));
}

TEST_CASE("SIGTERM saves the domain only when HTCondor carries the restore file",
          "[condor][plan]") {
  auto plan = plan_job(ad(""), ad(""), {"x"}, {}, kScratch);
  REQUIRE(plan);
  CHECK(!plan->save_on_vacate);
  plan = plan_job(ad("WhenToTransferOutput = \"ON_EXIT_OR_EVICT\"\n"), ad(""), {"x"}, {}, kScratch);
  REQUIRE(plan);
  CHECK(plan->save_on_vacate);
  plan = plan_job(ad("WhenToTransferOutput = \"ON_EXIT\"\n"), ad(""), {"x"}, {}, kScratch);
  REQUIRE(plan);
  CHECK(!plan->save_on_vacate);
  plan = plan_job(ad("WhenToTransferOutput = \"ON_EXIT\"\nRingboxSaveOnVacate = true\n"), ad(""),
                  {"x"}, {}, kScratch);
  REQUIRE(plan);
  CHECK(plan->save_on_vacate);
  plan = plan_job(ad("RingboxSaveOnVacate = \"yes\"\n"), ad(""), {"x"}, {}, kScratch);
  REQUIRE(!plan);
  CHECK_THAT(plan.error().what, Catch::Contains("RingboxSaveOnVacate"));
}

TEST_CASE("RingboxCheckpointMinutes: minutes, only when HTCondor carries the checkpoint",
          "[condor][plan]") {
  const std::string evict = "WhenToTransferOutput = \"ON_EXIT_OR_EVICT\"\n";
  auto plan = plan_job(ad(evict + "RingboxCheckpointMinutes = 30\n"), ad(""), {"x"}, {}, kScratch);
  REQUIRE(plan);
  CHECK(plan->checkpoint_minutes == 30);
  plan = plan_job(ad(evict + "RingboxCheckpointMinutes = 0.5\n"), ad(""), {"x"}, {}, kScratch);
  REQUIRE(plan);
  CHECK(plan->checkpoint_minutes == 0.5);
  for (const char* bad : {"0", "-3", "\"ten\"", "99999"}) {
    INFO(bad);
    CHECK(!plan_job(ad(evict + "RingboxCheckpointMinutes = " + bad + "\n"), ad(""), {"x"}, {},
                    kScratch));
  }
  plan = plan_job(ad("RingboxCheckpointMinutes = 30\n"), ad(""), {"x"}, {}, kScratch);
  REQUIRE(!plan);
  CHECK_THAT(plan.error().what, Catch::Contains("ON_EXIT_OR_EVICT"));
}

TEST_CASE("WantIOProxy: the guest's files on the submit side, its executable Cmd in OrigIwd",
          "[condor][plan]") {
  const std::string job =
      "WantIOProxy = true\nCmd = \"/home/u/run/job.sh\"\nOrigIwd = \"/home/u/run\"\n"
      "Iwd = \"" +
      kScratch + "\"\n";
  auto plan = plan_job(ad(job), ClassAd{}, {kScratch + "/condor_exec.exe", "a"}, {}, kScratch);
  REQUIRE(plan);
  CHECK(plan->submit_files);
  CHECK(plan->request.get("files") == "submit");
  CHECK(plan->request.all("arg") == std::vector<std::string>{"./job.sh", "a"});
  // The job keeps the scratch dir when it says so; without WantIOProxy that is the default.
  auto scratch = plan_job(ad(job + "RingboxFiles = \"scratch\"\n"), ClassAd{},
                          {kScratch + "/condor_exec.exe"}, {}, kScratch);
  REQUIRE(scratch);
  CHECK(!scratch->submit_files);
  CHECK(scratch->request.get("files") == "scratch");
  CHECK(scratch->request.all("arg") == std::vector<std::string>{"./condor_exec.exe"});
  auto plain = plan_job(ClassAd{}, ClassAd{}, {"x"}, {}, kScratch);
  REQUIRE(plain);
  CHECK(!plain->submit_files);
  // A relative Cmd (never rewritten by condor_submit) is relative to the initialdir; eager's
  // default inputs are TransferInput's entries there, not base names.
  auto rel = plan_job(ad("WantIOProxy = true\nCmd = \"bin/job.sh\"\nRingboxMode = \"eager\"\n"
                         "TransferInput = \"data/x.bin\"\n"),
                      ClassAd{}, {kScratch + "/condor_exec.exe"}, {}, kScratch);
  REQUIRE(rel);
  CHECK(rel->request.all("arg") == std::vector<std::string>{"./bin/job.sh"});
  CHECK(rel->request.all("input") == std::vector<std::string>{"data/x.bin", "bin/job.sh"});
  // The wrapper named as the executable: its arguments are the job, relative already.
  auto as_exe = plan_job(ad(job), ClassAd{}, {"./job.sh"}, {}, kScratch);
  REQUIRE(as_exe);
  CHECK(as_exe->request.all("arg") == std::vector<std::string>{"./job.sh"});

  auto bad = [](const std::string& text, const std::string& says) {
    auto p = plan_job(ad(text), ClassAd{}, {kScratch + "/condor_exec.exe"}, {}, kScratch);
    REQUIRE(!p);
    INFO(p.error().what);
    CHECK(p.error().what.find(says) != std::string::npos);
  };
  bad("RingboxFiles = \"submit\"\n", "want_io_proxy = true");
  bad("WantIOProxy = true\nRingboxFiles = \"nfs\"\n", "RingboxFiles \"nfs\"");
  bad("WantIOProxy = \"yes\"\n", "WantIOProxy must be true or false");
  bad("WantIOProxy = true\nCmd = \"/opt/bin/tool\"\nOrigIwd = \"/home/u/run\"\n",
      "outside its initialdir /home/u/run");
  bad("WantIOProxy = true\nCmd = \"/home/u/runner/tool\"\nOrigIwd = \"/home/u/run\"\n",
      "outside its initialdir");
  bad("WantIOProxy = true\n", "no Cmd");
}
