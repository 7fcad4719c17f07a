// test_compare_leak.cpp — leak_gap in a comparison (src/compare/questions/leak.cpp): each
// run's result.json leak_gap carried into summary.json, its mean ± 95% CI per cell over the
// exploratory seeds and over the confirmatory seeds apart, and the report's table.
//
// What it is not: the measurement itself (tests/unit/data/test_brown.cpp, train/leak.h).
// The run folders are written here in the trainer's layout, reduced to what compare reads.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "normlab/compare/compare.h"
#include "testutil/process.h"

namespace fs = std::filesystem;
using testutil::TempDir;

namespace {

void write(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
}

// A finished run folder as the trainer leaves it, reduced to what a comparison reads:
// metrics.csv and result.json, with a leak_gap when `gap` is a number.
void write_leak_run(const fs::path& dir, double loss_train, double gap) {
  fs::create_directories(dir);
  write(dir / "metrics.csv", "step,loss\n10,2.5\n20," + std::to_string(loss_train) + "\n");
  nlohmann::json result = {{"steps", 20}, {"seconds", 1.0}};
  if (std::isfinite(gap))
    result["leak_gap"] = {{"batches", 16}, {"loss_train_stats", loss_train},
                          {"loss_running_stats", loss_train + gap}, {"gap", gap}};
  write(dir / "result.json", result.dump());
}

}  // namespace

TEST_CASE("compare: leak_gap per cell in summary.json (mean ± CI over seeds, replication seeds apart) and in the report",
          "[compare][leak]") {
  TempDir tmp("compare_leak");
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(R"({
    "base": {"task": {"name": "majority"}},
    "variants": {"layernorm": {"model.norm.type": "layernorm"}, "batchnorm": {"model.norm.type": "batchnorm"},
                 "rmsnorm": {"model.norm.type": "rmsnorm"}},
    "seeds": [1, 2, 3], "replicate_seeds": [4, 5], "target_loss": 0.3})");
  j["out_dir"] = tmp.dir.string();
  const nl::CompareConfig cc = nl::compare_config_from_json(j, "leak.json", "");
  // batchnorm's gaps by seed; layernorm's are 0; rmsnorm's runs predate leak_gap (none).
  const std::map<uint64_t, double> bn_gap = {{1, 0.30}, {2, 0.50}, {3, 0.40}, {4, 0.90}, {5, 1.10}};
  for (uint64_t s = 1; s <= 5; ++s) {
    write_leak_run(nl::run_dir_for(tmp.dir.string(), "layernorm", s), 2.0 + 0.01 * s, 0.0);
    write_leak_run(nl::run_dir_for(tmp.dir.string(), "batchnorm", s), 1.9 + 0.01 * s, bn_gap.at(s));
    write_leak_run(nl::run_dir_for(tmp.dir.string(), "rmsnorm", s), 2.0, NAN);
  }
  const nlohmann::ordered_json S = nl::summarize_compare(cc, tmp.dir.string(), {});
  const auto& ln = S["variants"][0]["points"][0], &bn = S["variants"][1]["points"][0], &rms = S["variants"][2]["points"][0];
  // per run, as result.json has it
  CHECK(bn["runs"][1]["leak_gap"]["gap"].get<double>() == Approx(0.50));
  CHECK(bn["runs"][1]["leak_gap"]["loss_running_stats"].get<double>() == Approx(1.92 + 0.50));
  // over the exploratory seeds 1..3 only: mean 0.4, sample std 0.1, ci95 = t_{0.975,2} 0.1 / sqrt(3)
  const auto& g = bn["stats"]["leak_gap"]["gap"];
  CHECK(g["n"] == 3);
  CHECK(g["mean"].get<double>() == Approx(0.40));
  CHECK(g["std"].get<double>() == Approx(0.10));
  CHECK(g["ci95"].get<double>() == Approx(4.30265273 * 0.10 / std::sqrt(3.0)).epsilon(1e-6));
  CHECK(bn["stats"]["leak_gap"]["loss_train_stats"]["mean"].get<double>() == Approx(1.92));
  // the confirmatory seeds 4, 5 apart: mean 1.0
  CHECK(bn["replicate_stats"]["leak_gap"]["gap"]["n"] == 2);
  CHECK(bn["replicate_stats"]["leak_gap"]["gap"]["mean"].get<double>() == Approx(1.00));
  CHECK(ln["stats"]["leak_gap"]["gap"]["mean"].get<double>() == 0.0);
  CHECK(ln["stats"]["leak_gap"]["gap"]["std"].get<double>() == 0.0);
  CHECK(rms["stats"]["leak_gap"].is_null());  // no run recorded one
  CHECK(rms["replicate_stats"]["leak_gap"].is_null());
  // leak_gap is measured, never tested: no test names it
  for (const auto& t : S["tests"]["list"]) CHECK(t["metric"].get<std::string>().find("leak") == std::string::npos);

  const std::string md = nl::render_report(S, "");
  INFO(md);
  const size_t at = md.find("## Batch vs running statistics on the training batches (leak_gap)");
  REQUIRE(at != std::string::npos);
  CHECK(md.find("| variant | loss, batch statistics | loss, running statistics | gap [1,2,3] | gap [4,5] |", at) !=
        std::string::npos);
  // gap on 1..3: 0.4 ± t_{0.975,2} 0.1 / sqrt(3); on 4, 5: 1.0 ± t_{0.975,1} 0.1414 / sqrt(2)
  CHECK(md.find("| batchnorm | 1.920 ± 0.0248 |", at) != std::string::npos);
  CHECK(md.find("| 0.4000 ± 0.2484 | 1.000 ± 1.271 |", at) != std::string::npos);
  CHECK(md.find("| layernorm | 2.020 ± 0.0248 | 2.020 ± 0.0248 | 0.0000 ± 0.0000 | 0.0000 ± 0.0000 |", at) !=
        std::string::npos);
  CHECK(md.find("| rmsnorm | n/a | n/a | n/a | n/a |", at) != std::string::npos);
  CHECK(at < md.find("## Plots"));  // inside what figures.sh prints

  // Runs without leak_gap (older builds): no section.
  for (uint64_t s = 1; s <= 5; ++s)
    for (const char* v : {"layernorm", "batchnorm"}) write_leak_run(nl::run_dir_for(tmp.dir.string(), v, s), 2.0, NAN);
  const std::string none = nl::render_report(nl::summarize_compare(cc, tmp.dir.string(), {}), "");
  CHECK(none.find("leak_gap") == std::string::npos);
}
