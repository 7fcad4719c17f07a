// test_compare_e2e.cpp — `normlab compare` with the real trainer on a tiny config:
// 2 variants x 2 seeds, a few steps. Every run finishes, the summary reads the runs'
// metrics, a rerun trains nothing, a deleted run folder is rerun, and for a given seed the
// variants start from the same initial values of the parameters they share.
//
// What it is not: a check that any norm beats another: the runs are a few steps long.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "normlab/core/error.h"
#include "normlab/config/config.h"
#include "normlab/data/task.h"
#include "normlab/nn/encoder.h"
#include "normlab/compare/compare.h"
#include "normlab/train/run.h"
#include "testutil/process.h"

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

// The tiny comparison the tests share (tests/configs/tiny_compare.json: 2 norms x 2 seeds,
// 6 steps each), writing into `out`.
ojson tiny_compare(const fs::path& out) {
  std::ifstream in(std::string(NORMLAB_TEST_DIR) + "/configs/tiny_compare.json");
  ojson j = ojson::parse(in);
  j["out_dir"] = out.string();
  return j;
}

int count_lines(const fs::path& p) {
  std::ifstream in(p);
  std::string l;
  int n = 0;
  while (std::getline(in, l)) ++n;
  return n;
}

}  // namespace

TEST_CASE("compare end to end: tiny config with the real trainer", "[compare]") {
  fs::path out = testutil::unique_temp("compare_e2e");
  fs::remove_all(out);
  nl::CompareConfig cc = nl::compare_config_from_json(tiny_compare(out), "tiny_compare.json", "");
  nl::CompareOptions opt;
  opt.exe = NORMLAB_BINARY;
  opt.plot_script = (out / "no_plots.py").string();  // plots are tested in test_compare_runner.cpp
  opt.quiet = true;
  opt.cores = 2;

  nl::CompareResult r = nl::run_compare(cc, opt);
  REQUIRE(r.runs.size() == 4);
  for (const auto& o : r.runs) {
    INFO(o.variant << "/" << o.seed << ": " << o.last_stderr);
    CHECK(o.status == "ok");
    CHECK(fs::exists(fs::path(o.dir) / "result.json"));
    CHECK(count_lines(fs::path(o.dir) / "metrics.csv") == 1 + 3);  // header + steps 2, 4, 6
  }
  CHECK(r.incomplete == 0);

  ojson S = ojson::parse(std::ifstream(out / "summary.json"));
  REQUIRE(S["variants"].size() == 2);
  CHECK(S["splits"][0]["name"] == "len_2_6");
  CHECK(S["splits"][0]["seen"] == true);
  CHECK(S["splits"][1]["seen"] == false);
  CHECK(S["batchnorm_layers"].size() == 2);  // post-norm, one layer: norm1, norm2
  for (const auto& V : S["variants"])
    for (const auto& run : V["points"][0]["runs"]) {
      nl::MetricsTable t = nl::read_metrics_csv((out / run["dir"].get<std::string>() / "metrics.csv").string());
      CHECK(run["final_step"] == 6);
      CHECK(run["final_train_loss"].get<double>() == Approx(t.rows.back()[t.col("loss")]));
      CHECK(run["eval"]["len_7_9"]["acc"].get<double>() == Approx(t.rows.back()[t.col("eval_acc/len_7_9")]));
      CHECK(run["steps_to_target"] == 2);  // target 10 is above any loss
      CHECK(run["drift"].empty() == (V["name"] == "layernorm"));
    }

  // For one seed, the resolved configs differ only in the variant's override (and out_dir).
  nlohmann::json a = nlohmann::json::parse(std::ifstream(fs::path(nl::run_dir_for(out.string(), "layernorm", 1)) / "compare_config.json"));
  nlohmann::json b = nlohmann::json::parse(std::ifstream(fs::path(nl::run_dir_for(out.string(), "batchnorm", 1)) / "compare_config.json"));
  CHECK(a["model"]["norm"]["type"] == "layernorm");
  CHECK(b["model"]["norm"]["type"] == "batchnorm");
  b["model"]["norm"]["type"] = "layernorm";
  b["train"]["out_dir"] = a["train"]["out_dir"];
  CHECK(a == b);

  // A rerun trains nothing.
  r = nl::run_compare(cc, opt);
  for (const auto& o : r.runs) CHECK(o.status == "skipped");
  // A deleted run folder is rerun, alone.
  fs::remove_all(nl::run_dir_for(out.string(), "batchnorm", 2));
  r = nl::run_compare(cc, opt);
  for (const auto& o : r.runs) CHECK(o.status == ((o.variant == "batchnorm" && o.seed == 2) ? "ok" : "skipped"));
  CHECK(fs::exists(fs::path(nl::run_dir_for(out.string(), "batchnorm", 2)) / "result.json"));
  fs::remove_all(out);
}

TEST_CASE("compare: for a given seed, variants start from the same shared parameters", "[compare]") {
  // Build each variant's model from its resolved config, as the trainer does, and compare the
  // initial values of every parameter name the variants share.
  nl::CompareConfig cc = nl::compare_config_from_json(tiny_compare("unused"), "tiny_compare.json", "");
  std::vector<nl::CompareRun> plan = nl::plan_runs(cc, "unused", 1);
  auto params_of = [](const nlohmann::json& cfg_json) {
    nl::Config cfg = nl::config_from_json(cfg_json);
    nl::Run run = nl::make_run(cfg);
    std::map<std::string, std::vector<float>> p;
    for (const auto& nt : run.model->named_parameters())
      p[nt.name] = std::vector<float>(nt.tensor.data(), nt.tensor.data() + nt.tensor.numel());
    return p;
  };
  auto ln1 = params_of(plan[0].config), ln2 = params_of(plan[1].config);
  auto bn1 = params_of(plan[2].config);
  REQUIRE(plan[0].variant == "layernorm");
  REQUIRE(plan[2].variant == "batchnorm");
  REQUIRE(plan[2].seed == 1);
  int shared = 0;
  for (const auto& [name, v] : ln1) {
    if (!bn1.count(name)) continue;
    INFO(name);
    CHECK(bn1[name] == v);
    ++shared;
  }
  CHECK(shared >= 8);  // embedding, attention, FFN, head (norm gains/biases may be named alike too)
  bool differs = false;  // and another seed gives other values
  for (const auto& [name, v] : ln1) differs |= ln2[name] != v;
  CHECK(differs);
}
