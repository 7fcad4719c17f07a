// summary.cpp — summary.json of a comparison, from its run folders (report.cpp renders it).
//
// What it is: read each run's metrics.csv (columns in train/trainer.h), reduce it to a few
// numbers per run (final training loss, final evaluation per split, steps to the target
// loss, BatchNorm drift, gradient norms), then mean ± std over seeds per variant; render
// those as markdown tables and a few generated sentences that say only what the numbers
// support: a difference is called a difference only when it exceeds the combined std of
// the two means being compared, and even then it is described, not called significant.
// What it is not: the plots (scripts/plot_compare.py draws them from the same files).
//
// Definitions (also in configs/compare/README.md):
//   final_train_loss   `loss` of the last metrics row (the trainer logs the mean over the
//                      last log window)
//   eval[S]            eval_loss/S and eval_acc/S of the last row where they are not empty
//   steps_to_target    `step` of the first row with loss <= target_loss, else null
//   drift[L]           drift_mean/L, drift_var/L of the last row (final) and their mean over
//                      every row (mean)
//   max_grad_norm      the largest grad_norm of any row
//   overfit_gap        mean of eval_loss over the seen splits minus final_train_loss
//   std                sample std over seeds (n-1 in the denominator); 0 for one seed
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "normlab/error.h"
#include "normlab/files.h"
#include "normlab/json_io.h"
#include "normlab/compare/compare.h"

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace nl {

// ---------------------------------------------------------------------------
// metrics.csv
// ---------------------------------------------------------------------------

int MetricsTable::col(const std::string& name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i] == name) return (int)i;
  return -1;
}

static std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cell;
  std::stringstream ss(line);
  while (std::getline(ss, cell, ',')) out.push_back(cell);
  if (!line.empty() && line.back() == ',') out.push_back("");
  return out;
}

MetricsTable read_metrics_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UserError("cannot read " + path, 1);
  MetricsTable t;
  std::string line;
  if (!std::getline(in, line)) throw UserError(path + ": empty (no header)", 1);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  t.columns = split_csv_line(line);
  int lineno = 1;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> cells = split_csv_line(line);
    // A run killed mid-write can leave a short last line: keep the cells it has.
    if (cells.size() > t.columns.size())
      throw UserError(path + ":" + std::to_string(lineno) + ": " + std::to_string(cells.size()) +
                          " cells but the header has " + std::to_string(t.columns.size()), 1);
    std::vector<double> row(t.columns.size(), NAN);
    for (size_t i = 0; i < cells.size(); ++i) {
      if (cells[i].empty()) continue;
      char* end = nullptr;
      double v = std::strtod(cells[i].c_str(), &end);
      if (end == cells[i].c_str() || *end != '\0')
        throw UserError(path + ":" + std::to_string(lineno) + ": '" + cells[i] + "' in column " +
                            t.columns[i] + " is not a number", 1);
      row[i] = v;
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

// ---------------------------------------------------------------------------
// Per run
// ---------------------------------------------------------------------------

static ojson num(double v) { return std::isfinite(v) ? ojson(v) : ojson(nullptr); }
static double val(const ojson& j) { return j.is_number() ? j.get<double>() : NAN; }

static std::vector<std::string> columns_with_prefix(const MetricsTable& t, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& c : t.columns)
    if (c.rfind(prefix, 0) == 0) out.push_back(c.substr(prefix.size()));
  return out;
}

nlohmann::json read_json_or_null(const std::string& path) {
  // A run folder's file: anything but a readable, well-formed, regular JSON file is "absent".
  try {
    return parse_json(read_regular_file(path, path, "JSON file", kMaxConfigBytes, 1), path);
  } catch (const UserError&) {
    return nullptr;
  }
}

// Is split `name` (the i-th eval split) inside the training lengths? 1 yes, 0 no, -1 unknown.
// result.json's "eval" entries say so (seen_in_training); else the run's resolved config
// (task.eval_lengths in split order), else a "len_A_B" name.
static int split_seen(const std::string& name, size_t i, size_t n_splits, const nlohmann::json& result,
                      const nlohmann::json& config) {
  if (result.is_object() && result.contains("eval") && result["eval"].is_array())
    for (const auto& e : result["eval"])
      if (e.is_object() && e.value("split", std::string()) == name && e.contains("seen_in_training") &&
          e["seen_in_training"].is_boolean())
        return e["seen_in_training"].get<bool>() ? 1 : 0;
  int tmin = -1, tmax = -1, lo = -1, hi = -1;
  try {
    if (config.is_object() && config.contains("task")) {
      const auto& task = config["task"];
      tmin = task.at("train_lengths").at("min").get<int>();
      tmax = task.at("train_lengths").at("max").get<int>();
      const auto& ev = task.at("eval_lengths");
      if (ev.is_array() && ev.size() == n_splits) {
        lo = ev[i].at("min").get<int>();
        hi = ev[i].at("max").get<int>();
      }
    }
  } catch (const nlohmann::json::exception&) {
    tmin = tmax = -1;
  }
  int a = 0, b = 0;
  if (lo < 0 && std::sscanf(name.c_str(), "len_%d_%d", &a, &b) == 2) lo = a, hi = b;
  if (tmin < 0 || lo < 0) return -1;
  return lo >= tmin && hi <= tmax ? 1 : 0;
}

struct RunFacts {
  ojson j;                                // the per-run entry of summary.json
  std::vector<std::string> splits, bn_layers, groups;
  std::vector<int> seen;
};

static RunFacts summarize_run(const std::string& dir, double target) {
  RunFacts f;
  ojson& j = f.j;
  std::string csv = (fs::path(dir) / "metrics.csv").string();
  if (!fs::exists(csv)) return f;
  MetricsTable t = read_metrics_csv(csv);
  int c_step = t.col("step"), c_loss = t.col("loss"), c_gn = t.col("grad_norm");
  if (c_step < 0 || c_loss < 0) throw UserError(csv + ": no 'step' or 'loss' column", 1);
  j["logged_rows"] = t.rows.size();
  if (t.rows.empty()) return f;
  const auto& last = t.rows.back();
  j["final_step"] = num(last[c_step]);
  j["final_train_loss"] = num(last[c_loss]);
  ojson reach = nullptr;
  double max_gn = NAN;
  for (const auto& r : t.rows) {
    if (reach.is_null() && std::isfinite(r[c_loss]) && r[c_loss] <= target) reach = r[c_step];
    if (c_gn >= 0 && std::isfinite(r[c_gn])) max_gn = std::isfinite(max_gn) ? std::max(max_gn, r[c_gn]) : r[c_gn];
  }
  j["steps_to_target"] = reach;
  j["max_grad_norm"] = num(max_gn);

  nlohmann::json result = read_json_or_null((fs::path(dir) / "result.json").string());
  nlohmann::json config = read_json_or_null((fs::path(dir) / "compare_config.json").string());
  if (config.is_null()) config = read_json_or_null((fs::path(dir) / "config.json").string());
  if (result.is_object() && result.contains("seconds") && result["seconds"].is_number())
    j["seconds"] = result["seconds"];

  f.splits = columns_with_prefix(t, "eval_acc/");
  ojson ev = ojson::object();
  double seen_loss_sum = 0;
  int seen_n = 0;
  for (size_t i = 0; i < f.splits.size(); ++i) {
    const std::string& s = f.splits[i];
    int cl = t.col("eval_loss/" + s), ca = t.col("eval_acc/" + s);
    ojson e;
    e["seen"] = nullptr;
    int seen = split_seen(s, i, f.splits.size(), result, config);
    f.seen.push_back(seen);
    if (seen >= 0) e["seen"] = seen == 1;
    e["loss"] = nullptr;
    e["acc"] = nullptr;
    e["step"] = nullptr;
    for (size_t r = t.rows.size(); r-- > 0;) {
      if (std::isfinite(t.rows[r][ca]) || (cl >= 0 && std::isfinite(t.rows[r][cl]))) {
        e["loss"] = cl >= 0 ? num(t.rows[r][cl]) : ojson(nullptr);
        e["acc"] = num(t.rows[r][ca]);
        e["step"] = num(t.rows[r][c_step]);
        break;
      }
    }
    if (seen == 1 && e["loss"].is_number()) seen_loss_sum += e["loss"].get<double>(), ++seen_n;
    ev[s] = e;
  }
  j["eval"] = ev;
  j["overfit_gap"] = seen_n && std::isfinite(last[c_loss]) ? num(seen_loss_sum / seen_n - last[c_loss]) : ojson(nullptr);

  f.bn_layers = columns_with_prefix(t, "drift_mean/");
  ojson dr = ojson::object();
  for (const auto& L : f.bn_layers) {
    ojson d;
    for (const char* which : {"drift_mean", "drift_var"}) {
      int c = t.col(std::string(which) + "/" + L);
      double final_v = NAN, sum = 0;
      int n = 0;
      if (c >= 0)
        for (const auto& r : t.rows)
          if (std::isfinite(r[c])) final_v = r[c], sum += r[c], ++n;
      d[which] = num(final_v);
      d[std::string(which) + "_avg"] = n ? num(sum / n) : ojson(nullptr);
    }
    dr[L] = d;
  }
  j["drift"] = dr;

  // Gradient norm per layer group at the first logged step (Xiong et al.: post-norm's
  // gradients near the output are large at initialisation).
  f.groups = columns_with_prefix(t, "grad_norm/");
  ojson g0 = ojson::object();
  for (const auto& G : f.groups) g0[G] = num(t.rows.front()[t.col("grad_norm/" + G)]);
  j["first_grad_norm"] = g0;
  return f;
}

// ---------------------------------------------------------------------------
// Over seeds
// ---------------------------------------------------------------------------

ojson stats_of(const std::vector<double>& xs_in) {
  std::vector<double> xs;
  for (double x : xs_in)
    if (std::isfinite(x)) xs.push_back(x);
  ojson s;
  s["n"] = xs.size();
  if (xs.empty()) {
    s["mean"] = nullptr, s["std"] = nullptr, s["min"] = nullptr, s["max"] = nullptr;
    return s;
  }
  double m = 0;
  for (double x : xs) m += x;
  m /= xs.size();
  double v = 0;
  for (double x : xs) v += (x - m) * (x - m);
  s["mean"] = m;
  s["std"] = xs.size() > 1 ? std::sqrt(v / (xs.size() - 1)) : 0.0;
  s["min"] = *std::min_element(xs.begin(), xs.end());
  s["max"] = *std::max_element(xs.begin(), xs.end());
  return s;
}

// Collect a number at a JSON pointer from each finished run of a variant.
static std::vector<double> collect(const ojson& runs, const std::string& pointer) {
  std::vector<double> out;
  ojson::json_pointer p(pointer);
  for (const auto& r : runs) {
    if (r.value("status", std::string()) != "finished") continue;
    out.push_back(r.contains(p) ? val(r.at(p)) : NAN);
  }
  return out;
}

static std::string json_pointer_escape(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
  return out;
}

ojson summarize_compare(const CompareConfig& cc, const std::string& out_dir,
                        const std::vector<RunOutcome>& outcomes) {
  ojson S;
  ojson meta;
  meta["title"] = cc.title;
  meta["description"] = cc.description;
  meta["source"] = cc.source;
  meta["out_dir"] = out_dir;
  meta["target_loss"] = cc.target_loss;
  meta["seeds"] = cc.seeds;
  meta["reference"] = cc.reference;
  meta["questions"] = cc.questions;
  meta["base"] = ojson::parse(cc.base.dump());
  S["compare"] = meta;

  std::vector<std::string> splits, bn_layers, groups;
  std::map<std::string, int> seen_of;
  auto add_unique = [](std::vector<std::string>& v, const std::vector<std::string>& xs) {
    for (const auto& x : xs)
      if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
  };

  ojson variants = ojson::array();
  for (const auto& v : cc.variants) {
    ojson V;
    V["name"] = v.name;
    V["overrides"] = v.overrides;
    ojson runs = ojson::array();
    for (uint64_t seed : cc.seeds) {
      std::string dir = run_dir_for(out_dir, v.name, seed);
      RunFacts f = summarize_run(dir, cc.target_loss);
      ojson r;
      r["seed"] = seed;
      r["dir"] = fs::path(dir).lexically_relative(out_dir).string();
      bool finished = fs::exists(fs::path(dir) / "result.json");
      r["status"] = finished ? "finished" : fs::exists(fs::path(dir) / "metrics.csv") ? "incomplete" : "missing";
      for (const auto& o : outcomes)
        if (o.variant == v.name && o.seed == seed && o.status == "failed") {
          r["status"] = "failed";
          r["exit_code"] = o.exit_code;
          if (o.signal) r["signal"] = o.signal;
          r["stderr"] = o.last_stderr;
        }
      for (auto it = f.j.begin(); it != f.j.end(); ++it) r[it.key()] = it.value();
      add_unique(splits, f.splits);
      add_unique(bn_layers, f.bn_layers);
      add_unique(groups, f.groups);
      for (size_t i = 0; i < f.splits.size(); ++i)
        if (f.seen[i] >= 0) seen_of[f.splits[i]] = f.seen[i];
      runs.push_back(r);
    }
    V["runs"] = runs;
    ojson st;
    int n_finished = 0;
    for (const auto& r : runs) n_finished += r["status"] == "finished";
    st["finished"] = n_finished;
    st["of"] = runs.size();
    st["final_train_loss"] = stats_of(collect(runs, "/final_train_loss"));
    st["overfit_gap"] = stats_of(collect(runs, "/overfit_gap"));
    st["max_grad_norm"] = stats_of(collect(runs, "/max_grad_norm"));
    st["seconds"] = stats_of(collect(runs, "/seconds"));
    ojson stt = stats_of(collect(runs, "/steps_to_target"));
    stt["reached"] = stt["n"];
    stt["of"] = n_finished;
    st["steps_to_target"] = stt;
    ojson ev = ojson::object();
    for (const auto& s : splits) {
      std::string p = "/eval/" + json_pointer_escape(s);
      ojson e;
      e["loss"] = stats_of(collect(runs, p + "/loss"));
      e["acc"] = stats_of(collect(runs, p + "/acc"));
      ev[s] = e;
    }
    st["eval"] = ev;
    ojson dr = ojson::object();
    for (const auto& L : bn_layers) {
      std::string p = "/drift/" + json_pointer_escape(L);
      ojson d;
      for (const char* w : {"drift_mean", "drift_var", "drift_mean_avg", "drift_var_avg"})
        d[w] = stats_of(collect(runs, p + "/" + w));
      if (d["drift_mean"]["n"].get<int>() > 0) dr[L] = d;
    }
    st["drift"] = dr;
    ojson g0 = ojson::object();
    for (const auto& G : groups) g0[G] = stats_of(collect(runs, "/first_grad_norm/" + json_pointer_escape(G)));
    st["first_grad_norm"] = g0;
    V["stats"] = st;
    variants.push_back(V);
  }
  ojson sp = ojson::array();
  for (const auto& s : splits) {
    ojson e;
    e["name"] = s;
    auto it = seen_of.find(s);
    e["seen"] = it == seen_of.end() ? ojson(nullptr) : ojson(it->second == 1);
    sp.push_back(e);
  }
  S["splits"] = sp;
  S["batchnorm_layers"] = bn_layers;
  S["grad_groups"] = groups;
  S["variants"] = variants;
  return S;
}

}  // namespace nl
