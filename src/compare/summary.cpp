// summary.cpp — summary.json of a comparison: run records -> cells -> tests.
//
// What it is: every run folder read into a RunRecord (records.cpp), the records grouped into
// cells (variant x sweep point) with the mean, sample std and 95% confidence interval over
// seeds of each number (stats_of), per-length curves on bins shared by the variants of a
// point, then the tests every question asks for (tests.cpp). The per-run numbers are defined
// in records.cpp and configs/compare/README.md; over seeds:
//   std                sample std over seeds (n-1 in the denominator); 0 for one seed
//   ci95               half-width of the 95% interval of the mean: t_{0.975,n-1} std / sqrt(n)
// What it is not: the words (report.cpp) nor the plots (scripts/plot_compare.py draws them
// from summary.json and the same files).
#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <map>

#include "normlab/compare/compare.h"
#include "normlab/nn/norm.h"
#include "normlab/train/metrics_schema.h"
#include "records.h"
#include "summary.h"

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace nl {

static double val(const ojson& j) { return j.is_number() ? j.get<double>() : NAN; }
static ojson num(double v) { return std::isfinite(v) ? ojson(v) : ojson(nullptr); }

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

std::string json_pointer_escape(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
  return out;
}

// ---- the records of every run, and the names they use ----------------------------------

namespace {

struct Records {
  std::vector<std::vector<std::vector<RunRecord>>> runs;  // [variant][point][seed]
  std::vector<std::string> splits, bn_layers, groups, shift_layers, jitter_layers;
  std::map<std::string, std::vector<std::string>> extras;  // split -> per-split extras seen
  std::map<std::string, int> seen_of;  // split -> seen (1), unseen (0), differs by point (2)
};

void add_unique(std::vector<std::string>& v, const std::string& x) {
  if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
}

void note_names(Records& R, const RunRecord& r) {
  for (const auto& s : r.eval) {
    add_unique(R.splits, s.name);
    for (const auto& [x, v] : s.extras) add_unique(R.extras[s.name], x);
    if (s.seen < 0) continue;
    auto it = R.seen_of.find(s.name);
    R.seen_of[s.name] = it == R.seen_of.end() || it->second == s.seen ? s.seen : 2;
  }
  for (const auto& d : r.drift) add_unique(R.bn_layers, d.layer);
  for (const auto& g : r.first_grad_norm) add_unique(R.groups, g.first);
  for (const auto& s : r.shift) add_unique(R.shift_layers, s.layer);
  for (const auto& j : r.jitter) add_unique(R.jitter_layers, j.layer);
}

Records read_records(const CompareConfig& cc, const std::string& out_dir, const std::vector<SweepPoint>& points) {
  Records R;
  R.runs.resize(cc.variants.size());
  for (size_t vi = 0; vi < cc.variants.size(); ++vi) {
    R.runs[vi].resize(points.size());
    for (size_t pi = 0; pi < points.size(); ++pi)
      for (uint64_t seed : all_seeds(cc)) {
        R.runs[vi][pi].push_back(read_run(run_dir_for(out_dir, cc.variants[vi].name, seed, points[pi].label), cc.target_loss));
        note_names(R, R.runs[vi][pi].back());
      }
  }
  return R;
}

// ---- per-length bins ----------------------------------------------------------------------

// Bins of consecutive lengths for the per-length curves of one sweep point. A length whose
// smallest count over the runs is below kMinPerBin examples is pooled with the next ones
// until the bin holds kMinPerBin; a bin never spans a gap in the lengths nor the edge of
// the training range, so "seen" and "unseen" stay apart.
constexpr double kMinPerBin = 32;
using Bins = std::vector<std::pair<int, int>>;

Bins length_bins(const std::vector<const RunRecord*>& runs, int train_min, int train_max) {
  std::map<int, double> min_count;
  for (const RunRecord* f : runs)
    for (const auto& [L, a] : f->by_length) {
      auto it = min_count.find(L);
      min_count[L] = it == min_count.end() ? a[0] : std::min(it->second, a[0]);
    }
  Bins bins;
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
  Bins merged;
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
ojson run_bins(const RunRecord& f, const Bins& bins) {
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

// The training range and bins of each point, shared by its variants (so their curves line up).
struct PointBins {
  std::pair<int, int> train_range{-1, -1};
  Bins bins;
};

std::vector<PointBins> point_bins(const Records& R, size_t n_points) {
  std::vector<PointBins> out(n_points);
  for (size_t pi = 0; pi < n_points; ++pi) {
    std::vector<const RunRecord*> rs;
    for (const auto& per_point : R.runs)
      for (const RunRecord& f : per_point[pi]) {
        rs.push_back(&f);
        if (!f.train_lengths.is_null() && out[pi].train_range.first < 0)
          out[pi].train_range = {f.train_lengths[0].get<int>(), f.train_lengths[1].get<int>()};
      }
    out[pi].bins = length_bins(rs, out[pi].train_range.first, out[pi].train_range.second);
  }
  return out;
}

// ---- cells ---------------------------------------------------------------------------------

// The runs of one cell as summary.json lists them: where, status, then the record.
// `first`, `count`: which of all_seeds(cc) (and of `recs`, in the same order).
ojson cell_runs(const CompareConfig& cc, size_t vi, const SweepPoint& point, const std::vector<RunRecord>& recs,
                const Bins& bins, const std::string& out_dir, const std::vector<RunOutcome>& outcomes, size_t first,
                size_t count) {
  ojson runs = ojson::array();
  const std::string& name = cc.variants[vi].name;
  const std::vector<uint64_t> seeds = all_seeds(cc);
  for (size_t k = first; k < first + count; ++k) {
    const uint64_t seed = seeds[k];
    const std::string dir = run_dir_for(out_dir, name, seed, point.label);
    ojson r;
    r["seed"] = seed;
    r["dir"] = fs::path(dir).lexically_relative(out_dir).string();
    bool finished = fs::exists(fs::path(dir) / "result.json");
    r["status"] = finished ? "finished" : fs::exists(fs::path(dir) / "metrics.csv") ? "incomplete" : "missing";
    for (const auto& o : outcomes)
      if (o.variant == name && o.point == point.label && o.seed == seed && o.status == "failed") {
        r["status"] = "failed";
        r["exit_code"] = o.exit_code;
        if (o.signal) r["signal"] = o.signal;
        r["stderr"] = o.last_stderr;
      }
    const ojson j = recs[k].to_json();
    for (auto it = j.begin(); it != j.end(); ++it) r[it.key()] = it.value();
    if (!bins.empty()) r["by_length"] = run_bins(recs[k], bins);
    runs.push_back(r);
  }
  return runs;
}

// stats_of the number at `pointer` + "/" + each of `names`, over the finished runs.
ojson stats_at(const ojson& runs, const std::string& pointer, const std::vector<std::string>& names) {
  ojson e;
  for (const auto& w : names) e[w] = stats_of(collect_runs(runs, pointer + "/" + w));
  return e;
}

ojson per_split_stats(const ojson& runs, const Records& R) {
  ojson ev = ojson::object();
  for (const auto& s : R.splits) {
    std::vector<std::string> names = {"loss", "acc"};
    auto x = R.extras.find(s);
    if (x != R.extras.end()) names.insert(names.end(), x->second.begin(), x->second.end());
    ev[s] = stats_at(runs, "/eval/" + json_pointer_escape(s), names);
  }
  return ev;
}

// The layers' statistics of a cell (drift, shift, jitter), each kept where a run has it.
void layer_stats(ojson& st, const ojson& runs, const Records& R) {
  ojson dr = ojson::object();
  for (const auto& L : R.bn_layers) {
    ojson d = stats_at(runs, "/drift/" + json_pointer_escape(L), {"drift_mean", "drift_var", "drift_mean_avg", "drift_var_avg"});
    if (d["drift_mean"]["n"].get<int>() > 0) dr[L] = d;
  }
  st["drift"] = dr;
  ojson g0 = ojson::object();
  for (const auto& G : R.groups) g0[G] = stats_of(collect_runs(runs, "/first_grad_norm/" + json_pointer_escape(G)));
  st["first_grad_norm"] = g0;
  st["by_length"] = nullptr;  // placeholder keeps summary.json's key order; filled by cell_stats
  ojson sh = ojson::object();
  for (const auto& L : R.shift_layers)
    for (const auto& s : R.splits) {
      ojson e = stats_at(runs, "/bn_shift/" + json_pointer_escape(L) + "/" + json_pointer_escape(s), {"shift_mean", "shift_var"});
      if (e["shift_mean"]["n"].get<int>() > 0) sh[L][s] = e;
    }
  st["bn_shift"] = sh;
  ojson jt = ojson::object();
  for (const auto& L : R.jitter_layers) {
    ojson e = stats_at(runs, "/bn_jitter/" + json_pointer_escape(L), {"mean_std", "var_std"});
    if (e["mean_std"]["n"].get<int>() > 0) jt[L] = e;
  }
  st["bn_jitter"] = jt;
}

// The leak_gap of the runs (records.cpp; train/leak.h), null when none recorded it.
ojson leak_gap_stats(const ojson& runs) {
  ojson lg = stats_at(runs, "/leak_gap", {"loss_train_stats", "loss_running_stats", "gap"});
  return lg["gap"]["n"].get<int>() > 0 ? lg : ojson(nullptr);
}

ojson cell_stats(const ojson& runs, const Records& R, const Bins& bins) {
  ojson st;
  int n_finished = 0;
  for (const auto& r : runs) n_finished += r["status"] == "finished";
  st["finished"] = n_finished;
  st["of"] = runs.size();
  for (const char* m : {"final_train_loss", "overfit_gap", "max_grad_norm", "seconds"})
    st[m] = stats_of(collect_runs(runs, std::string("/") + m));
  ojson stt = stats_of(collect_runs(runs, "/steps_to_target"));
  stt["reached"] = stt["n"];
  stt["of"] = n_finished;
  st["steps_to_target"] = stt;
  st["eval"] = per_split_stats(runs, R);
  layer_stats(st, runs, R);
  ojson bl = ojson::array();
  for (size_t b = 0; b < bins.size(); ++b) {
    ojson e = {{"lo", bins[b].first}, {"hi", bins[b].second}};
    const std::string p = "/by_length/" + std::to_string(b);
    e["acc"] = stats_of(collect_runs(runs, p + "/acc"));
    e["loss"] = stats_of(collect_runs(runs, p + "/loss"));
    bl.push_back(e);
  }
  st["by_length"] = bl;
  st["leak_gap"] = leak_gap_stats(runs);
  return st;
}

// Each split's reliability bins pooled over the first `n` records of a cell (its exploratory
// seeds) that recorded them: per bin the count summed, accuracy and confidence count-weighted
// (empty bins null). The reliability diagram of scripts/plot_compare.py.
ojson pooled_reliability(const std::vector<RunRecord>& recs, size_t n) {
  std::map<std::string, std::vector<std::array<double, 5>>> sums;  // lower, upper, count, acc*count, conf*count
  std::vector<std::string> order;
  for (size_t k = 0; k < n && k < recs.size(); ++k)
    for (const SplitRecord& s : recs[k].eval) {
      if (s.reliability.empty()) continue;
      auto& bins = sums[s.name];
      if (bins.empty()) order.push_back(s.name), bins.assign(s.reliability.size(), {NAN, NAN, 0, 0, 0});
      for (size_t b = 0; b < bins.size() && b < s.reliability.size(); ++b) {
        const auto& x = s.reliability[b];
        bins[b][0] = x[0], bins[b][1] = x[1];
        if (!(x[2] > 0) || !std::isfinite(x[3]) || !std::isfinite(x[4])) continue;
        bins[b][2] += x[2], bins[b][3] += x[2] * x[3], bins[b][4] += x[2] * x[4];
      }
    }
  ojson out = ojson::object();
  for (const auto& name : order) {
    ojson bins = ojson::array();
    for (const auto& b : sums[name])
      bins.push_back({{"lower", num(b[0])}, {"upper", num(b[1])}, {"count", b[2]},
                      {"accuracy", b[2] > 0 ? num(b[3] / b[2]) : ojson(nullptr)},
                      {"confidence", b[2] > 0 ? num(b[4] / b[2]) : ojson(nullptr)}});
    out[name] = bins;
  }
  return out;
}

// ---- summary.json's parts ------------------------------------------------------------------

// The names of what a run folder records (train/metrics_schema.h), for the plot script: it
// picks metrics.csv columns by these, never by its own spelling of them.
ojson schema_json() {
  namespace ms = metrics_schema;
  ojson m = {{"step", ms::kStep}, {"loss", ms::kLoss}, {"lr", ms::kLr}, {"grad_norm", ms::kGradNorm},
             {"tokens_per_s", ms::kTokensPerS}, {"eval_loss_prefix", ms::kEvalLoss}, {"eval_acc_prefix", ms::kEvalAcc},
             {"drift_mean_prefix", ms::kDriftMean}, {"drift_var_prefix", ms::kDriftVar},
             {"group_grad_norm_prefix", ms::kGroupGradNorm}};
  ojson extras = ojson::array();
  for (const char* x : ms::kSplitExtras) extras.push_back(x);
  return {{"metrics_csv", m}, {"split_extras", extras}};
}

ojson meta_json(const CompareConfig& cc, const std::string& out_dir) {
  ojson meta;
  meta["title"] = cc.title;
  meta["description"] = cc.description;
  meta["source"] = cc.source;
  meta["out_dir"] = out_dir;
  meta["target_loss"] = cc.target_loss;
  meta["seeds"] = cc.seeds;
  if (!cc.replicate_seeds.empty()) meta["replicate_seeds"] = cc.replicate_seeds;
  if (!cc.contrasts.empty()) {
    ojson cs = ojson::array();
    for (const auto& k : cc.contrasts) cs.push_back({{"a", k.a}, {"a_point", k.a_point}, {"b", k.b}, {"b_point", k.b_point}});
    meta["contrasts"] = cs;
  }
  meta["reference"] = cc.reference;
  meta["questions"] = cc.questions;
  // The variant standing for each role's norm type (variant_of_norm), keyed by the type.
  ojson roles = ojson::object();
  for (const auto& role : norm_roles()) roles[norm_for_role(role)] = variant_of_norm(cc, norm_for_role(role));
  meta["roles"] = roles;
  meta["base"] = ojson::parse(cc.base.dump());
  ojson sweep = ojson::array();
  for (const auto& ax : cc.sweep)
    sweep.push_back({{"key", ax.key}, {"values", ojson::parse(nlohmann::json(ax.values).dump())}, {"labels", ax.labels}});
  meta["sweep"] = sweep;
  return meta;
}

ojson points_json(const std::vector<SweepPoint>& points) {
  ojson pts = ojson::array();
  for (const auto& p : points) {
    ojson e;
    e["label"] = p.label;
    e["values"] = ojson::object();
    for (const auto& [k, v] : p.values) e["values"][k] = ojson::parse(v.dump());
    pts.push_back(e);
  }
  return pts;
}

// A sweep of task.train_lengths can make a split seen at some points and unseen at others:
// then "seen" is null and "seen_varies" true.
ojson splits_json(const Records& R) {
  ojson sp = ojson::array();
  for (const auto& s : R.splits) {
    ojson e;
    e["name"] = s;
    auto it = R.seen_of.find(s);
    e["seen"] = it == R.seen_of.end() || it->second == 2 ? ojson(nullptr) : ojson(it->second == 1);
    if (it != R.seen_of.end() && it->second == 2) e["seen_varies"] = true;
    sp.push_back(e);
  }
  return sp;
}

ojson variants_json(const CompareConfig& cc, const std::vector<SweepPoint>& points, const Records& R,
                    const std::vector<PointBins>& pb, const std::string& out_dir, const std::vector<RunOutcome>& outcomes) {
  ojson variants = ojson::array();
  for (size_t vi = 0; vi < cc.variants.size(); ++vi) {
    ojson V;
    V["name"] = cc.variants[vi].name;
    V["overrides"] = cc.variants[vi].overrides;
    ojson vpoints = ojson::array();
    for (size_t pi = 0; pi < points.size(); ++pi) {
      ojson P;
      P["label"] = points[pi].label;
      if (pb[pi].train_range.first >= 0) P["train_lengths"] = {pb[pi].train_range.first, pb[pi].train_range.second};
      P["runs"] = cell_runs(cc, vi, points[pi], R.runs[vi][pi], pb[pi].bins, out_dir, outcomes, 0, cc.seeds.size());
      P["stats"] = cell_stats(P["runs"], R, pb[pi].bins);
      const ojson rel = pooled_reliability(R.runs[vi][pi], cc.seeds.size());
      if (!rel.empty()) P["stats"]["reliability"] = rel;
      if (!cc.replicate_seeds.empty()) {  // the confirmatory runs: only their tests use them
        P["replicate_runs"] = cell_runs(cc, vi, points[pi], R.runs[vi][pi], pb[pi].bins, out_dir, outcomes,
                                        cc.seeds.size(), cc.replicate_seeds.size());
        P["replicate_stats"]["leak_gap"] = leak_gap_stats(P["replicate_runs"]);  // measured, never tested
      }
      vpoints.push_back(P);
    }
    V["points"] = vpoints;
    variants.push_back(V);
  }
  return variants;
}

// One neighbour: the claims' cells (runs on the exploratory seeds; every other cell empty),
// their claim tests (a Holm family of their own) and the claims judged there.
ojson neighbour_json(const CompareConfig& cc, const CompareConfig::Neighbour& n, const std::vector<SweepPoint>& points,
                     const std::string& out_dir, const std::vector<RunOutcome>& outcomes) {
  const std::string dir = neighbour_dir(out_dir, n.name);
  std::vector<RunOutcome> mine;
  for (const auto& o : outcomes)
    if (o.neighbour == n.name) mine.push_back(o);
  const auto cells = claim_cells(cc);
  ojson variants = ojson::array();
  for (size_t vi = 0; vi < cc.variants.size(); ++vi) {
    ojson V = {{"name", cc.variants[vi].name}, {"points", ojson::array()}};
    for (size_t pi = 0; pi < points.size(); ++pi) {
      ojson P = {{"label", points[pi].label}, {"runs", ojson::array()}};
      if (std::find(cells.begin(), cells.end(), std::pair(vi, pi)) != cells.end()) {
        std::vector<RunRecord> recs;
        for (uint64_t seed : cc.seeds) recs.push_back(read_run(run_dir_for(dir, cc.variants[vi].name, seed, points[pi].label), cc.target_loss));
        P["runs"] = cell_runs(cc, vi, points[pi], recs, {}, dir, mine, 0, cc.seeds.size());
      }
      V["points"].push_back(P);
    }
    variants.push_back(V);
  }
  ojson N = {{"name", n.name}, {"overrides", n.overrides}, {"dir", fs::path(dir).lexically_relative(out_dir).string()}};
  N["variants"] = variants;
  N["tests"] = build_claim_tests(cc, points, variants);
  return N;
}

// Each claim's verdict at each neighbour, beside its verdicts on the two seed sets.
void add_neighbour_verdicts(ojson& S) {
  if (!S["tests"].contains("claims")) return;
  for (auto& c : S["tests"]["claims"]) c["neighbours"] = ojson::object();
  for (const auto& N : S["neighbours"]) {
    const ojson& nc = N["tests"]["claims"];
    for (size_t k = 0; k < S["tests"]["claims"].size() && k < nc.size(); ++k)
      S["tests"]["claims"][k]["neighbours"][N["name"].get<std::string>()] = nc[k]["exploratory"];
  }
}

}  // namespace

ojson summarize_compare(const CompareConfig& cc, const std::string& out_dir, const std::vector<RunOutcome>& outcomes) {
  ojson S;
  S["compare"] = meta_json(cc, out_dir);
  S["schema"] = schema_json();
  const std::vector<SweepPoint> points = sweep_points(cc);
  S["points"] = points_json(points);
  const Records R = read_records(cc, out_dir, points);
  const std::vector<PointBins> pb = point_bins(R, points.size());
  S["splits"] = splits_json(R);
  S["batchnorm_layers"] = R.bn_layers;
  S["shift_layers"] = R.shift_layers;
  S["jitter_layers"] = R.jitter_layers;
  S["grad_groups"] = R.groups;
  std::vector<RunOutcome> base_outcomes;  // a neighbour's outcomes are its own
  for (const auto& o : outcomes)
    if (o.neighbour.empty()) base_outcomes.push_back(o);
  S["variants"] = variants_json(cc, points, R, pb, out_dir, base_outcomes);
  S["tests"] = build_tests(cc, points, S["variants"], R.splits);
  if (cc.neighbours.empty()) return S;
  S["neighbours"] = ojson::array();
  for (const auto& n : cc.neighbours) S["neighbours"].push_back(neighbour_json(cc, n, points, out_dir, outcomes));
  add_neighbour_verdicts(S);
  return S;
}

}  // namespace nl
