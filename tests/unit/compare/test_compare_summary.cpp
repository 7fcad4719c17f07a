// test_compare_summary.cpp — summary.json and report.md from run folders, checked against
// the runs' metrics.csv recomputed here.
//
// What it is not: a training run. The run folders are synthetic (written by the test in
// the trainer's documented layout).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "normlab/core/error.h"
#include "normlab/compare/compare.h"
#include "testutil/process.h"

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

const std::vector<std::string> kSplits = {"len_4_16", "len_17_32"};  // seen, unseen
const std::vector<std::string> kGroups = {"embed", "layers.0", "head"};

// A made-up but plausible run: loss decays, accuracy set by the variant, noise by the seed.
void write_run(const fs::path& dir, const std::string& variant, uint64_t seed, bool batchnorm,
               double unseen_acc, bool finished = true) {
  fs::create_directories(dir);
  std::ofstream m(dir / "metrics.csv");
  m << "step,loss,lr,grad_norm,tokens_per_s";
  for (const auto& s : kSplits) m << ",eval_loss/" << s << ",eval_acc/" << s;
  if (batchnorm) m << ",drift_mean/layers.0.norm1,drift_var/layers.0.norm1,drift_mean/layers.0.norm2,drift_var/layers.0.norm2";
  for (const auto& g : kGroups) m << ",grad_norm/" << g;
  m << "\n";
  // per-seed noise in [-0.02, 0.02]; variants with names of equal length get the same noise
  double jitter = 0.02 * ((int)((seed * 37 + variant.size() * 11) % 7) - 3) / 3.0;
  for (int step = 10; step <= 200; step += 10) {
    double loss = 1.4 * std::exp(-step / (40.0 + 10 * seed)) + 0.05 + jitter;
    m << step << "," << loss << ",0.001," << 2.0 / (1 + step * 0.01) + jitter << ",1000";
    bool eval = step % 100 == 0;
    for (size_t i = 0; i < kSplits.size(); ++i) {
      if (!eval) { m << ",,"; continue; }
      double acc = (i == 0 ? 0.95 : unseen_acc) + jitter - (step == 100 ? 0.1 : 0.0);
      m << "," << loss * (1.2 + 0.5 * i) << "," << acc;
    }
    if (batchnorm)
      for (int L = 0; L < 2; ++L) m << "," << 0.01 * (L + 1) * (1 + jitter) + 1e-4 * step << "," << 0.02 / step + 0.003 * L;
    for (size_t g = 0; g < kGroups.size(); ++g) m << "," << (g + 1) * 0.5 / std::sqrt(step) + jitter * jitter;
    m << "\n";
  }
  m.close();
  ojson cfg;
  cfg["task"]["train_lengths"] = {{"min", 4}, {"max", 16}};
  cfg["task"]["eval_lengths"] = ojson::array({{{"min", 4}, {"max", 16}}, {{"min", 17}, {"max", 32}}});
  std::ofstream(dir / "compare_config.json") << cfg.dump(2);
  if (finished) std::ofstream(dir / "result.json") << R"({"steps": 200, "seconds": 1.5})";
}

// The plumbing of a summary test: the compare config `config` (its out_dir set
// to a fresh temp folder `out`) and every run of it, exploratory and confirmatory, written by
// write_run with the unseen accuracy `unseen(variant, seed)`.
nl::CompareConfig write_comparison(const fs::path& out, const std::string& config,
                                   const std::function<double(const std::string&, uint64_t)>& unseen) {
  fs::remove_all(out);
  ojson j = ojson::parse(config);
  j["out_dir"] = out.string();
  nl::CompareConfig cc = nl::compare_config_from_json(j, "compare.json", "");
  for (const auto& v : cc.variants)
    for (uint64_t s : nl::all_seeds(cc))
      write_run(nl::run_dir_for(out.string(), v.name, s), v.name, s, false, unseen(v.name, s));
  return cc;
}

// ---- recompute from the CSV, independently of src/compare/summary.cpp ----
struct Csv {
  std::vector<std::string> head;
  std::vector<std::vector<std::string>> rows;
  int col(const std::string& n) const {
    for (size_t i = 0; i < head.size(); ++i) if (head[i] == n) return (int)i;
    return -1;
  }
  double at(size_t r, const std::string& n) const {
    const std::string& s = rows[r][col(n)];
    return s.empty() ? NAN : std::stod(s);
  }
};

Csv read(const fs::path& p) {
  Csv c;
  std::ifstream in(p);
  std::string line;
  auto cells = [](const std::string& l) {
    std::vector<std::string> out;
    size_t start = 0;
    while (true) {
      size_t comma = l.find(',', start);
      out.push_back(l.substr(start, comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return out;
  };
  std::getline(in, line);
  c.head = cells(line);
  while (std::getline(in, line)) if (!line.empty()) c.rows.push_back(cells(line));
  return c;
}

double mean_of(const std::vector<double>& x) {
  double s = 0;
  for (double v : x) s += v;
  return s / x.size();
}
double std_of(const std::vector<double>& x) {
  double m = mean_of(x), s = 0;
  for (double v : x) s += (v - m) * (v - m);
  return std::sqrt(s / (x.size() - 1));
}

nl::CompareConfig make_cc(const std::string& out) {
  ojson j = ojson::parse(R"({
    "base": {"task": {"name": "majority"}},
    "variants": {"layernorm": {"model.norm.type": "layernorm"},
                 "batchnorm": {"model.norm.type": "batchnorm"},
                 "rmsnorm": {"model.norm.type": "rmsnorm"}},
    "seeds": [1, 2, 3], "target_loss": 0.3, "jobs": 1})");
  j["out_dir"] = out;
  return nl::compare_config_from_json(j, "synthetic.json", "");
}

}  // namespace

TEST_CASE("compare summary: summary.json agrees with the runs' metrics.csv", "[compare]") {
  fs::path out = testutil::unique_temp("compare_summary");
  fs::remove_all(out);
  nl::CompareConfig cc = make_cc(out.string());
  std::map<std::string, double> unseen = {{"layernorm", 0.80}, {"batchnorm", 0.50}, {"rmsnorm", 0.80}};
  for (const auto& v : cc.variants)
    for (uint64_t s : cc.seeds)
      write_run(nl::run_dir_for(out.string(), v.name, s), v.name, s, v.name == "batchnorm", unseen[v.name]);

  ojson S = nl::summarize_compare(cc, out.string(), {});
  REQUIRE(S["variants"].size() == 3);
  REQUIRE(S["splits"].size() == 2);
  CHECK(S["splits"][0]["name"] == "len_4_16");
  CHECK(S["splits"][0]["seen"] == true);
  CHECK(S["splits"][1]["seen"] == false);
  CHECK(S["batchnorm_layers"] == ojson::array({"layers.0.norm1", "layers.0.norm2"}));
  CHECK(S["grad_groups"] == ojson::array({"embed", "layers.0", "head"}));

  for (const auto& V : S["variants"]) {
    const std::string name = V["name"];
    INFO(name);
    std::vector<double> finals, stt, acc_unseen, loss_seen, dvar_avg;
    for (size_t k = 0; k < cc.seeds.size(); ++k) {
      Csv c = read(fs::path(nl::run_dir_for(out.string(), name, cc.seeds[k])) / "metrics.csv");
      const ojson& r = V["points"][0]["runs"][k];
      CHECK(r["status"] == "finished");
      size_t last = c.rows.size() - 1;
      CHECK(r["final_train_loss"].get<double>() == Approx(c.at(last, "loss")));
      CHECK(r["final_step"].get<double>() == Approx(c.at(last, "step")));
      finals.push_back(c.at(last, "loss"));
      // first step with loss <= target
      double first = NAN;
      for (size_t i = 0; i < c.rows.size(); ++i)
        if (c.at(i, "loss") <= 0.3) { first = c.at(i, "step"); break; }
      if (std::isnan(first)) CHECK(r["steps_to_target"].is_null());
      else { CHECK(r["steps_to_target"].get<double>() == first); stt.push_back(first); }
      // last non-empty evaluation
      for (const auto& s : kSplits) {
        size_t i = c.rows.size();
        while (i-- > 0 && std::isnan(c.at(i, "eval_acc/" + s))) {}
        CHECK(r["eval"][s]["acc"].get<double>() == Approx(c.at(i, "eval_acc/" + s)));
        CHECK(r["eval"][s]["loss"].get<double>() == Approx(c.at(i, "eval_loss/" + s)));
        CHECK(r["eval"][s]["step"].get<double>() == Approx(c.at(i, "step")));
      }
      acc_unseen.push_back(r["eval"]["len_17_32"]["acc"].get<double>());
      loss_seen.push_back(r["eval"]["len_4_16"]["loss"].get<double>());
      CHECK(r["overfit_gap"].get<double>() == Approx(loss_seen.back() - finals.back()));
      double gmax = 0;
      for (size_t i = 0; i < c.rows.size(); ++i) gmax = std::max(gmax, c.at(i, "grad_norm"));
      CHECK(r["max_grad_norm"].get<double>() == Approx(gmax));
      CHECK(r["first_grad_norm"]["head"].get<double>() == Approx(c.at(0, "grad_norm/head")));
      if (name == "batchnorm") {
        double sum = 0;
        for (size_t i = 0; i < c.rows.size(); ++i) sum += c.at(i, "drift_var/layers.0.norm2");
        CHECK(r["drift"]["layers.0.norm2"]["drift_var_avg"].get<double>() == Approx(sum / c.rows.size()));
        CHECK(r["drift"]["layers.0.norm1"]["drift_mean"].get<double>() == Approx(c.at(last, "drift_mean/layers.0.norm1")));
        dvar_avg.push_back(sum / c.rows.size());
      } else {
        CHECK(r["drift"].empty());
      }
    }
    const ojson& st = V["points"][0]["stats"];
    CHECK(st["finished"] == 3);
    CHECK(st["final_train_loss"]["n"] == 3);
    CHECK(st["final_train_loss"]["mean"].get<double>() == Approx(mean_of(finals)));
    CHECK(st["final_train_loss"]["std"].get<double>() == Approx(std_of(finals)));
    CHECK(st["eval"]["len_17_32"]["acc"]["mean"].get<double>() == Approx(mean_of(acc_unseen)));
    CHECK(st["eval"]["len_17_32"]["acc"]["std"].get<double>() == Approx(std_of(acc_unseen)));
    CHECK(st["steps_to_target"]["reached"].get<size_t>() == stt.size());
    if (!stt.empty()) CHECK(st["steps_to_target"]["mean"].get<double>() == Approx(mean_of(stt)));
    if (name == "batchnorm")
      CHECK(st["drift"]["layers.0.norm2"]["drift_var_avg"]["mean"].get<double>() == Approx(mean_of(dvar_avg)));
  }
  fs::remove_all(out);
}

TEST_CASE("compare summary: missing and unfinished runs are marked and left out of the means", "[compare]") {
  fs::path out = testutil::unique_temp("compare_missing");
  fs::remove_all(out);
  nl::CompareConfig cc = make_cc(out.string());
  for (const auto& v : cc.variants)
    for (uint64_t s : cc.seeds)
      write_run(nl::run_dir_for(out.string(), v.name, s), v.name, s, false, 0.8, /*finished=*/!(v.name == "rmsnorm" && s == 2));
  fs::remove_all(nl::run_dir_for(out.string(), "batchnorm", 3));
  nl::RunOutcome failed;
  failed.variant = "rmsnorm";
  failed.seed = 2;
  failed.status = "failed";
  failed.exit_code = 1;
  failed.last_stderr = "normlab: error: loss is NaN at step 40";
  ojson S = nl::summarize_compare(cc, out.string(), {failed});
  const ojson& bn = S["variants"][1]["points"][0];
  CHECK(bn["runs"][2]["status"] == "missing");
  CHECK(bn["stats"]["finished"] == 2);
  CHECK(bn["stats"]["final_train_loss"]["n"] == 2);
  const ojson& rms = S["variants"][2]["points"][0];
  CHECK(rms["runs"][1]["status"] == "failed");
  CHECK(rms["runs"][1]["exit_code"] == 1);
  CHECK(rms["stats"]["final_train_loss"]["n"] == 2);
  // the mean is over seeds 1 and 3 only
  double l1 = rms["runs"][0]["final_train_loss"], l3 = rms["runs"][2]["final_train_loss"];
  CHECK(rms["stats"]["final_train_loss"]["mean"].get<double>() == Approx((l1 + l3) / 2));
  // and so is its 95% interval: t_{0.975,1} * std / sqrt(2)
  CHECK(rms["stats"]["final_train_loss"]["ci95"].get<double>() ==
        Approx(12.7062047 * std::fabs(l1 - l3) / std::sqrt(2.0) / std::sqrt(2.0)).epsilon(1e-6));

  std::string md = nl::render_report(S, "");
  CHECK(md.find("## Runs without a result") != std::string::npos);
  CHECK(md.find("| rmsnorm | 2 | failed | 1 | normlab: error: loss is NaN at step 40 |") != std::string::npos);
  CHECK(md.find("| batchnorm | 3 | missing |") != std::string::npos);
  fs::remove_all(out);
}

TEST_CASE("compare report: tables, and sentences only as strong as the numbers", "[compare]") {
  fs::path out = testutil::unique_temp("compare_report");
  fs::remove_all(out);
  nl::CompareConfig cc = make_cc(out.string());
  // batchnorm is far below layernorm on unseen lengths; rmsnorm is the same up to seed noise
  std::map<std::string, double> unseen = {{"layernorm", 0.80}, {"batchnorm", 0.50}, {"rmsnorm", 0.80}};
  for (const auto& v : cc.variants)
    for (uint64_t s : cc.seeds)
      write_run(nl::run_dir_for(out.string(), v.name, s), v.name, s, v.name == "batchnorm", unseen[v.name]);
  ojson S = nl::summarize_compare(cc, out.string(), {});
  std::string md = nl::render_report(S, "");
  INFO(md);
  CHECK(md.find("# synthetic") == 0);
  CHECK(md.find("acc len_17_32 (unseen)") != std::string::npos);
  CHECK(md.find("acc len_4_16 (seen)") != std::string::npos);
  // sentence for the unseen split, from Welch's test (Holm-corrected)
  size_t unseen_line = md.find("- accuracy len_17_32 (unseen):");
  REQUIRE(unseen_line != std::string::npos);
  std::string line = md.substr(unseen_line, md.find('\n', unseen_line) - unseen_line);
  size_t bn = line.find("`batchnorm`"), rms = line.find("`rmsnorm`");
  REQUIRE(bn != std::string::npos);
  REQUIRE(rms != std::string::npos);
  CHECK(line.substr(bn, rms - bn).find("lower by 0.300 (95% CI of the difference") != std::string::npos);
  CHECK(line.substr(rms).find("inconclusive with 3 seeds") != std::string::npos);
  // the p-value in the sentence is the Holm-corrected one of summary.json's test
  const ojson* t = nullptr;
  for (const auto& x : S["tests"]["list"])
    if (x["metric"] == "acc len_17_32" && x["variant"] == "batchnorm" && x["against"] == "layernorm") t = &x;
  REQUIRE(t);
  CHECK(t->at("p_holm").get<double>() < 0.05);
  CHECK(t->at("p_holm").get<double>() >= t->at("p").get<double>());
  CHECK(S["tests"]["count"] == 10);  // 2 variants x (train loss + acc and loss of 2 splits)
  CHECK(md.find("## BatchNorm statistics drift") != std::string::npos);
  CHECK(md.find("![training loss](plots/loss.png)") != std::string::npos);
  CHECK(md.find("significant") == std::string::npos);  // never claims significance

  std::string no_plots = nl::render_report(S, "install python3-matplotlib");
  CHECK(no_plots.find("Plots are missing: install python3-matplotlib") != std::string::npos);
  CHECK(no_plots.find("plots/loss.png") == std::string::npos);

  // With one seed there is no noise estimate: differences are listed, not interpreted.
  ojson j = ojson::parse(R"({"base": {}, "variants": {"layernorm": {}, "batchnorm": {}}, "seeds": [1],
                           "target_loss": 0.3})");
  j["out_dir"] = out.string();
  nl::CompareConfig one = nl::compare_config_from_json(j, "one.json", "");
  std::string md1 = nl::render_report(nl::summarize_compare(one, out.string(), {}), "");
  CHECK(md1.find("one seed: no noise estimate") != std::string::npos);
  CHECK(md1.find("lower by") == std::string::npos);
  fs::remove_all(out);
}

TEST_CASE("compare report: Xu et al. questions are answered from the numbers", "[compare]") {
  fs::path out = testutil::unique_temp("compare_xu");
  fs::remove_all(out);
  ojson j = ojson::parse(R"({"base": {}, "variants": {"layernorm": {},
                           "layernorm_simple": {"model.norm.type": "layernorm_simple"},
                           "detachnorm": {"model.norm.type": "detachnorm"}, "none": {"model.norm.type": "none"}},
                           "seeds": [1, 2, 3], "target_loss": 0.3})");
  j["out_dir"] = out.string();
  nl::CompareConfig cc = nl::compare_config_from_json(j, "xu.json", "");
  CHECK(std::find(cc.questions.begin(), cc.questions.end(), "overfit") != cc.questions.end());
  CHECK(std::find(cc.questions.begin(), cc.questions.end(), "detach") != cc.questions.end());
  for (const auto& v : cc.variants)
    for (uint64_t s : cc.seeds) write_run(nl::run_dir_for(out.string(), v.name, s), v.name, s, false, 0.8);
  // make detachnorm train clearly worse: shift its losses up
  for (uint64_t s : cc.seeds) {
    fs::path p = fs::path(nl::run_dir_for(out.string(), "detachnorm", s)) / "metrics.csv";
    nl::MetricsTable t = nl::read_metrics_csv(p.string());
    std::ofstream o(p);
    for (size_t i = 0; i < t.columns.size(); ++i) o << (i ? "," : "") << t.columns[i];
    o << "\n";
    for (auto& r : t.rows) {
      for (size_t i = 0; i < r.size(); ++i) {
        double v = r[i];
        if (t.columns[i] == "loss") v += 1.0;
        o << (i ? "," : "");
        if (!std::isnan(v)) o << v;
      }
      o << "\n";
    }
  }
  std::string md = nl::render_report(nl::summarize_compare(cc, out.string(), {}), "");
  INFO(md);
  CHECK(md.find("## (a) Do the gain and bias over-fit?") != std::string::npos);
  CHECK(md.find("## (b) Do the gradients through mean and variance matter?") != std::string::npos);
  CHECK(md.find("`detachnorm` trains worse than `layernorm_simple`") != std::string::npos);
  fs::remove_all(out);
}

TEST_CASE("compare: metrics.csv errors name the file and line", "[compare]") {
  fs::path p = testutil::unique_temp("compare_bad.csv");
  { std::ofstream(p) << "step,loss\n10,0.5\n20,abc\n"; }
  try {
    nl::read_metrics_csv(p.string());
    FAIL("bad cell accepted");
  } catch (const nl::UserError& e) {
    CHECK(std::string(e.what()).find(p.string() + ":3: 'abc' in column loss") != std::string::npos);
  }
  { std::ofstream(p) << "step,loss\n10,0.5\n20"; }  // a run killed mid-write: short last line
  nl::MetricsTable t = nl::read_metrics_csv(p.string());
  REQUIRE(t.rows.size() == 2);
  CHECK(std::isnan(t.rows[1][1]));
  fs::remove(p);
}

TEST_CASE("compare: replicate_seeds re-tests each difference on fresh seeds; contrasts; TOST words", "[compare]") {
  fs::path out = testutil::unique_temp("compare_replicate");
  std::map<std::string, double> unseen = {{"layernorm", 0.80}, {"batchnorm", 0.50}, {"rmsnorm", 0.80}};
  nl::CompareConfig cc = write_comparison(out, R"({
    "base": {"task": {"name": "majority"}},
    "variants": {"layernorm": {"model.norm.type": "layernorm"},
                 "batchnorm": {"model.norm.type": "batchnorm"},
                 "rmsnorm": {"model.norm.type": "rmsnorm"}},
    "seeds": [1, 2, 3], "replicate_seeds": [4, 5, 6], "target_loss": 0.3,
    "contrasts": [{"a": "batchnorm", "b": "rmsnorm"}]})", [&](const std::string& v, uint64_t) { return unseen[v]; });
  REQUIRE(nl::plan_runs(cc, out.string(), 1).size() == 3 * 6);
  ojson S = nl::summarize_compare(cc, out.string(), {});
  const ojson& bn = S["variants"][1]["points"][0];
  CHECK(bn["runs"].size() == 3);  // the means are over the exploratory seeds only
  CHECK(bn["replicate_runs"].size() == 3);
  CHECK(bn["replicate_runs"][0]["seed"] == 4);
  const ojson* t = nullptr;
  int contrasts = 0;
  for (const auto& x : S["tests"]["list"]) {
    if (x["metric"] == "acc len_17_32" && x["variant"] == "batchnorm" && x["against"] == "layernorm") t = &x;
    contrasts += x["why"] == "contrast";
    if (x.contains("replication")) CHECK((x["verdict"] == "different" || x["verdict"] == "equivalent"));
  }
  CHECK(contrasts == 5);  // train loss, acc and loss of 2 splits
  REQUIRE(t);
  CHECK(t->at("test") == "paired t");
  CHECK(t->at("verdict") == "different");
  CHECK(t->at("signs")["lower"] == 3);
  REQUIRE(t->contains("replication"));
  CHECK(t->at("replication")["verdict"] == "replicated");
  CHECK(t->at("replication")["n"][0] == 3);
  std::string md = nl::render_report(S, "");
  INFO(md);
  const size_t rep = md.find("## Replication on fresh seeds"), res = md.find("## Results");
  REQUIRE(rep != std::string::npos);
  CHECK(rep < res);  // the report leads with what replicated
  CHECK(md.find("### Replicated\n\n- acc len_17_32, `batchnorm` vs `layernorm`: exploratory lower by 0.300") != std::string::npos);
  CHECK(md.find("lower on 3/3 seeds") != std::string::npos);
  CHECK(md.find("## Contrasts") != std::string::npos);
  CHECK(md.find("`batchnorm` vs `rmsnorm`:") != std::string::npos);
  // every sentence is one of the three verdicts' words, never a size next to an undetected p
  for (const auto& x : S["tests"]["list"])
    if (x["verdict"] != "different") CHECK(x["p_holm"].get<double>() >= 0.05);
  CHECK(md.find("equivalent within ±0.02 (TOST Holm p") != std::string::npos);  // identical training losses
  fs::remove_all(out);
}

TEST_CASE("compare: an equivalence shown on the exploratory seeds is re-tested on the confirmatory ones", "[compare]") {
  // Variant names of one length get the same per-seed noise (write_run), so a pair's
  // differences are exactly what the unseen accuracies below make them.
  fs::path out = testutil::unique_temp("compare_equivalence_replication");
  nl::CompareConfig cc = write_comparison(out, R"({
    "base": {"task": {"name": "majority"}},
    "variants": {"layernorm": {"model.norm.type": "layernorm"},
                 "steadynrm": {"model.norm.type": "rmsnorm"},
                 "driftnorm": {"model.norm.type": "rmsnorm"}},
    "seeds": [1, 2, 3], "replicate_seeds": [4, 5, 6], "target_loss": 0.3})",
    // driftnorm: equal to layernorm on the exploratory seeds, 0.2 lower on the confirmatory ones
    [](const std::string& v, uint64_t s) { return v == "driftnorm" && s >= 4 ? 0.6 : 0.8; });
  ojson S = nl::summarize_compare(cc, out.string(), {});
  auto find = [&](const std::string& a) -> const ojson* {
    for (const auto& x : S["tests"]["list"])
      if (x["metric"] == "acc len_17_32" && x["variant"] == a && x["against"] == "layernorm") return &x;
    return nullptr;
  };
  const ojson *steady = find("steadynrm"), *drift = find("driftnorm");
  REQUIRE(steady);
  REQUIRE(drift);
  CHECK(steady->at("verdict") == "equivalent");
  CHECK(drift->at("verdict") == "equivalent");
  REQUIRE(steady->contains("replication"));
  REQUIRE(drift->contains("replication"));
  CHECK(steady->at("replication")["verdict"] == "equivalence replicated");
  CHECK(steady->at("replication")["n"][0] == 3);
  CHECK(drift->at("replication")["verdict"] == "equivalence not replicated");
  CHECK(drift->at("replication")["diff"].get<double>() == Approx(-0.2).margin(1e-9));
  CHECK(drift->at("replication")["p_holm"].is_null());  // re-tested for its equivalence only: not in the difference family
  CHECK(drift->at("replication")["p_equivalence_holm"].get<double>() >= 0.05);
  std::string md = nl::render_report(S, "");
  INFO(md);
  CHECK(md.find("### Equivalences on fresh seeds") != std::string::npos);
  const size_t kept = md.find("Replicated:\n\n"), lost = md.find("Not replicated:\n\n");
  REQUIRE(kept != std::string::npos);
  REQUIRE(lost != std::string::npos);
  const size_t steady_line = md.find("- acc len_17_32, `steadynrm` vs `layernorm`: exploratory equivalent within ±0.01", kept);
  CHECK(steady_line < lost);
  CHECK(md.find("confirmatory equivalent within ±0.01 (difference 0, TOST Holm p < 0.001, 3 seeds)", steady_line) < lost);
  CHECK(md.find("`driftnorm` vs `layernorm`: exploratory equivalent within ±0.01", lost) != std::string::npos);
  CHECK(md.find("confirmatory not shown equivalent within ±0.01 (difference -0.200", lost) != std::string::npos);
  // the results' own sentence carries the replication too
  CHECK(md.find("; not replicated on fresh seeds)") != std::string::npos);
  CHECK(md.find("; replicated on fresh seeds)") != std::string::npos);
  fs::remove_all(out);
}

TEST_CASE("compare config: contrasts, replicate_seeds, margins and pairing are checked", "[compare]") {
  auto err = [](const std::string& extra) {
    ojson j = ojson::parse(R"({"base": {}, "variants": {"layernorm": {}, "batchnorm": {"model.norm.type": "batchnorm"}},
                              "seeds": [1, 2], "target_loss": 1})");
    ojson e = ojson::parse(extra);
    for (auto it = e.begin(); it != e.end(); ++it) j[it.key()] = it.value();
    try {
      nl::compare_config_from_json(j, "c.json", "");
    } catch (const nl::UserError& x) {
      CHECK(x.code == 2);
      return std::string(x.what());
    }
    return std::string("accepted");
  };
  CHECK(err(R"({"contrasts": [{"a": "batchnorm", "b": "nope"}]})").find("c.json: contrasts[0]: 'nope' is not one of the variants") == 0);
  CHECK(err(R"({"contrasts": [{"a": "batchnorm/x=1", "b": "layernorm"}]})").find("contrasts[0]: give a point for both cells or for neither") != std::string::npos);
  CHECK(err(R"({"contrasts": [{"a": "batchnorm/x=1", "b": "layernorm/x=2"}]})").find("'x=1' is not a sweep point") != std::string::npos);
  CHECK(err(R"({"contrasts": [{"a": "batchnorm"}]})").find("contrasts[0]: expected") != std::string::npos);
  CHECK(err(R"({"replicate_seeds": [2, 3]})").find("replicate_seeds: 2 is also in seeds") != std::string::npos);
  CHECK(err(R"({"replicate_seeds": [3, 3]})").find("replicate_seeds: 3 appears twice") != std::string::npos);
  CHECK(err(R"({"margins": {"acc": 0}})").find("margins.acc: must be a number > 0") != std::string::npos);
  CHECK(err(R"({"margins": {"f1": 0.1}})").find("margins.f1: unknown key") != std::string::npos);
  CHECK(err(R"({"pairing": "maybe"})").find("pairing: expected seed or unpaired") != std::string::npos);
  CHECK(err(R"({"contrasts": [{"a": "batchnorm", "b": "layernorm"}], "replicate_seeds": [5], "pairing": "unpaired",
                "margins": {"loss": 0.05}})") == "accepted");
}

TEST_CASE("compare: claims are judged holds / fails / inconclusive on exploratory and confirmatory seeds", "[compare]") {
  fs::path out = testutil::unique_temp("compare_claims");
  fs::remove_all(out);
  ojson j = ojson::parse(R"({
    "base": {"task": {"name": "majority"}},
    "variants": {"layernorm": {"model.norm.type": "layernorm"},
                 "batchnorm": {"model.norm.type": "batchnorm"},
                 "rmsnorm": {"model.norm.type": "rmsnorm"}},
    "seeds": [1, 2, 3], "replicate_seeds": [4, 5, 6], "target_loss": 0.3,
    "claims": [{"claim": "BN is less accurate on unseen lengths", "metric": "acc len_17_32",
                "a": "batchnorm", "b": "layernorm", "expect": "lower"},
               {"metric": "acc len_17_32", "a": "batchnorm", "b": "layernorm", "expect": "higher"},
               {"metric": "loss len_4_16", "a": "batchnorm", "b": "layernorm", "expect": "equivalent"}]})");
  j["out_dir"] = out.string();
  nl::CompareConfig cc = nl::compare_config_from_json(j, "claims.json", "");
  REQUIRE(cc.claims.size() == 3);
  CHECK(cc.claims[1].claim == "batchnorm higher than layernorm");
  std::map<std::string, double> unseen = {{"layernorm", 0.80}, {"batchnorm", 0.50}, {"rmsnorm", 0.80}};
  for (const auto& v : cc.variants)
    for (uint64_t s : nl::all_seeds(cc))
      write_run(nl::run_dir_for(out.string(), v.name, s), v.name, s, false, unseen[v.name]);
  ojson S = nl::summarize_compare(cc, out.string(), {});
  const ojson& claims = S["tests"]["claims"];
  REQUIRE(claims.size() == 3);
  CHECK(claims[0]["exploratory"] == "holds");
  CHECK(claims[0]["confirmatory"] == "holds");
  CHECK(claims[1]["exploratory"] == "fails");
  CHECK(claims[1]["confirmatory"] == "fails");
  // layernorm and batchnorm share seen-length losses in this fixture: equivalent on both seed sets
  CHECK(claims[2]["exploratory"] == "holds");
  CHECK(claims[2]["confirmatory"] == "holds");
  // a claim's test repeats the reference test it stands on: one test in the Holm family
  int claim_tests = 0;
  for (const auto& t : S["tests"]["list"])
    if (t["why"] == "claim") {
      ++claim_tests;
      CHECK(t["duplicate_of"].is_number());
    }
  CHECK(claim_tests == 3);
  CHECK(S["tests"]["count"] == 10);
  std::string md = nl::render_report(S, "");
  INFO(md);
  CHECK(md.find("## Claims") != std::string::npos);
  CHECK(md.find("| BN is less accurate on unseen lengths | acc len_17_32 | `batchnorm` | `layernorm` | lower | holds | holds |") !=
        std::string::npos);
  fs::remove_all(out);
  // bad claims are one-line errors naming the key
  j["claims"] = ojson::parse(R"([{"metric": "f1", "a": "batchnorm", "b": "layernorm", "expect": "lower"}])");
  CHECK_THROWS_WITH(nl::compare_config_from_json(j, "claims.json", ""), Catch::Contains("claims[0].metric: 'f1' is not"));
  j["claims"] = ojson::parse(R"([{"metric": "final_train_loss", "a": "batchnorm", "b": "layernorm", "expect": "better"}])");
  CHECK_THROWS_WITH(nl::compare_config_from_json(j, "claims.json", ""), Catch::Contains("claims[0].expect: 'better' is not"));
  j["claims"] = ojson::parse(R"([{"metric": "final_train_loss", "a": "gn", "b": "layernorm", "expect": "lower"}])");
  CHECK_THROWS_WITH(nl::compare_config_from_json(j, "claims.json", ""), Catch::Contains("claims[0]: 'gn' is not one of the variants"));
}

TEST_CASE("compare: pairing 'unpaired' tests with Welch, but an eval-only twin stays paired", "[compare]") {
  fs::path out = testutil::unique_temp("compare_unpaired");
  fs::remove_all(out);
  ojson j = ojson::parse(R"({
    "base": {"task": {"name": "majority"}},
    "variants": {"layernorm": {"model.norm.type": "layernorm"},
                 "batchnorm": {"model.norm.type": "batchnorm"},
                 "batchnorm_bs": {"model.norm.type": "batchnorm", "eval.bn_stats": "batch"}},
    "seeds": [1, 2, 3], "target_loss": 0.3, "pairing": "unpaired"})");
  j["out_dir"] = out.string();
  nl::CompareConfig cc = nl::compare_config_from_json(j, "unpaired.json", "");
  for (const auto& v : cc.variants)
    for (uint64_t s : cc.seeds) write_run(nl::run_dir_for(out.string(), v.name, s), v.name, s, false, 0.8);
  ojson S = nl::summarize_compare(cc, out.string(), {});
  int welch = 0, paired = 0;
  for (const auto& t : S["tests"]["list"]) {
    INFO(t.dump());
    if (t["why"] == "bn_stats") {
      CHECK(t["test"] == "paired t");  // one trained model, evaluated twice
      ++paired;
    } else {
      CHECK(t["test"] == "Welch t");
      CHECK_FALSE(t.contains("signs"));
      ++welch;
    }
  }
  CHECK(paired == 4);
  CHECK(welch == 10);
  const std::string md = nl::render_report(S, "");
  CHECK(md.find("Each difference is tested with Welch's t-test") != std::string::npos);
  fs::remove_all(out);
}
