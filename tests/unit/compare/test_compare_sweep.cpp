// test_compare_sweep.cpp — sweeps in compare configs: the points (cartesian product), the
// folder layout, --dry-run, --only with points, bad sweeps rejected before anything is
// written; summary.json from fixture run folders whose result.json holds per-length
// results, BatchNorm shift per split and jitter; the report's tables with one column per
// sweep point and the running-vs-batch statistics section; and a tiny real sweep.
//
// What it is not: a test of the statistics' numerics (test_compare_stats.cpp) nor of the
// runner's child-process handling (test_compare_runner.cpp).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "normlab/compare/compare.h"
#include "normlab/core/error.h"
#include "testutil/process.h"

namespace fs = std::filesystem;
using testutil::slurp;
using ojson = nlohmann::ordered_json;

namespace {

// The shared tiny comparison (tests/configs/tiny_compare.json) swept over two batch sizes.
ojson sweep_compare(const std::string& out) {
  std::ifstream in(std::string(NORMLAB_TEST_DIR) + "/configs/tiny_compare.json");
  ojson j = ojson::parse(in);
  j["sweep"]["train.batch_size"] = ojson::array({4, 8});
  j["out_dir"] = out;
  return j;
}

void expect_error(const ojson& j, const std::string& needle) {
  try {
    nl::CompareConfig cc = nl::compare_config_from_json(j, "cmp.json", "");
    nl::plan_runs(cc, "out", 1);
    FAIL("no error for: " << j.dump());
  } catch (const nl::UserError& e) {
    std::string msg = e.what();
    INFO(msg);
    CHECK(e.code == 2);
    CHECK(msg.find(needle) != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }
}
}  // namespace

TEST_CASE("sweep: points are the cartesian product, folders <variant>/<axis>=<value>/seed<k>", "[compare][sweep]") {
  ojson j = sweep_compare("out");
  j["sweep"]["task.train_lengths"] = ojson::parse(R"([{"min": 4, "max": 8}, {"min": 2, "max": 10}, {"min": 6, "max": 6}])");
  nl::CompareConfig cc = nl::compare_config_from_json(j, "cmp.json", "");
  REQUIRE(cc.sweep.size() == 2);
  CHECK(cc.sweep[1].labels == std::vector<std::string>{"4-8", "2-10", "6-6"});  // objects: values joined by '-'
  std::vector<nl::SweepPoint> pts = nl::sweep_points(cc);
  REQUIRE(pts.size() == 6);  // 2 x 3, first axis slowest
  CHECK(pts[0].label == "train.batch_size=4,task.train_lengths=4-8");
  CHECK(pts[2].label == "train.batch_size=4,task.train_lengths=6-6");
  CHECK(pts[3].label == "train.batch_size=8,task.train_lengths=4-8");
  std::vector<nl::CompareRun> plan = nl::plan_runs(cc, "out", 1);
  REQUIRE(plan.size() == 2 * 6 * 2);
  // variant, then point, then seed; the point's values reach the resolved config
  const nl::CompareRun& r = plan[2 * 4 + 1];  // layernorm, point 4, seed 2
  CHECK(r.variant == "layernorm");
  CHECK(r.point == "train.batch_size=8,task.train_lengths=2-10");
  CHECK(r.seed == 2);
  CHECK(r.dir == "out/layernorm/train.batch_size=8,task.train_lengths=2-10/seed2");
  CHECK(r.config["train"]["batch_size"] == 8);
  CHECK(r.config["task"]["train_lengths"]["min"] == 2);
  CHECK(r.config["task"]["train_lengths"]["max"] == 10);
  CHECK(r.config["model"]["norm"]["type"] == "layernorm");
  CHECK(r.config["train"]["out_dir"] == r.dir);

  // No sweep: one empty point and today's layout.
  j.erase("sweep");
  cc = nl::compare_config_from_json(j, "cmp.json", "");
  CHECK(nl::sweep_points(cc).size() == 1);
  CHECK(nl::plan_runs(cc, "out", 1)[0].dir == "out/layernorm/seed1");
  CHECK(nl::sweep_label(ojson("a b/c")) == "a_b_c");
  CHECK(nl::sweep_label(ojson(0.001)) == "0.001");
}

TEST_CASE("sweep: bad sweeps exit 2 naming the key, before anything is written", "[compare][sweep]") {
  ojson j;
  j = sweep_compare("out"); j["sweep"] = ojson::array();                 expect_error(j, "sweep: must be a non-empty object");
  j = sweep_compare("out"); j["sweep"] = ojson::object();                expect_error(j, "sweep: must be a non-empty object");
  j = sweep_compare("out"); j["sweep"] = {{"train.batch_size", 8}};      expect_error(j, "sweep.train.batch_size: must be a non-empty array");
  j = sweep_compare("out"); j["sweep"] = {{"train.batch_size", ojson::array()}}; expect_error(j, "sweep.train.batch_size: must be a non-empty array");
  j = sweep_compare("out"); j["sweep"] = {{"train.batch_sise", {4}}};    expect_error(j, "sweep.train.batch_sise: ");
  j = sweep_compare("out"); j["sweep"] = {{"train.batch_sise", {4}}};    expect_error(j, "unknown key 'batch_sise'");
  j = sweep_compare("out"); j["sweep"] = {{"train.seed", {1, 2}}};       expect_error(j, "sweep.train.seed: set by compare");
  j = sweep_compare("out"); j["sweep"] = {{"model.norm.type", {"layernorm"}}};
  expect_error(j, "sweep.model.norm.type: variant 'layernorm' sets 'model.norm.type' too");
  j = sweep_compare("out"); j["sweep"] = {{"train.batch_size", {4, "4"}}}; expect_error(j, "same folder label '4'");
  // a value that fails validation once applied to a variant: named with the key and value
  j = sweep_compare("out"); j["sweep"] = {{"train.batch_size", {8, 0}}};
  expect_error(j, "sweep.train.batch_size=0 (variant layernorm): ");
  j = sweep_compare("out"); j["sweep"] = {{"task.train_lengths", ojson::parse(R"([{"min": 4, "max": 2}])")}};
  expect_error(j, "sweep.task.train_lengths={\"max\":2,\"min\":4} (variant layernorm): ");

  // run_compare with a bad value writes nothing, not even the comparison folder
  fs::path out = testutil::unique_temp("sweep_bad");
  fs::remove_all(out);
  j = sweep_compare(out.string());
  j["sweep"] = {{"train.batch_size", {8, -1}}};
  nl::CompareConfig cc = nl::compare_config_from_json(j, "cmp.json", "");
  nl::CompareOptions opt;
  opt.quiet = true;
  opt.exe = "/bin/false";
  CHECK_THROWS_AS(nl::run_compare(cc, opt), nl::UserError);
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("sweep: --dry-run lists the runs and writes nothing; --only selects points", "[compare][sweep]") {
  fs::path out = testutil::unique_temp("sweep_dry");
  fs::remove_all(out);
  nl::CompareConfig cc = nl::compare_config_from_json(sweep_compare(out.string()), "cmp.json", "");
  nl::CompareOptions opt;
  opt.dry_run = true;
  opt.quiet = true;
  opt.exe = "/bin/false";  // would fail every run if anything ran
  nl::CompareResult r = nl::run_compare(cc, opt);
  REQUIRE(r.runs.size() == 8);
  for (const auto& o : r.runs) CHECK(o.status == "planned");
  CHECK_FALSE(fs::exists(out));
  std::string listing = nl::format_plan(nl::plan_runs(cc, out.string(), 1));
  std::istringstream lines(listing);
  std::string line;
  std::getline(lines, line);
  CHECK(line == "variant\tpoint\tseed\tfolder");
  std::getline(lines, line);
  CHECK(line == "layernorm\ttrain.batch_size=4\t1\t" + (out / "layernorm" / "train.batch_size=4" / "seed1").string());
  int n = 1;
  while (std::getline(lines, line)) ++n;
  CHECK(n == 8);

  nl::CompareRun run;
  run.variant = "batchnorm";
  run.point = "train.batch_size=8";
  run.seed = 2;
  CHECK(nl::only_matches("batchnorm", run));
  CHECK(nl::only_matches("batchnorm/train.batch_size=8", run));
  CHECK(nl::only_matches("batchnorm/train.batch_size=8/2", run));
  CHECK(nl::only_matches("batchnorm/train.batch_size=8/seed2", run));
  CHECK(nl::only_matches("batchnorm/2", run));
  CHECK_FALSE(nl::only_matches("batchnorm/train.batch_size=4", run));
  CHECK_FALSE(nl::only_matches("batchnorm/train.batch_size=8/1", run));
  CHECK(nl::run_dir_for("out", "batchnorm", 2, run.point) == "out/batchnorm/train.batch_size=8/seed2");
}

namespace {

// A fixture run folder: metrics.csv plus a result.json with the per-length evaluation,
// BatchNorm shift per split and jitter (the trainer's documented result.json).
// Lengths 2..6 (seen) have 40 examples each, 7..9 (unseen) 10 each.
void write_fixture_run(const fs::path& dir, double acc_seen, double acc_unseen, double shift, double jitter,
                       double loss_unseen) {
  fs::create_directories(dir);
  std::ofstream m(dir / "metrics.csv");
  m << "step,loss,lr,grad_norm,tokens_per_s,eval_loss/len_2_6,eval_acc/len_2_6,eval_loss/len_7_9,eval_acc/len_7_9\n";
  m << "2,1.0,0.001,1.0,100,,,,\n";
  m << "4,0.5,0.001,1.0,100,0.4," << acc_seen << "," << loss_unseen << "," << acc_unseen << "\n";
  m.close();
  ojson res;
  res["steps"] = 4;
  res["seconds"] = 1.0;
  ojson ev = ojson::array();
  for (int s = 0; s < 2; ++s) {
    ojson e;
    e["split"] = s == 0 ? "len_2_6" : "len_7_9";
    e["min_len"] = s == 0 ? 2 : 7;
    e["max_len"] = s == 0 ? 6 : 9;
    e["seen_in_training"] = s == 0;
    e["loss"] = s == 0 ? 0.4 : loss_unseen;
    e["accuracy"] = s == 0 ? acc_seen : acc_unseen;
    e["ece"] = 0.1 * (s + 1);  // calibration (train/metrics_schema.h kSplitExtras) flows into the summary
    e["confidence_wrong"] = 0.5 + jitter;
    ojson bl = ojson::array();
    for (int L = e["min_len"]; L <= e["max_len"].get<int>(); ++L) {
      // accuracy falls with length inside the unseen split: 7 -> acc + 0.1, 9 -> acc - 0.1
      double a = s == 0 ? acc_seen : acc_unseen + 0.1 * (8 - L);
      bl.push_back({{"length", L}, {"count", s == 0 ? 40 : 10}, {"loss", 0.1 * L}, {"accuracy", a}});
    }
    e["by_length"] = bl;
    e["bn"] = {{"layers.0.norm1", {{"shift_mean", shift * (s + 1)}, {"shift_var", 2 * shift * (s + 1)}}}};
    ev.push_back(e);
  }
  res["eval"] = ev;
  res["bn_jitter"] = {{"layers.0.norm1", {{"mean_std", jitter}, {"var_std", 3 * jitter}}}};
  std::ofstream(dir / "result.json") << res.dump(2);
  ojson cfg;
  cfg["task"]["train_lengths"] = {{"min", 2}, {"max", 6}};
  std::ofstream(dir / "compare_config.json") << cfg.dump(2);
}

}  // namespace

TEST_CASE("sweep summary: per point stats, per-length bins, BN shift and jitter from result.json", "[compare][sweep]") {
  fs::path out = testutil::unique_temp("sweep_summary");
  fs::remove_all(out);
  ojson j = sweep_compare(out.string());
  j["variants"]["batchnorm_batchstats"] = {{"model.norm.type", "batchnorm"}, {"eval.bn_stats", "batch"}};
  j["seeds"] = {1, 2, 3};
  nl::CompareConfig cc = nl::compare_config_from_json(j, "sweep.json", "");
  // layernorm: unseen acc 0.9 at both points; batchnorm: 0.6 at batch 4, 0.8 at batch 8;
  // batchnorm_batchstats: 0.85 everywhere; seed noise +-0.01.
  auto acc_of = [](const std::string& v, size_t pi) {
    return v == "layernorm" ? 0.9 : v == "batchnorm" ? (pi == 0 ? 0.6 : 0.8) : 0.85;
  };
  std::vector<nl::SweepPoint> pts = nl::sweep_points(cc);
  for (const auto& v : cc.variants)
    for (size_t pi = 0; pi < pts.size(); ++pi)
      for (uint64_t s : cc.seeds) {
        double noise = 0.01 * ((int)s - 2);
        write_fixture_run(nl::run_dir_for(out.string(), v.name, s, pts[pi].label), 0.95 + noise,
                          acc_of(v.name, pi) + noise, 0.1 * s * (pi + 1), 0.01 * s,
                          v.name == "layernorm" ? 0.5 + noise : v.name == "batchnorm" ? 1.5 + noise : 0.75 + noise);
      }

  ojson S = nl::summarize_compare(cc, out.string(), {});
  REQUIRE(S["points"].size() == 2);
  CHECK(S["points"][1]["label"] == "train.batch_size=8");
  CHECK(S["points"][1]["values"]["train.batch_size"] == 8);
  CHECK(S["compare"]["sweep"][0]["key"] == "train.batch_size");
  const ojson& bn8 = S["variants"][1]["points"][1];
  CHECK(bn8["label"] == "train.batch_size=8");
  CHECK(bn8["runs"][0]["dir"] == "batchnorm/train.batch_size=8/seed1");
  CHECK(bn8["stats"]["eval"]["len_7_9"]["acc"]["mean"].get<double>() == Approx(0.8));
  CHECK(bn8["stats"]["eval"]["len_7_9"]["acc"]["ci95"].get<double>() == Approx(4.302653 * 0.01 / std::sqrt(3.0)).epsilon(1e-5));
  CHECK(S["variants"][1]["points"][0]["stats"]["eval"]["len_7_9"]["acc"]["mean"].get<double>() == Approx(0.6));

  // Per length: 2..6 one bin each (40 >= 32 examples), 7..9 pooled into one bin (10 each),
  // which stays apart from the seen lengths.
  const ojson& bins = bn8["stats"]["by_length"];
  REQUIRE(bins.size() == 6);
  CHECK(bins[0]["lo"] == 2);
  CHECK(bins[4]["hi"] == 6);
  CHECK(bins[5]["lo"] == 7);
  CHECK(bins[5]["hi"] == 9);
  // count-weighted accuracy of 7..9: (0.9 + 0.8 + 0.7) / 3 for batchnorm at batch 8 (+ noise, mean 0)
  CHECK(bins[5]["acc"]["mean"].get<double>() == Approx(0.8));
  CHECK(bins[5]["acc"]["n"] == 3);
  CHECK(bins[0]["loss"]["mean"].get<double>() == Approx(0.2));
  CHECK(bn8["runs"][0]["by_length"][5]["count"].get<double>() == 30);
  CHECK(bn8["train_lengths"] == ojson::array({2, 6}));

  // BatchNorm shift per layer and split, jitter per layer: means over seeds 1..3
  CHECK(S["shift_layers"] == ojson::array({"layers.0.norm1"}));
  CHECK(bn8["stats"]["bn_shift"]["layers.0.norm1"]["len_7_9"]["shift_mean"]["mean"].get<double>() == Approx(0.1 * 2 * 2 * 2));
  CHECK(bn8["stats"]["bn_shift"]["layers.0.norm1"]["len_2_6"]["shift_var"]["mean"].get<double>() == Approx(2 * 0.1 * 2 * 2));
  CHECK(bn8["stats"]["bn_jitter"]["layers.0.norm1"]["var_std"]["mean"].get<double>() == Approx(0.06));
  // per-split extras of result.json, per run and per cell; absent ones stay absent
  CHECK(bn8["runs"][1]["eval"]["len_7_9"]["ece"].get<double>() == Approx(0.2));
  CHECK(bn8["stats"]["eval"]["len_7_9"]["ece"]["mean"].get<double>() == Approx(0.2));
  CHECK(bn8["stats"]["eval"]["len_2_6"]["confidence_wrong"]["mean"].get<double>() == Approx(0.5 + 0.02));
  CHECK_FALSE(bn8["stats"]["eval"]["len_2_6"].contains("nll"));

  // Tests: against the reference at every point, and batch vs running statistics.
  const ojson& tests = S["tests"]["list"];
  int n_ref = 0, n_bn = 0;
  for (const auto& t : tests) {
    n_ref += t["why"] == "reference";
    n_bn += t["why"] == "bn_stats";
    if (t["why"] == "bn_stats") {
      CHECK(t["variant"] == "batchnorm_batchstats");
      CHECK(t["against"] == "batchnorm");
    }
    CHECK(t["p_holm"].get<double>() >= t["p"].get<double>());
  }
  CHECK(n_ref == 2 * 2 * 5);  // 2 points x 2 variants x (train loss, acc and loss of 2 splits)
  CHECK(n_bn == 2 * 4);       // 2 points x (acc and loss of 2 splits)
  // batchnorm_batchstats is batchnorm's trained model: its training-loss test against the
  // reference repeats batchnorm's (one per point), marked so and left out of the Holm family.
  int dups = 0;
  for (const auto& t : tests)
    if (t["duplicate_of"].is_number()) {
      ++dups;
      const ojson& first = tests[t["duplicate_of"].get<size_t>()];
      CHECK(t["variant"] == "batchnorm_batchstats");
      CHECK(t["metric"] == "final_train_loss");
      CHECK(first["variant"] == "batchnorm");
      CHECK(first["point"] == t["point"]);
      CHECK(t["p_holm"] == first["p_holm"]);
    }
  CHECK(dups == 2);
  CHECK(S["tests"]["duplicates"] == 2);
  CHECK(S["tests"]["count"] == n_ref + n_bn - dups);
  for (const auto& t : tests) CHECK(t["test"] == "paired t");

  std::string md = nl::render_report(S, "");
  INFO(md);
  // one table per metric, one column per point
  size_t tab = md.find("### accuracy len_7_9 (unseen)\n\n| variant | train.batch_size=4 | train.batch_size=8 |");
  REQUIRE(tab != std::string::npos);
  std::string table = md.substr(tab, md.find("\n\n", md.find("|---|", tab)) - tab);
  CHECK(table.find("| layernorm | 0.900 ± 0.025 | 0.900 ± 0.025 |") != std::string::npos);
  CHECK(table.find("| batchnorm | 0.600 ± 0.025 * | 0.800 ± 0.025 * |") != std::string::npos);
  CHECK(md.find("### train.batch_size=8\n") != std::string::npos);
  CHECK(md.find("## Accuracy per length") != std::string::npos);
  CHECK(md.find("| 7..9 (unseen) |") != std::string::npos);
  CHECK(md.find("## BatchNorm: running statistics vs each split's own statistics") != std::string::npos);
  CHECK(md.find("## BatchNorm jitter in training") != std::string::npos);
  CHECK(md.find("## Calibration") != std::string::npos);
  CHECK(md.find("### ece\n\n| variant | len_2_6 (seen) train.batch_size=4 |") != std::string::npos);
  CHECK(md.find("### nll") == std::string::npos);
  // the price of the running statistics: loss gap 1.0 (running) vs 0.25 (batch): 75% removed
  size_t cost = md.find("## What the running statistics cost");
  REQUIRE(cost != std::string::npos);
  CHECK(md.find("| len_7_9 (unseen) | 0.5000 | 1.500 | 0.7500 | 1.000 | 0.2500 | 75% | lower by 0.7500", cost) !=
        std::string::npos);
  CHECK(md.find("![metrics vs the sweep value](plots/sweep.png)") != std::string::npos);
  CHECK(md.find("| batchnorm | train.batch_size=8 | 3 | exploratory | finished |") != std::string::npos);
  fs::remove_all(out);
}

TEST_CASE("sweep end to end: 2 variants x 2 batch sizes x 2 seeds with the real trainer", "[compare][sweep]") {
  fs::path out = testutil::unique_temp("sweep_e2e");
  fs::remove_all(out);
  nl::CompareConfig cc = nl::compare_config_from_json(sweep_compare(out.string()), "tiny_sweep.json", "");
  nl::CompareOptions opt;
  opt.exe = NORMLAB_BINARY;
  opt.plot_script = std::string(NORMLAB_TEST_DIR) + "/../scripts/plot_compare.py";
  opt.quiet = true;
  opt.cores = 2;
  nl::CompareResult r = nl::run_compare(cc, opt);
  REQUIRE(r.runs.size() == 8);
  for (const auto& o : r.runs) {
    INFO(o.variant << "/" << o.point << "/" << o.seed << ": " << o.last_stderr);
    CHECK(o.status == "ok");
    nlohmann::json cfg = nlohmann::json::parse(slurp(fs::path(o.dir) / "compare_config.json"));
    CHECK(cfg["train"]["batch_size"] == (o.point == "train.batch_size=4" ? 4 : 8));
    CHECK(fs::path(o.dir).parent_path().filename() == o.point);
  }
  CHECK(r.incomplete == 0);
  ojson S = ojson::parse(slurp(out / "summary.json"));
  REQUIRE(S["points"].size() == 2);
  for (const auto& V : S["variants"])
    for (const auto& P : V["points"]) CHECK(P["stats"]["finished"] == 2);
  std::string md = slurp(out / "report.md");
  CHECK(md.find("| variant | train.batch_size=4 | train.batch_size=8 |") != std::string::npos);
  if (r.plots_ok) CHECK(fs::file_size(out / "plots" / "sweep.png") > 1000);
  // a rerun trains nothing
  r = nl::run_compare(cc, opt);
  for (const auto& o : r.runs) CHECK(o.status == "skipped");
  fs::remove_all(out);
}

TEST_CASE("running-statistics cost pairs only batch vs running statistics, not AdaBN split statistics", "[compare][sweep]") {
  fs::path out = testutil::unique_temp("sweep_splitstats");
  fs::remove_all(out);
  ojson j = sweep_compare(out.string());
  j["variants"]["batchnorm_batchstats"] = {{"model.norm.type", "batchnorm"}, {"eval.bn_stats", "batch"}};
  j["variants"]["batchnorm_splitstats"] = {{"model.norm.type", "batchnorm"}, {"eval.bn_stats", "split"}};
  j["seeds"] = {1, 2, 3};
  nl::CompareConfig cc = nl::compare_config_from_json(j, "sweep.json", "");
  std::vector<nl::SweepPoint> pts = nl::sweep_points(cc);
  for (const auto& v : cc.variants)
    for (size_t pi = 0; pi < pts.size(); ++pi)
      for (uint64_t s : cc.seeds) {
        double noise = 0.01 * ((int)s - 2);
        write_fixture_run(nl::run_dir_for(out.string(), v.name, s, pts[pi].label), 0.95 + noise, 0.8 + noise,
                          0.1 * s, 0.01 * s, 0.75 + noise);
      }
  ojson S = nl::summarize_compare(cc, out.string(), {});
  int n_bn = 0;
  for (const auto& t : S["tests"]["list"]) {
    if (t["why"] != "bn_stats") continue;
    ++n_bn;
    CHECK(t["variant"] == "batchnorm_batchstats");
    CHECK(t["against"] == "batchnorm");  // never batchnorm_splitstats: split is not running
  }
  CHECK(n_bn == 2 * 4);  // 2 points x (acc and loss of 2 splits), batchstats vs batchnorm only
  fs::remove_all(out);
}
