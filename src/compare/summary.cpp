// summary.cpp — summary.json of a comparison, from its run folders (report.cpp renders it).
//
// What it is: read each run's metrics.csv (columns in train/trainer.h) and result.json,
// reduce them to a few numbers per run (final training loss, final evaluation per split and
// per length, steps to the target loss, BatchNorm drift, shift and jitter, gradient norms),
// then per variant and sweep point the mean, sample std and 95% confidence interval over
// seeds, and the tests of every difference the report states: each variant against the
// reference (Welch's t-test, Holm-corrected over all tests of the comparison; stats.cpp).
// What it is not: the words (report.cpp) nor the plots (scripts/plot_compare.py draws them
// from summary.json and the same files).
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
//   by_length          result.json's per-length evaluation (every split's lengths together),
//                      pooled into bins of consecutive lengths (see length_bins)
//   bn_shift[L][S]     result.json's eval[S].bn[L] (shift_mean, shift_var) at the end
//   bn_jitter[L]       result.json's bn_jitter[L] (mean_std, var_std)
//   std                sample std over seeds (n-1 in the denominator); 0 for one seed
//   ci95               half-width of the 95% interval of the mean: t_{0.975,n-1} std / sqrt(n)
#include <algorithm>
#include <array>
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
  std::map<int, std::array<double, 3>> by_length;  // length -> {count, loss sum, correct sum}
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

  // From result.json (the final evaluation): per-length results, BatchNorm shift per split,
  // BatchNorm jitter over training. Absent in runs of builds that do not record them.
  ojson shift = ojson::object();
  if (result.is_object() && result.contains("eval") && result["eval"].is_array()) {
    for (const auto& e : result["eval"]) {
      if (!e.is_object()) continue;
      std::string split = e.value("split", std::string());
      if (e.contains("by_length") && e["by_length"].is_array())
        for (const auto& b : e["by_length"]) {
          if (!b.is_object() || !b["length"].is_number_integer() || !b["count"].is_number()) continue;
          double n = b["count"].get<double>();
          if (!(n > 0)) continue;
          auto& acc = f.by_length[b["length"].get<int>()];
          acc[0] += n;
          acc[1] += n * val(b.value("loss", ojson(nullptr)));
          acc[2] += n * val(b.value("accuracy", ojson(nullptr)));
        }
      if (e.contains("bn") && e["bn"].is_object())
        for (auto it = e["bn"].begin(); it != e["bn"].end(); ++it) {
          ojson x;
          x["shift_mean"] = num(val(it.value().value("shift_mean", ojson(nullptr))));
          x["shift_var"] = num(val(it.value().value("shift_var", ojson(nullptr))));
          shift[it.key()][split] = x;
        }
    }
  }
  ojson per_len = ojson::array();
  for (const auto& [L, a] : f.by_length)
    per_len.push_back({{"length", L}, {"count", a[0]}, {"loss", num(a[1] / a[0])}, {"acc", num(a[2] / a[0])}});
  j["by_length"] = per_len;
  j["bn_shift"] = shift;
  ojson jit = ojson::object();
  if (result.is_object() && result.contains("bn_jitter") && result["bn_jitter"].is_object())
    for (auto it = result["bn_jitter"].begin(); it != result["bn_jitter"].end(); ++it) {
      ojson x;
      x["mean_std"] = num(val(it.value().value("mean_std", ojson(nullptr))));
      x["var_std"] = num(val(it.value().value("var_std", ojson(nullptr))));
      jit[it.key()] = x;
    }
  j["bn_jitter"] = jit;
  if (config.is_object() && config.contains("task") && config["task"].contains("train_lengths")) {
    const auto& tl = config["task"]["train_lengths"];
    if (tl.is_object() && tl.contains("min") && tl.contains("max")) j["train_lengths"] = {tl["min"], tl["max"]};
  }
  if (config.is_object() && config.contains("eval") && config["eval"].is_object() && config["eval"].contains("bn_stats"))
    j["bn_stats"] = config["eval"]["bn_stats"];
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
    s["mean"] = nullptr, s["std"] = nullptr, s["ci95"] = nullptr, s["min"] = nullptr, s["max"] = nullptr;
    return s;
  }
  double m = 0;
  for (double x : xs) m += x;
  m /= xs.size();
  double v = 0;
  for (double x : xs) v += (x - m) * (x - m);
  const size_t n = xs.size();
  double sd = n > 1 ? std::sqrt(v / (n - 1)) : 0.0;
  s["mean"] = m;
  s["std"] = sd;
  s["ci95"] = n > 1 ? ojson(student_t_quantile(0.975, (double)(n - 1)) * sd / std::sqrt((double)n)) : ojson(nullptr);
  s["min"] = *std::min_element(xs.begin(), xs.end());
  s["max"] = *std::max_element(xs.begin(), xs.end());
  return s;
}

// A number at a JSON pointer from each finished run of a cell (NaN where absent).
std::vector<double> collect_runs(const ojson& runs, const std::string& pointer) {
  std::vector<double> out;
  ojson::json_pointer p(pointer);
  for (const auto& r : runs) {
    if (r.value("status", std::string()) != "finished") continue;
    out.push_back(r.contains(p) ? val(r.at(p)) : NAN);
  }
  return out;
}
static std::vector<double> collect(const ojson& runs, const std::string& pointer) { return collect_runs(runs, pointer); }

std::string json_pointer_escape(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
  return out;
}

// Bins of consecutive lengths for the per-length curves of one sweep point. A length whose
// smallest count over the runs is below kMinPerBin examples is pooled with the next ones
// until the bin holds kMinPerBin; a bin never spans a gap in the lengths nor the edge of
// the training range, so "seen" and "unseen" stay apart.
static constexpr double kMinPerBin = 32;

static std::vector<std::pair<int, int>> length_bins(const std::vector<const RunFacts*>& runs, int train_min,
                                                    int train_max) {
  std::map<int, double> min_count;
  for (const RunFacts* f : runs)
    for (const auto& [L, a] : f->by_length) {
      auto it = min_count.find(L);
      min_count[L] = it == min_count.end() ? a[0] : std::min(it->second, a[0]);
    }
  std::vector<std::pair<int, int>> bins;
  int lo = -1, prev = -1;
  double have = 0;
  auto edge = [&](int a, int b) {  // a and b (= a + 1) on different sides of the training range
    return train_min >= 0 && ((a < train_min) != (b < train_min) || (a <= train_max) != (b <= train_max));
  };
  for (const auto& [L, n] : min_count) {
    if (lo >= 0 && (L != prev + 1 || edge(prev, L) || have >= kMinPerBin)) {
      bins.push_back({lo, prev});
      lo = -1;
    }
    if (lo < 0) lo = L, have = 0;
    have += n;
    prev = L;
  }
  if (lo >= 0) bins.push_back({lo, prev});
  // A short last bin of a side joins its left neighbour when they touch and are on one side.
  std::vector<std::pair<int, int>> merged;
  for (const auto& b : bins) {
    double n = 0;
    for (int L = b.first; L <= b.second; ++L)
      if (min_count.count(L)) n += min_count[L];
    if (!merged.empty() && n < kMinPerBin && merged.back().second + 1 == b.first && !edge(merged.back().second, b.first))
      merged.back().second = b.second;
    else
      merged.push_back(b);
  }
  return merged;
}

// Per-length accuracy and loss of one run over `bins` (count-weighted within a bin).
static ojson run_bins(const RunFacts& f, const std::vector<std::pair<int, int>>& bins) {
  ojson out = ojson::array();
  for (const auto& [lo, hi] : bins) {
    double n = 0, loss = 0, acc = 0;
    for (auto it = f.by_length.lower_bound(lo); it != f.by_length.end() && it->first <= hi; ++it)
      n += it->second[0], loss += it->second[1], acc += it->second[2];
    out.push_back({{"lo", lo}, {"hi", hi}, {"count", n}, {"loss", n > 0 ? num(loss / n) : ojson(nullptr)},
                   {"acc", n > 0 ? num(acc / n) : ojson(nullptr)}});
  }
  return out;
}

// The numbers the report compares: final training loss, and accuracy and loss per split.
struct Metric {
  std::string name, pointer;
};
static std::vector<Metric> tested_metrics(const std::vector<std::string>& splits) {
  std::vector<Metric> m = {{"final_train_loss", "/final_train_loss"}};
  for (const auto& s : splits) {
    m.push_back({"acc " + s, "/eval/" + json_pointer_escape(s) + "/acc"});
    m.push_back({"loss " + s, "/eval/" + json_pointer_escape(s) + "/loss"});
  }
  return m;
}

// Overrides of a and b that differ, as key -> (a's, b's) JSON text ("" when one lacks it).
static std::map<std::string, std::pair<std::string, std::string>> override_diff(const CompareVariant& a,
                                                                                 const CompareVariant& b) {
  std::map<std::string, std::pair<std::string, std::string>> d;
  for (auto it = a.overrides.begin(); it != a.overrides.end(); ++it) d[it.key()].first = it.value().dump();
  for (auto it = b.overrides.begin(); it != b.overrides.end(); ++it) d[it.key()].second = it.value().dump();
  for (auto it = d.begin(); it != d.end();) it = it->second.first == it->second.second ? d.erase(it) : std::next(it);
  return d;
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
  // The variant standing for each norm type the questions name (variant_of_norm).
  ojson roles = ojson::object();
  for (const char* type : {"layernorm", "layernorm_simple", "detachnorm", "none"})
    roles[type] = variant_of_norm(cc, type);
  meta["roles"] = roles;
  meta["base"] = ojson::parse(cc.base.dump());
  ojson sweep = ojson::array();
  for (const auto& ax : cc.sweep) {
    ojson a;
    a["key"] = ax.key;
    a["values"] = ojson::parse(nlohmann::json(ax.values).dump());
    a["labels"] = ax.labels;
    sweep.push_back(a);
  }
  meta["sweep"] = sweep;
  S["compare"] = meta;

  const std::vector<SweepPoint> points = sweep_points(cc);
  ojson pts = ojson::array();
  for (const auto& p : points) {
    ojson e;
    e["label"] = p.label;
    e["values"] = ojson::object();
    for (const auto& [k, v] : p.values) e["values"][k] = ojson::parse(v.dump());
    pts.push_back(e);
  }
  S["points"] = pts;

  std::vector<std::string> splits, bn_layers, groups, shift_layers, jitter_layers;
  std::map<std::string, int> seen_of;                  // split -> seen (1), unseen (0), differs by point (2)
  auto add_unique = [](std::vector<std::string>& v, const std::vector<std::string>& xs) {
    for (const auto& x : xs)
      if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
  };

  // Pass 1: every run's facts.
  std::vector<std::vector<std::vector<RunFacts>>> facts(cc.variants.size());  // [variant][point][seed]
  for (size_t vi = 0; vi < cc.variants.size(); ++vi) {
    facts[vi].resize(points.size());
    for (size_t pi = 0; pi < points.size(); ++pi)
      for (uint64_t seed : cc.seeds) {
        std::string dir = run_dir_for(out_dir, cc.variants[vi].name, seed, points[pi].label);
        facts[vi][pi].push_back(summarize_run(dir, cc.target_loss));
        const RunFacts& f = facts[vi][pi].back();
        add_unique(splits, f.splits);
        add_unique(bn_layers, f.bn_layers);
        add_unique(groups, f.groups);
        if (f.j.contains("bn_shift"))
          for (auto it = f.j["bn_shift"].begin(); it != f.j["bn_shift"].end(); ++it) add_unique(shift_layers, {it.key()});
        if (f.j.contains("bn_jitter"))
          for (auto it = f.j["bn_jitter"].begin(); it != f.j["bn_jitter"].end(); ++it) add_unique(jitter_layers, {it.key()});
        for (size_t i = 0; i < f.splits.size(); ++i)
          if (f.seen[i] >= 0) {
            auto it = seen_of.find(f.splits[i]);
            seen_of[f.splits[i]] = it == seen_of.end() || it->second == f.seen[i] ? f.seen[i] : 2;
          }
      }
  }

  // Per point: the length bins shared by every variant (so their curves line up).
  std::vector<std::vector<std::pair<int, int>>> bins(points.size());
  std::vector<std::pair<int, int>> train_range(points.size(), {-1, -1});
  for (size_t pi = 0; pi < points.size(); ++pi) {
    std::vector<const RunFacts*> rs;
    for (size_t vi = 0; vi < cc.variants.size(); ++vi)
      for (const auto& f : facts[vi][pi]) {
        rs.push_back(&f);
        if (f.j.contains("train_lengths") && train_range[pi].first < 0)
          train_range[pi] = {f.j["train_lengths"][0].get<int>(), f.j["train_lengths"][1].get<int>()};
      }
    bins[pi] = length_bins(rs, train_range[pi].first, train_range[pi].second);
  }

  // Pass 2: per variant and point, the runs and their statistics.
  ojson variants = ojson::array();
  for (size_t vi = 0; vi < cc.variants.size(); ++vi) {
    const CompareVariant& v = cc.variants[vi];
    ojson V;
    V["name"] = v.name;
    V["overrides"] = v.overrides;
    ojson vpoints = ojson::array();
    for (size_t pi = 0; pi < points.size(); ++pi) {
      const std::string& label = points[pi].label;
      ojson runs = ojson::array();
      for (size_t k = 0; k < cc.seeds.size(); ++k) {
        uint64_t seed = cc.seeds[k];
        std::string dir = run_dir_for(out_dir, v.name, seed, label);
        const RunFacts& f = facts[vi][pi][k];
        ojson r;
        r["seed"] = seed;
        r["dir"] = fs::path(dir).lexically_relative(out_dir).string();
        bool finished = fs::exists(fs::path(dir) / "result.json");
        r["status"] = finished ? "finished" : fs::exists(fs::path(dir) / "metrics.csv") ? "incomplete" : "missing";
        for (const auto& o : outcomes)
          if (o.variant == v.name && o.point == label && o.seed == seed && o.status == "failed") {
            r["status"] = "failed";
            r["exit_code"] = o.exit_code;
            if (o.signal) r["signal"] = o.signal;
            r["stderr"] = o.last_stderr;
          }
        for (auto it = f.j.begin(); it != f.j.end(); ++it) r[it.key()] = it.value();
        if (!bins[pi].empty()) r["by_length"] = run_bins(f, bins[pi]);
        runs.push_back(r);
      }
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
      // per length (bins of this point)
      ojson bl = ojson::array();
      for (size_t b = 0; b < bins[pi].size(); ++b) {
        ojson e;
        e["lo"] = bins[pi][b].first;
        e["hi"] = bins[pi][b].second;
        std::string p = "/by_length/" + std::to_string(b);
        e["acc"] = stats_of(collect(runs, p + "/acc"));
        e["loss"] = stats_of(collect(runs, p + "/loss"));
        bl.push_back(e);
      }
      st["by_length"] = bl;
      // BatchNorm shift per layer and split, jitter per layer
      ojson sh = ojson::object();
      for (const auto& L : shift_layers)
        for (const auto& s : splits) {
          std::string p = "/bn_shift/" + json_pointer_escape(L) + "/" + json_pointer_escape(s);
          ojson e;
          e["shift_mean"] = stats_of(collect(runs, p + "/shift_mean"));
          e["shift_var"] = stats_of(collect(runs, p + "/shift_var"));
          if (e["shift_mean"]["n"].get<int>() > 0) sh[L][s] = e;
        }
      st["bn_shift"] = sh;
      ojson jt = ojson::object();
      for (const auto& L : jitter_layers) {
        std::string p = "/bn_jitter/" + json_pointer_escape(L);
        ojson e;
        e["mean_std"] = stats_of(collect(runs, p + "/mean_std"));
        e["var_std"] = stats_of(collect(runs, p + "/var_std"));
        if (e["mean_std"]["n"].get<int>() > 0) jt[L] = e;
      }
      st["bn_jitter"] = jt;
      ojson P;
      P["label"] = label;
      if (train_range[pi].first >= 0) P["train_lengths"] = {train_range[pi].first, train_range[pi].second};
      P["runs"] = runs;
      P["stats"] = st;
      vpoints.push_back(P);
    }
    V["points"] = vpoints;
    variants.push_back(V);
  }
  ojson sp = ojson::array();
  for (const auto& s : splits) {
    ojson e;
    e["name"] = s;
    auto it = seen_of.find(s);
    // A sweep of task.train_lengths can make a split seen at some points and unseen at others:
    // then "seen" is null and "seen_varies" true.
    e["seen"] = it == seen_of.end() || it->second == 2 ? ojson(nullptr) : ojson(it->second == 1);
    if (it != seen_of.end() && it->second == 2) e["seen_varies"] = true;
    sp.push_back(e);
  }
  S["splits"] = sp;
  S["batchnorm_layers"] = bn_layers;
  S["shift_layers"] = shift_layers;
  S["jitter_layers"] = jitter_layers;
  S["grad_groups"] = groups;
  S["variants"] = variants;

  // Tests: every difference the report states, Welch's t-test each, then Holm over all.
  ojson tests = ojson::array();
  auto find_v = [&](const std::string& name) -> int {
    for (size_t i = 0; i < cc.variants.size(); ++i) if (cc.variants[i].name == name) return (int)i;
    return -1;
  };
  auto add_test = [&](const std::string& metric, const std::string& pointer, int a, int b, size_t pi,
                      const std::string& why) {
    if (a < 0 || b < 0 || a == b) return;
    const ojson& ra = variants[a]["points"][pi]["runs"];
    const ojson& rb = variants[b]["points"][pi]["runs"];
    WelchTest w = welch_test(collect(ra, pointer), collect(rb, pointer));
    ojson t;
    t["metric"] = metric;
    t["point"] = points[pi].label;
    t["variant"] = cc.variants[a].name;
    t["against"] = cc.variants[b].name;
    t["why"] = why;
    t["n"] = {w.n_a, w.n_b};
    t["diff"] = w.ok ? num(w.diff) : ojson(nullptr);
    t["ci95"] = w.ok ? ojson::array({num(w.ci_lo), num(w.ci_hi)}) : ojson(nullptr);
    t["t"] = w.ok ? num(w.t) : ojson(nullptr);
    t["df"] = w.ok ? num(w.df) : ojson(nullptr);
    t["p"] = w.ok ? ojson(w.p) : ojson(nullptr);
    tests.push_back(t);
  };
  const int ref = find_v(cc.reference);
  const std::vector<Metric> metrics = tested_metrics(splits);
  auto has_q = [&](const std::string& q) {
    return std::find(cc.questions.begin(), cc.questions.end(), q) != cc.questions.end();
  };
  for (size_t pi = 0; pi < points.size(); ++pi) {
    // Against the reference: the final training loss always, each split's accuracy and loss
    // when the comparison asks about lengths.
    for (size_t vi = 0; vi < cc.variants.size(); ++vi)
      for (const auto& m : metrics)
        if (m.name == "final_train_loss" || has_q("length_generalization"))
          add_test(m.name, m.pointer, (int)vi, ref, pi, "reference");
    if (has_q("overfit")) add_test("overfit_gap", "/overfit_gap", find_v(variant_of_norm(cc, "layernorm")), find_v(variant_of_norm(cc, "layernorm_simple")), pi, "overfit");
    if (has_q("detach")) {
      add_test("final_train_loss", "/final_train_loss", find_v(variant_of_norm(cc, "detachnorm")), find_v(variant_of_norm(cc, "layernorm_simple")), pi, "detach");
      add_test("final_train_loss", "/final_train_loss", find_v(variant_of_norm(cc, "detachnorm")), find_v(variant_of_norm(cc, "none")), pi, "detach");
    }
    // Variants that differ only in eval.bn_stats: the price of the running statistics, on
    // every split's loss and accuracy.
    for (size_t a = 0; a < cc.variants.size(); ++a)
      for (size_t b = 0; b < cc.variants.size(); ++b) {
        auto d = override_diff(cc.variants[a], cc.variants[b]);
        if (d.size() != 1 || d.begin()->first != "eval.bn_stats" || d.begin()->second.first != "\"batch\"") continue;
        for (const auto& m : metrics)
          if (m.name != "final_train_loss") add_test(m.name, m.pointer, (int)a, (int)b, pi, "bn_stats");
      }
  }
  std::vector<double> ps;
  std::vector<size_t> idx;
  for (size_t i = 0; i < tests.size(); ++i)
    if (tests[i]["p"].is_number()) ps.push_back(tests[i]["p"].get<double>()), idx.push_back(i);
  std::vector<double> adj = holm_adjust(ps);
  for (size_t i = 0; i < tests.size(); ++i) tests[i]["p_holm"] = nullptr;
  for (size_t k = 0; k < idx.size(); ++k) tests[idx[k]]["p_holm"] = adj[k];
  ojson T;
  T["method"] = "Welch's two-sample t-test (unequal variances, Welch-Satterthwaite df), two-sided; "
                "p_holm: Holm-corrected over every test of this comparison";
  T["alpha"] = 0.05;
  T["count"] = ps.size();
  T["list"] = tests;
  S["tests"] = T;
  return S;
}

}  // namespace nl
