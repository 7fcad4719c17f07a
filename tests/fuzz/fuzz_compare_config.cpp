// fuzz_compare_config.cpp — libFuzzer target: the compare config parser and the sweep planner.
//
// What it is: the input is a compare config file's bytes. They go the way `normlab compare
// --dry-run` takes them: the JSON parser (depth cap, duplicate keys), compare_config_from_json
// (every key, variants, sweep axes and their labels, the run cap), then for a plan of at most
// 64 runs plan_runs (every run's resolved and validated config), format_plan and --only
// matching. A UserError of code 2 is the expected way to refuse; any other exception, a crash
// or a sanitizer report is a bug, and so is a plan whose size is not variants x points x (seeds +
// replicate_seeds) plus neighbours x the claims' cells x seeds.
// What it is not: the runner (no child process starts). Built by scripts/fuzz.sh (clang,
// libFuzzer) and, with tests/fuzz/driver.cpp, as a short CTest smoke in every build.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "normlab/compare/compare.h"
#include "normlab/core/error.h"
#include "normlab/core/json_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text((const char*)data, size);
  try {
    nl::JsonReadOptions opt;
    opt.code = 2;
    opt.reject_duplicate_keys = true;
    const nlohmann::ordered_json j = nl::parse_ordered_json(text, "fuzz.json", opt);
    // A relative "base" path is looked up in the source tree's configs (tiny.json, tasks/...).
    const nl::CompareConfig cc = nl::compare_config_from_json(j, "fuzz.json", std::string(NORMLAB_SOURCE_DIR) + "/configs");
    const size_t points = nl::sweep_points(cc).size();
    const size_t runs = cc.variants.size() * points * nl::all_seeds(cc).size() +
                        cc.neighbours.size() * nl::claim_cells(cc).size() * cc.seeds.size();
    if (runs > nl::kMaxCompareRuns) std::abort();  // the cap was checked
    if (runs > 64) return 0;                        // resolving thousands of configs is slow, not new
    const std::vector<nl::CompareRun> plan = nl::plan_runs(cc, "out", 1);
    if (plan.size() != runs) std::abort();
    nl::format_plan(plan);
    for (const nl::CompareRun& r : plan) {
      const std::string name = (r.neighbour.empty() ? "" : "neighbours/" + r.neighbour + "/") + r.variant;
      if (!nl::only_matches(name, r)) std::abort();
      nl::only_matches(r.variant + "/" + r.point + "/x", r);
    }
  } catch (const nl::UserError& e) {
    if (e.code != 2) std::abort();  // every compare config error is exit code 2
  }
  return 0;
}
