// test_compare_plots.cpp — what summary.json gives the plot script, and what the script
// draws from it: the reliability bins pooled over the exploratory seeds, the metrics.csv
// column names (train/metrics_schema.h, written into summary.json "schema") by which
// scripts/plot_compare.py picks its columns, and the per-run table of the report with the
// confirmatory runs.
//
// What it is not: a training run (synthetic run folders in the trainer's layout), nor a
// check of how the PNGs look (only that each is drawn from the data it is meant to show).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "normlab/compare/compare.h"
#include "normlab/train/metrics_schema.h"
#include "testutil/process.h"

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

// A finished run with one split "len_4_16", a BatchNorm drift column, and two reliability
// bins in result.json: [0.5, 0.75) with `n_low` predictions at accuracy `acc_low`, and
// [0.75, 1] with 10 at accuracy 1.
void write_run(const fs::path& dir, double n_low, double acc_low) {
  fs::create_directories(dir);
  std::ofstream(dir / "metrics.csv") << "step,loss,lr,grad_norm,tokens_per_s,eval_loss/len_4_16,eval_acc/len_4_16,"
                                        "drift_mean/layers.0.norm1,drift_var/layers.0.norm1\n"
                                        "10,0.9,0.001,1.0,1000,,,0.01,0.02\n"
                                        "20,0.5,0.001,1.0,1000,0.4,0.9,0.02,0.03\n";
  ojson bins = ojson::array({{{"lower", 0.5}, {"upper", 0.75}, {"count", n_low}, {"accuracy", acc_low}, {"confidence", 0.6}},
                             {{"lower", 0.75}, {"upper", 1.0}, {"count", 10}, {"accuracy", 1.0}, {"confidence", 0.9}}});
  ojson result = {{"steps", 20}, {"seconds", 1.0},
                  {"eval", ojson::array({{{"split", "len_4_16"}, {"ece", 0.05}, {"reliability", bins}}})}};
  std::ofstream(dir / "result.json") << result.dump();
}

nl::CompareConfig make_cc(const fs::path& out) {
  ojson j = ojson::parse(R"({"base": {"task": {"name": "majority"}},
    "variants": {"layernorm": {"model.norm.type": "layernorm"}, "batchnorm": {"model.norm.type": "batchnorm"}},
    "seeds": [1, 2], "replicate_seeds": [3], "target_loss": 0.3})");
  j["out_dir"] = out.string();
  return nl::compare_config_from_json(j, "plots.json", "");
}

int plot(const fs::path& out) {
  const std::string cmd = "/usr/bin/python3 " + std::string(NORMLAB_TEST_DIR) + "/../scripts/plot_compare.py " +
                          out.string() + " > " + (out / "plot.log").string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("compare summary: reliability bins pooled over the exploratory seeds; the metrics schema", "[compare][plots]") {
  fs::path out = testutil::unique_temp("compare_plots");
  fs::remove_all(out);
  const nl::CompareConfig cc = make_cc(out);
  // seeds 1, 2 exploratory (5 at 0.2 and 15 at 0.6 in the low bin); seed 3 confirmatory (left out)
  for (const auto& v : cc.variants) {
    write_run(nl::run_dir_for(out.string(), v.name, 1), 5, 0.2);
    write_run(nl::run_dir_for(out.string(), v.name, 2), 15, 0.6);
    write_run(nl::run_dir_for(out.string(), v.name, 3), 1000, 0.0);
  }
  ojson S = nl::summarize_compare(cc, out.string(), {});
  const ojson& bins = S["variants"][1]["points"][0]["stats"]["reliability"]["len_4_16"];
  REQUIRE(bins.size() == 2);
  CHECK(bins[0]["lower"].get<double>() == Approx(0.5));
  CHECK(bins[0]["count"].get<double>() == Approx(20));
  CHECK(bins[0]["accuracy"].get<double>() == Approx((5 * 0.2 + 15 * 0.6) / 20));  // count-weighted: 0.5
  CHECK(bins[0]["confidence"].get<double>() == Approx(0.6));
  CHECK(bins[1]["count"].get<double>() == Approx(20));
  CHECK(bins[1]["accuracy"].get<double>() == Approx(1.0));
  // the column names, from the one header that defines them
  const ojson& m = S["schema"]["metrics_csv"];
  CHECK(m["step"] == nl::metrics_schema::kStep);
  CHECK(m["eval_acc_prefix"] == nl::metrics_schema::kEvalAcc);
  CHECK(m["drift_mean_prefix"] == nl::metrics_schema::kDriftMean);
  CHECK(m["group_grad_norm_prefix"] == nl::metrics_schema::kGroupGradNorm);
  CHECK(S["schema"]["split_extras"].size() == std::size(nl::metrics_schema::kSplitExtras));
  // the report links the diagram, and lists every run, the confirmatory ones marked
  const std::string md = nl::render_report(S, "");
  INFO(md);
  CHECK(md.find("![reliability per split](plots/reliability.png)") != std::string::npos);
  CHECK(md.find("| variant | seed | seeds | status |") != std::string::npos);
  CHECK(md.find("| batchnorm | 2 | exploratory | finished |") != std::string::npos);
  CHECK(md.find("| batchnorm | 3 | confirmatory | finished |") != std::string::npos);
  CHECK(md.find("| layernorm | 3 | confirmatory | finished |") != std::string::npos);

  // scripts/plot_compare.py: draws the reliability diagram, and picks columns by the schema
  std::ofstream(out / "summary.json") << S.dump(2);
  const int code = plot(out);
  INFO(testutil::slurp(out / "plot.log"));
  if (code == 3) {
    WARN("skipped: /usr/bin/python3 has no matplotlib");
  } else {
    REQUIRE(code == 0);
    CHECK(fs::file_size(out / "plots" / "reliability.png") > 1000);
    CHECK(fs::exists(out / "plots" / "drift.png"));
    // with the drift prefix spelled otherwise in the schema, the same CSVs have no drift column
    fs::remove_all(out / "plots");
    ojson renamed = S;
    renamed["schema"]["metrics_csv"]["drift_mean_prefix"] = "bn_drift_mean/";
    std::ofstream(out / "summary.json") << renamed.dump(2);
    REQUIRE(plot(out) == 0);
    CHECK(fs::exists(out / "plots" / "loss.png"));
    CHECK_FALSE(fs::exists(out / "plots" / "drift.png"));
    // a summary without the schema (an older compare) is refused with a one-line reason
    renamed.erase("schema");
    std::ofstream(out / "summary.json") << renamed.dump(2);
    CHECK(plot(out) == 2);
    CHECK(testutil::slurp(out / "plot.log").find("has no schema.metrics_csv") != std::string::npos);
  }
  fs::remove_all(out);
}
