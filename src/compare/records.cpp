// compare/records.cpp — run folder -> RunRecord: metrics.csv, result.json and the resolved
// config of one run, read once (records.h).
//
// What it is: the CSV reader (empty cell = NaN: a step without evaluation), then the few
// numbers of a run a comparison uses, as defined in configs/compare/README.md:
//   final_train_loss   `loss` of the last metrics row (the trainer logs the mean over the
//                      last log window)
//   eval[S]            eval_loss/S and eval_acc/S of the last row where they are not empty,
//                      plus result.json's eval[S] numbers named in metrics_schema::kSplitExtras
//   steps_to_target    `step` of the first row with loss <= target_loss, else null
//   drift[L]           drift_mean/L, drift_var/L of the last row (final) and their mean over
//                      every row (avg)
//   max_grad_norm      the largest grad_norm of any row
//   overfit_gap        mean of eval_loss over the seen splits minus final_train_loss
//   by_length          result.json's per-length evaluation (every split's lengths together)
//   bn_shift[L][S]     result.json's eval[S].bn[L] (shift_mean, shift_var) at the end
//   bn_jitter[L]       result.json's bn_jitter[L] (mean_std, var_std)
//   leak_gap           result.json's leak_gap (loss_train_stats, loss_running_stats, gap)
// What it is not: statistics over seeds (summary.cpp).
#include "records.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "normlab/compare/compare.h"
#include "normlab/core/error.h"
#include "normlab/core/files.h"
#include "normlab/core/json_io.h"
#include "normlab/train/metrics_schema.h"

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;
namespace ms = nl::metrics_schema;

namespace nl {

// ---- metrics.csv --------------------------------------------------------------------------

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

static std::vector<double> parse_row(const std::vector<std::string>& cells, const MetricsTable& t,
                                     const std::string& path, int lineno) {
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
      throw UserError(path + ":" + std::to_string(lineno) + ": '" + cells[i] + "' in column " + t.columns[i] +
                          " is not a number", 1);
    row[i] = v;
  }
  return row;
}

MetricsTable read_metrics_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UserError("cannot read " + path, 1);
  MetricsTable t;
  std::string line;
  if (!std::getline(in, line)) throw UserError(path + ": empty (no header)", 1);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  t.columns = split_csv_line(line);
  for (int lineno = 2; std::getline(in, line); ++lineno) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) t.rows.push_back(parse_row(split_csv_line(line), t, path, lineno));
  }
  return t;
}

nlohmann::json read_json_or_null(const std::string& path) {
  // A run folder's file: anything but a readable, well-formed, regular JSON file is "absent".
  try {
    return parse_json(read_regular_file(path, path, "JSON file", kMaxConfigBytes, 1), path);
  } catch (const UserError&) {
    return nullptr;
  }
}

// ---- one run ------------------------------------------------------------------------------

static ojson num(double v) { return std::isfinite(v) ? ojson(v) : ojson(nullptr); }
static double val(const nlohmann::json& j) { return j.is_number() ? j.get<double>() : NAN; }

static std::vector<std::string> columns_with_prefix(const MetricsTable& t, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& c : t.columns)
    if (c.rfind(prefix, 0) == 0) out.push_back(c.substr(prefix.size()));
  return out;
}

// result.json's eval entries (an array of objects with "split"), or an empty array.
static nlohmann::json result_evals(const nlohmann::json& result) {
  if (result.is_object() && result.contains("eval") && result["eval"].is_array()) return result["eval"];
  return nlohmann::json::array();
}

// Is split `name` (the i-th eval split) inside the training lengths? 1 yes, 0 no, -1 unknown.
// result.json's "eval" entries say so (seen_in_training); else the run's resolved config
// (task.eval_lengths in split order), else a "len_A_B" name.
static int split_seen(const std::string& name, size_t i, size_t n_splits, const nlohmann::json& result,
                      const nlohmann::json& config) {
  for (const auto& e : result_evals(result))
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

// A split's extras (metrics_schema kSplitExtras) and reliability bins from its result.json entry.
static void read_split_result(const nlohmann::json& e, SplitRecord& s) {
  for (const char* x : ms::kSplitExtras)
    if (e.contains(x)) s.extras.push_back({x, val(e[x])});
  if (!e.contains("reliability") || !e["reliability"].is_array()) return;
  for (const auto& b : e["reliability"]) {
    if (!b.is_object()) continue;
    s.reliability.push_back({val(b.value("lower", nlohmann::json())), val(b.value("upper", nlohmann::json())),
                             val(b.value("count", nlohmann::json())), val(b.value("accuracy", nlohmann::json())),
                             val(b.value("confidence", nlohmann::json()))});
  }
}

// Each split's last evaluation in metrics.csv, and its extras from result.json.
static void read_splits(RunRecord& r, const MetricsTable& t, const nlohmann::json& result,
                        const nlohmann::json& config) {
  const int c_step = t.col(ms::kStep);
  const std::vector<std::string> names = columns_with_prefix(t, ms::kEvalAcc);
  double seen_loss_sum = 0;
  int seen_n = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    SplitRecord s;
    s.name = names[i];
    s.seen = split_seen(s.name, i, names.size(), result, config);
    const int cl = t.col(ms::kEvalLoss + s.name), ca = t.col(ms::kEvalAcc + s.name);
    s.has_loss = cl >= 0;
    for (size_t k = t.rows.size(); k-- > 0;)
      if (std::isfinite(t.rows[k][ca]) || (cl >= 0 && std::isfinite(t.rows[k][cl]))) {
        s.loss = cl >= 0 ? t.rows[k][cl] : NAN;
        s.acc = t.rows[k][ca];
        s.step = t.rows[k][c_step];
        break;
      }
    for (const auto& e : result_evals(result))
      if (e.is_object() && e.value("split", std::string()) == s.name)
        read_split_result(e, s);
    if (s.seen == 1 && std::isfinite(s.loss)) seen_loss_sum += s.loss, ++seen_n;
    r.eval.push_back(std::move(s));
  }
  const double last = t.rows.back()[t.col(ms::kLoss)];
  r.overfit_gap = seen_n && std::isfinite(last) ? seen_loss_sum / seen_n - last : NAN;
}

static void read_drift(RunRecord& r, const MetricsTable& t) {
  for (const auto& L : columns_with_prefix(t, ms::kDriftMean)) {
    DriftRecord d;
    d.layer = L;
    auto final_and_avg = [&](const std::string& column, double& final_v, double& avg) {
      const int c = t.col(column);
      double sum = 0;
      int n = 0;
      if (c >= 0)
        for (const auto& row : t.rows)
          if (std::isfinite(row[c])) final_v = row[c], sum += row[c], ++n;
      avg = n ? sum / n : NAN;
      return n > 0;
    };
    final_and_avg(ms::kDriftMean + L, d.mean, d.mean_avg);
    final_and_avg(ms::kDriftVar + L, d.var, d.var_avg);
    r.drift.push_back(d);
  }
}

// From result.json (the final evaluation): per-length results and BatchNorm shift per split.
static void read_final_eval(RunRecord& r, const nlohmann::json& result) {
  for (const auto& e : result_evals(result)) {
    if (!e.is_object()) continue;
    const std::string split = e.value("split", std::string());
    if (e.contains("by_length") && e["by_length"].is_array())
      for (const auto& b : e["by_length"]) {
        if (!b.is_object() || !b["length"].is_number_integer() || !b["count"].is_number()) continue;
        double n = b["count"].get<double>();
        if (!(n > 0)) continue;
        auto& acc = r.by_length[b["length"].get<int>()];
        acc[0] += n;
        acc[1] += n * val(b.value("loss", nlohmann::json(nullptr)));
        acc[2] += n * val(b.value("accuracy", nlohmann::json(nullptr)));
      }
    if (!e.contains("bn") || !e["bn"].is_object()) continue;
    for (auto it = e["bn"].begin(); it != e["bn"].end(); ++it) {
      auto s = std::find_if(r.shift.begin(), r.shift.end(), [&](const ShiftRecord& x) { return x.layer == it.key(); });
      if (s == r.shift.end()) s = r.shift.insert(r.shift.end(), ShiftRecord{it.key(), {}});
      std::array<double, 2> v = {val(it.value().value("shift_mean", nlohmann::json(nullptr))),
                                 val(it.value().value("shift_var", nlohmann::json(nullptr)))};
      auto at = std::find_if(s->by_split.begin(), s->by_split.end(), [&](const auto& x) { return x.first == split; });
      if (at == s->by_split.end()) s->by_split.push_back({split, v});
      else at->second = v;
    }
  }
  if (result.is_object() && result.contains("bn_jitter") && result["bn_jitter"].is_object())
    for (auto it = result["bn_jitter"].begin(); it != result["bn_jitter"].end(); ++it)
      r.jitter.push_back({it.key(), val(it.value().value("mean_std", nlohmann::json(nullptr))),
                          val(it.value().value("var_std", nlohmann::json(nullptr)))});
}

static void read_config_facts(RunRecord& r, const nlohmann::json& config) {
  if (config.is_object() && config.contains("task") && config["task"].contains("train_lengths")) {
    const auto& tl = config["task"]["train_lengths"];
    if (tl.is_object() && tl.contains("min") && tl.contains("max")) r.train_lengths = {tl["min"], tl["max"]};
  }
  if (config.is_object() && config.contains("eval") && config["eval"].is_object() && config["eval"].contains("bn_stats"))
    r.bn_stats = config["eval"]["bn_stats"];
}

RunRecord read_run(const std::string& dir, double target) {
  RunRecord r;
  const std::string csv = (fs::path(dir) / "metrics.csv").string();
  std::error_code ec;
  if (!fs::exists(csv, ec)) return r;
  r.has_metrics = true;
  const MetricsTable t = read_metrics_csv(csv);
  const int c_step = t.col(ms::kStep), c_loss = t.col(ms::kLoss), c_gn = t.col(ms::kGradNorm);
  if (c_step < 0 || c_loss < 0) throw UserError(csv + ": no 'step' or 'loss' column", 1);
  r.logged_rows = t.rows.size();
  if (t.rows.empty()) return r;
  r.final_step = t.rows.back()[c_step];
  r.final_train_loss = t.rows.back()[c_loss];
  for (const auto& row : t.rows) {
    if (std::isnan(r.steps_to_target) && std::isfinite(row[c_loss]) && row[c_loss] <= target) r.steps_to_target = row[c_step];
    if (c_gn >= 0 && std::isfinite(row[c_gn]))
      r.max_grad_norm = std::isfinite(r.max_grad_norm) ? std::max(r.max_grad_norm, row[c_gn]) : row[c_gn];
  }
  const nlohmann::json result = read_json_or_null((fs::path(dir) / "result.json").string());
  nlohmann::json config = read_json_or_null((fs::path(dir) / "compare_config.json").string());
  if (config.is_null()) config = read_json_or_null((fs::path(dir) / "config.json").string());
  if (result.is_object() && result.contains("seconds") && result["seconds"].is_number()) r.seconds = result["seconds"];
  if (result.is_object() && result.contains("leak_gap") && result["leak_gap"].is_object()) r.leak_gap = result["leak_gap"];
  read_splits(r, t, result, config);
  read_drift(r, t);
  // Gradient norm per layer group at the first logged step (Xiong et al.: post-norm's
  // gradients near the output are large at initialisation).
  for (const auto& G : columns_with_prefix(t, ms::kGroupGradNorm))
    r.first_grad_norm.push_back({G, t.rows.front()[t.col(ms::kGroupGradNorm + G)]});
  read_final_eval(r, result);
  read_config_facts(r, config);
  return r;
}

// ---- to summary.json ----------------------------------------------------------------------

static ojson eval_json(const RunRecord& r) {
  ojson ev = ojson::object();
  for (const SplitRecord& s : r.eval) {
    ojson e;
    e["seen"] = s.seen >= 0 ? ojson(s.seen == 1) : ojson(nullptr);
    e["loss"] = s.has_loss ? num(s.loss) : ojson(nullptr);
    e["acc"] = num(s.acc);
    e["step"] = num(s.step);
    for (const auto& [name, v] : s.extras) e[name] = num(v);
    ev[s.name] = e;
  }
  return ev;
}

static ojson drift_json(const RunRecord& r) {
  ojson dr = ojson::object();
  for (const DriftRecord& d : r.drift)
    dr[d.layer] = {{"drift_mean", num(d.mean)}, {"drift_mean_avg", num(d.mean_avg)},
                   {"drift_var", num(d.var)}, {"drift_var_avg", num(d.var_avg)}};
  return dr;
}

static ojson bn_json(const RunRecord& r) {
  ojson shift = ojson::object();
  for (const ShiftRecord& s : r.shift)
    for (const auto& [split, v] : s.by_split) shift[s.layer][split] = {{"shift_mean", num(v[0])}, {"shift_var", num(v[1])}};
  return shift;
}

ojson RunRecord::to_json() const {
  if (!has_metrics) return nullptr;
  ojson j;
  j["logged_rows"] = logged_rows;
  if (logged_rows == 0) return j;
  j["final_step"] = num(final_step);
  j["final_train_loss"] = num(final_train_loss);
  j["steps_to_target"] = num(steps_to_target);
  j["max_grad_norm"] = num(max_grad_norm);
  if (!seconds.is_null()) j["seconds"] = ojson::parse(seconds.dump());
  j["eval"] = eval_json(*this);
  j["overfit_gap"] = num(overfit_gap);
  j["drift"] = drift_json(*this);
  ojson g0 = ojson::object();
  for (const auto& [G, v] : first_grad_norm) g0[G] = num(v);
  j["first_grad_norm"] = g0;
  ojson per_len = ojson::array();
  for (const auto& [L, a] : by_length)
    per_len.push_back({{"length", L}, {"count", a[0]}, {"loss", num(a[1] / a[0])}, {"acc", num(a[2] / a[0])}});
  j["by_length"] = per_len;
  j["bn_shift"] = bn_json(*this);
  ojson jit = ojson::object();
  for (const JitterRecord& x : jitter) jit[x.layer] = {{"mean_std", num(x.mean_std)}, {"var_std", num(x.var_std)}};
  j["bn_jitter"] = jit;
  if (!train_lengths.is_null()) j["train_lengths"] = ojson::parse(train_lengths.dump());
  if (!bn_stats.is_null()) j["bn_stats"] = ojson::parse(bn_stats.dump());
  if (!leak_gap.is_null())
    for (const char* k : {"loss_train_stats", "loss_running_stats", "gap"})
      j["leak_gap"][k] = num(val(leak_gap.value(k, nlohmann::json(nullptr))));
  return j;
}

}  // namespace nl
