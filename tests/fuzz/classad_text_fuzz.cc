// Fuzzes the ClassAd text parser (host/condor/class_ad.h): any bytes as $_CONDOR_JOB_AD's
// contents. It must parse or refuse cleanly; what it accepts must hold its invariants. The
// parsed ad then goes through plan_job (host/condor/job_plan.h), which reads the job's own
// attributes (RingboxMode, RingboxInputs, RequestMemory, ...): it must plan or refuse cleanly,
// and the request it plans must pass the service's frame codec.
#include <string>
#include <string_view>

#include "host/condor/class_ad.h"
#include "host/condor/job_plan.h"
#include "tests/fuzz/fuzz_target.h"

using namespace ringbox::host::condor;
using ringbox::host::service::kMaxServiceFields;
using ringbox::host::service::kMaxServiceMessageBytes;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto ad = ClassAd::parse(text);
  if (!ad) return 0;
  FUZZ_CHECK(ad->size() <= kMaxAdAttributes);
  FUZZ_CHECK(ad->size() + ad->skipped_lines() <= size);
  // Every typed getter agrees with find() on a name the text may hold.
  for (const char* name : {"RequestMemory", "RingboxMode", "Cpus", "A"}) {
    const ClassAdValue* v = ad->find(name);
    FUZZ_CHECK((v != nullptr) || !ad->get_string(name));
    if (v && v->kind == ClassAdValue::Kind::kString) FUZZ_CHECK(ad->get_string(name) == v->text);
    if (v && v->kind == ClassAdValue::Kind::kInteger)
      FUZZ_CHECK(ad->get_number(name) == static_cast<double>(v->integer));
  }
  auto machine = ClassAd::parse("Memory = 2048\nCpus = 2\nMachineMaxVacateTime = 10 * 60\n");
  FUZZ_CHECK(machine.has_value());
  auto plan =
      plan_job(*ad, *machine, {"/scratch/condor_exec.exe", "arg"}, {"PATH=/bin"}, "/scratch");
  if (plan) {
    FUZZ_CHECK(plan->stop_budget_ms >= 0);
    auto frame = ringbox::host::service::encode_service_message(plan->request);
    auto back = ringbox::host::service::decode_service_message(frame);
    // (A request beyond the frame's limits is refused when sent, with a message.)
    if (frame.size() <= kMaxServiceMessageBytes && plan->request.fields.size() <= kMaxServiceFields)
      FUZZ_CHECK(back.has_value() && back->fields == plan->request.fields);
  }
  // A decoded string never grows: every escape is at least as long as what it stands for.
  ClassAdValue v = parse_classad_value(text.substr(0, 4096));
  if (v.kind == ClassAdValue::Kind::kString) FUZZ_CHECK(v.text.size() + 2 <= text.size());
  return 0;
}

std::vector<std::vector<uint8_t>> fuzz_seeds() {
  std::vector<std::string> texts = {
      "RequestMemory = 128\nRequestCpus = 1\nRingboxMode = \"lazy-file\"\n",
      "Environment = \"BAZ=quoted' 'value FOO=bar\"\nExitBySignal = false\n",
      "RequestDisk = 1048576.0\nMachineMaxVacateTime = 10 * 60\nA = undefined\nB = error\n",
      "S = \"a\\\"b\\\\c\\n\\101\"\nL = { \"x\", 1 }\nN = [ a = 1; b = \"c\" ]\n",
      "Cpus = -1\r\nMemory = 1.0E+03\r\n# comment\r\ngarbage line\r\n= 3\r\n",
      "RingboxMode = \"eager\"\nRingboxInputs = \"a.txt, ./d//b.txt\"\nRequestMemory = 512\n"
      "TransferInput = \"in/x.dat,y\"\nRingboxCacheMb = 64\nRingboxRunAsRoot = true\n",
      "RingboxFiles = \"submit\"\nWantIOProxy = true\nCmd = \"/home/u/job/run.sh\"\n"
      "OrigIwd = \"/home/u/job\"\nJobMaxVacateTime = 5 * 60\nGlobalJobId = \"s#1.0#1\"\n",
  };
  std::vector<std::vector<uint8_t>> seeds;
  for (const auto& t : texts) seeds.emplace_back(t.begin(), t.end());
  return seeds;
}
