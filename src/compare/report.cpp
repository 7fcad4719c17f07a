// report.cpp — the markdown report of a comparison, rendered from its summary.json.
//
// What it is: the number formats, one markdown_table(), the words of a test (a difference is
// stated with its size, interval and Holm-corrected p-value when p < 0.05, else as "no
// difference detectable with N seeds"), verdict() for a paper's conclusion, and the
// sections every report has: heading and setup, runs without a result, the results tables
// (with a sweep, one table per metric with the points as columns), then each question's
// section (questions/, in registry order), the plots and the per-run table.
// What it is not: the numbers or the tests themselves (summary.cpp, tests.cpp, stats.cpp),
// the runs (runner.cpp) or the plots (scripts/plot_compare.py).
#include "report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "normlab/compare/compare.h"
#include "normlab/compare/stats.h"
#include "normlab/nn/norm.h"
#include "questions.h"

using ojson = nlohmann::ordered_json;

namespace nl {

// ---- formats ------------------------------------------------------------------------------

double num_or_nan(const ojson& j) { return j.is_number() ? j.get<double>() : NAN; }

std::string fixed(double v, int digits) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Losses and drifts span orders of magnitude: 3 significant digits.
std::string sig(double v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  double a = std::fabs(v);
  if (a != 0 && (a < 1e-3 || a >= 1e5)) std::snprintf(buf, sizeof buf, "%.2e", v);
  else std::snprintf(buf, sizeof buf, "%.*f", a >= 100 ? 1 : a >= 10 ? 2 : a >= 1 ? 3 : 4, v);
  return buf;
}

std::string fmt_val(double v, Fmt f) { return f == Fmt::acc ? fixed(v, 3) : f == Fmt::steps ? fixed(v, 0) : sig(v); }

std::string pm(const ojson& s, Fmt f) {
  if (!s.is_object() || !s["mean"].is_number()) return "n/a";
  std::string out = fmt_val(s["mean"].get<double>(), f);
  if (s["n"].get<int>() > 1 && s["ci95"].is_number()) out += " ± " + fmt_val(s["ci95"].get<double>(), f);
  return out;
}

std::string fmt_p(double p) { return format_p(p); }

std::string markdown_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::string out = "|";
  for (const auto& h : header) out += " " + h + " |";
  out += "\n|";
  for (size_t i = 0; i < header.size(); ++i) out += "---|";
  out += "\n";
  for (const auto& r : rows) {
    out += "|";
    for (const auto& c : r) out += " " + c + " |";
    out += "\n";
  }
  return out;
}

const ojson& at_path(const ojson& stats, const std::string& path) {
  static const ojson kNull;
  ojson::json_pointer p(path);
  return stats.contains(p) ? stats.at(p) : kNull;
}

// ---- the words of a test ------------------------------------------------------------------

// The size of a difference as text: its format, with more digits when rounding hides it.
static std::string size_text(double d, Fmt f) {
  std::string ds = fmt_val(std::fabs(d), f);
  if (ds == fmt_val(0, f)) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3g", std::fabs(d));
    ds = b;
  }
  return ds;
}

// An equivalence margin as written in the config (0.01, 0.02).
std::string margin_text(double m) {
  if (!std::isfinite(m)) return "n/a";
  char b[32];
  std::snprintf(b, sizeof b, "%g", m);
  return b;
}

std::string signed_size(double d, Fmt f) {
  return d == 0 ? std::string("0") : (d > 0 ? "+" : "-") + size_text(d, f);
}

static std::string test_name(const ojson& t) {
  return t.value("test", std::string()) == "paired t" ? "paired t-test" : "Welch's t-test";
}

// The verdict of summary.json (tests.cpp) in words: "different" states the difference with
// its interval, test and Holm p (and, paired, on how many seeds it goes that way);
// "equivalent" the margin and TOST p; anything else is inconclusive, and says so.
std::string test_words(const ojson* t, Fmt f, const std::string& more, const std::string& less) {
  if (!t) return "not tested";
  const std::vector<int> n = t->at("n").get<std::vector<int>>();
  if (!t->at("p").is_number()) {
    // One seed each: the difference of the two values, with no noise estimate.
    if (t->at("diff").is_null() && std::min(n[0], n[1]) == 1) return "one seed: no noise estimate, so no test";
    return "not testable (" + std::to_string(n[0]) + " and " + std::to_string(n[1]) + " finished seeds)";
  }
  const double d = t->at("diff").get<double>();
  const std::string verdict = t->value("verdict", std::string("inconclusive"));
  const std::string margin = "±" + margin_text(num_or_nan(t->value("margin", ojson(nullptr))));
  const std::string pe = "TOST Holm " + fmt_p(num_or_nan(t->value("p_equivalence_holm", ojson(nullptr))));
  if (verdict == "different") {
    const auto& ci = t->at("ci95");
    std::string s = (d > 0 ? more : less) + " by " + size_text(d, f) + " (95% CI of the difference " +
                    fmt_val(num_or_nan(ci[0]), f) + " .. " + fmt_val(num_or_nan(ci[1]), f) + "; " + test_name(*t) +
                    ", Holm " + fmt_p(t->at("p_holm").get<double>());
    if (t->contains("signs"))
      s += "; " + (d > 0 ? more : less) + " on " + t->at("signs").at(d > 0 ? "higher" : "lower").dump() + "/" +
           std::to_string(n[0]) + " seeds";
    return s + ")";
  }
  if (verdict == "equivalent") {
    std::string s = "equivalent within " + margin + " (" + pe + "; difference " + signed_size(d, f) + ", " + test_name(*t);
    if (t->contains("replication") && t->at("replication").contains("verdict"))  // re-tested on the confirmatory seeds
      s += t->at("replication")["verdict"] == "equivalence replicated" ? "; replicated on fresh seeds"
                                                                       : "; not replicated on fresh seeds";
    return s + ")";
  }
  return "inconclusive with " + std::to_string(std::min(n[0], n[1])) + " seeds (difference " + signed_size(d, f) + ", " +
         test_name(*t) + " Holm " + fmt_p(t->at("p_holm").get<double>()) + "; not shown equivalent within " + margin +
         ", " + pe + ")";
}

std::string verdict(const ojson* t, int expected, const std::string& citation, const VerdictWords& w) {
  const double p = t ? num_or_nan(t->at("p_holm")) : NAN;
  if (!std::isfinite(p)) return w.no_answer;
  if (p >= 0.05) return w.undetected;
  const int sign = t->at("diff").get<double>() > 0 ? 1 : -1;
  if (sign == expected) return w.agrees + ", as " + citation + " report.\n";
  return w.disagrees + ", the opposite of " + citation + "'s finding.\n";
}

// ---- Report -------------------------------------------------------------------------------

Report::Report(const ojson& summary)
    : S(summary), meta(summary["compare"]), ref(meta["reference"].get<std::string>()), R(variant(ref)),
      n_seeds((int)meta["seeds"].size()), n_points(summary["points"].size()), swept(n_points > 1) {}

std::string Report::point_name(size_t pi) const {
  std::string l = S["points"][pi]["label"].get<std::string>();
  return l.empty() ? std::string("-") : l;
}

std::string Report::point_heading(size_t pi) const { return swept ? "### " + point_name(pi) + "\n\n" : ""; }

const ojson* Report::variant(const std::string& name) const {
  for (const auto& v : S["variants"])
    if (v["name"] == name) return &v;
  return nullptr;
}

const ojson* Report::test(const std::string& metric, const std::string& variant, const std::string& against,
                          size_t pi) const {
  return test_between(metric, variant, pi, against, pi);
}

const ojson* Report::test_between(const std::string& metric, const std::string& variant, size_t pa,
                                  const std::string& against, size_t pb) const {
  if (!S.contains("tests")) return nullptr;
  const ojson& la = S["points"][pa]["label"];
  const ojson& lb = S["points"][pb]["label"];
  for (const auto& t : S["tests"]["list"])
    if (t["metric"] == metric && t["variant"] == variant && t["against"] == against && t["point"] == la &&
        t.value("point_against", t["point"]) == lb)
      return &t;
  return nullptr;
}

bool Report::asks(const std::string& q) const {
  for (const auto& x : meta["questions"])
    if (x == q) return true;
  return false;
}

// A summary without roles named its variants after their types.
std::string Report::role(const std::string& r) const {
  const std::string type = norm_for_role(r);
  if (meta.contains("roles") && meta["roles"].contains(type)) return meta["roles"][type].get<std::string>();
  return type;
}

std::string Report::seen_label(const ojson& split) const {
  if (split["seen"].is_boolean()) return split["seen"].get<bool>() ? "seen" : "unseen";
  if (split.contains("seen_varies")) return "seen at some points";
  return "?";
}

// ---- the sections every report has ---------------------------------------------------------

static std::string describe_setup(const ojson& base) {
  std::ostringstream o;
  auto get = [&](const char* a, const char* b) -> std::string {
    if (base.contains(a) && base[a].contains(b)) {
      const auto& x = base[a][b];
      return x.is_string() ? x.get<std::string>() : x.dump();
    }
    return "default";
  };
  const bool has_position = base.contains("model") && base["model"].contains("norm") && base["model"]["norm"].contains("position");
  o << "task `" << get("task", "name") << "`, training lengths " << get("task", "train_lengths") << "; model d_model "
    << get("model", "d_model") << ", layers " << get("model", "layers") << ", heads " << get("model", "heads")
    << ", positions `" << get("model", "positions") << "`, norm position `"
    << (has_position ? base["model"]["norm"]["position"].get<std::string>() : std::string("default")) << "`; "
    << get("train", "steps") << " steps, batch " << get("train", "batch_size") << ", lr " << get("optim", "lr") << ".";
  return o.str();
}

// How the report tests, in words (docs/math.md, "Comparison statistics").
static std::string statistics_paragraph(const Report& r) {
  const ojson& T = r.S.contains("tests") ? r.S["tests"] : ojson::object();
  const bool paired = T.value("method", std::string()).rfind("paired", 0) == 0;
  const ojson eq = T.value("equivalence", ojson::object());
  std::ostringstream o;
  o << "Statistics: values are mean ± the half-width of the 95% confidence interval of the mean (Student t, "
       "n - 1 degrees of freedom) over the finished seeds. "
    << (paired ? "Runs of two cells at the same seed are pairs (same data order and initial values; an eval-only "
                 "variant is its twin's trained model), so each difference is tested with a paired t-test on the "
                 "per-seed differences (two-sided). "
               : "Each difference is tested with Welch's t-test (two-sided; eval-only twins paired by seed). ")
    << "The p-values shown are Holm-corrected over the " << T.value("count", 0) << " distinct tests of this report";
  if (T.value("duplicates", 0) > 0)
    o << " (" << T["duplicates"].get<int>() << " repeat an earlier test, e.g. a batch-statistics variant's training "
      << "loss, and are not counted twice)";
  o << ", and a difference is stated when that p < 0.05. Otherwise a difference is called equivalent only when "
       "two one-sided tests (TOST, Holm-corrected the same way) put it within the margin (accuracy ±"
    << margin_text(num_or_nan(eq.value("margin_acc", ojson(nullptr)))) << ", loss ±"
    << margin_text(num_or_nan(eq.value("margin_loss", ojson(nullptr)))) << "), and inconclusive if not.\n\n";
  return o.str();
}

static void render_heading(const Report& r, std::ostream& md) {
  const ojson& meta = r.meta;
  md << "# " << meta["title"].get<std::string>() << "\n\n";
  if (!meta["description"].get<std::string>().empty()) md << meta["description"].get<std::string>() << "\n\n";
  md << "Generated by `normlab compare " << meta["source"].get<std::string>() << "` into `"
     << meta["out_dir"].get<std::string>() << "`. Base: " << describe_setup(meta["base"]) << " Seeds: "
     << meta["seeds"].dump() << " (each variant sees the same data order and, per seed, the same initial "
     << "values for shared parameters). Target loss: " << sig(meta["target_loss"].get<double>()) << ".";
  if (r.swept) {
    md << " Sweep:";
    for (const auto& ax : meta["sweep"]) md << " `" << ax["key"].get<std::string>() << "` over " << ax["values"].dump() << ";";
    md << " " << r.n_points << " points, every variant at every point.";
  }
  md << "\n\n" << statistics_paragraph(r);
}

static void render_unfinished(const Report& r, std::ostream& md) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& v : r.S["variants"])
    for (size_t pi = 0; pi < r.n_points; ++pi)
      for (const auto& run : r.cell(v, pi)["runs"]) {
        if (run["status"] == "finished") continue;
        std::vector<std::string> row = {v["name"].get<std::string>()};
        if (r.swept) row.push_back(r.point_name(pi));
        row.insert(row.end(), {run["seed"].dump(), run["status"].get<std::string>(),
                               run.contains("exit_code") ? run["exit_code"].dump() : "",
                               run.contains("stderr") ? run["stderr"].get<std::string>() : ""});
        rows.push_back(row);
      }
  if (rows.empty()) return;
  std::vector<std::string> header = {"variant"};
  if (r.swept) header.push_back("point");
  header.insert(header.end(), {"seed", "status", "exit code", "last stderr line"});
  md << "## Runs without a result\n\nThese are left out of every mean below. Rerun one with "
        "`normlab compare CONFIG --only VARIANT/" << (r.swept ? "POINT/" : "") << "SEED`.\n\n"
     << markdown_table(header, rows) << "\n";
}

// One seed-point table: a column per metric, a row per variant (no sweep).
static void render_results_single(const Report& r, std::ostream& md) {
  const ojson& splits = r.S["splits"];
  const std::string target = sig(r.meta["target_loss"].get<double>());
  std::vector<std::string> h1 = {"variant", "runs", "final train loss", "steps to loss <= " + target, "max grad norm"};
  std::vector<std::string> h2 = {"variant"};
  for (const auto& sp : splits) {
    h1.push_back("acc " + sp["name"].get<std::string>() + " (" + r.seen_label(sp) + ")");
    h2.push_back("loss " + sp["name"].get<std::string>() + " (" + r.seen_label(sp) + ")");
  }
  std::vector<std::vector<std::string>> rows1, rows2;
  for (const auto& v : r.S["variants"]) {
    const ojson& st = r.cell(v, 0)["stats"];
    const ojson& stt = st["steps_to_target"];
    std::vector<std::string> a = {v["name"].get<std::string>(), st["finished"].dump() + "/" + st["of"].dump(),
                                  pm(st["final_train_loss"], Fmt::loss),
                                  pm(stt, Fmt::steps) + " (" + stt["reached"].dump() + "/" + stt["of"].dump() + " reached)",
                                  pm(st["max_grad_norm"], Fmt::loss)};
    std::vector<std::string> b = {v["name"].get<std::string>()};
    for (const auto& sp : splits) {
      const std::string s = sp["name"];
      a.push_back(st["eval"].contains(s) ? pm(st["eval"][s]["acc"], Fmt::acc) : "n/a");
      b.push_back(st["eval"].contains(s) ? pm(st["eval"][s]["loss"], Fmt::loss) : "n/a");
    }
    rows1.push_back(a);
    rows2.push_back(b);
  }
  md << markdown_table(h1, rows1) << "\nEvaluation loss per split:\n\n" << markdown_table(h2, rows2) << "\n";
}

// The metrics of the results tables: label, the test's metric name, pointer into a cell's stats.
struct TableMetric {
  std::string label, metric, stats_path;
  Fmt fmt;
};

static std::vector<TableMetric> table_metrics(const Report& r) {
  std::vector<TableMetric> m = {{"final train loss", "final_train_loss", "/final_train_loss", Fmt::loss}};
  for (const char* what : {"acc", "loss"})
    for (const auto& sp : r.S["splits"]) {
      const std::string s = sp["name"];
      m.push_back({std::string(what[0] == 'a' ? "accuracy " : "eval loss ") + s + " (" + r.seen_label(sp) + ")",
                   std::string(what) + " " + s, "/eval/" + json_pointer_escape(s) + "/" + what,
                   what[0] == 'a' ? Fmt::acc : Fmt::loss});
    }
  return m;
}

// With a sweep: one table per metric, the points as columns; `*` marks a Holm p < 0.05
// difference from the reference at that point.
static void render_results_swept(const Report& r, std::ostream& md) {
  md << "One table per metric; columns are the sweep points, `*` marks a difference from `" << r.ref
     << "` at that point (Holm-corrected p < 0.05). Runs finished per cell are in the last table.\n\n";
  std::vector<TableMetric> ms = table_metrics(r);
  ms.push_back({"steps to loss <= " + sig(r.meta["target_loss"].get<double>()) + " (mean over the seeds that reached it)",
                "", "/steps_to_target", Fmt::steps});
  std::vector<std::string> header = {"variant"};
  for (size_t pi = 0; pi < r.n_points; ++pi) header.push_back(r.point_name(pi));
  for (const auto& m : ms) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& v : r.S["variants"]) {
      std::vector<std::string> row = {v["name"].get<std::string>()};
      for (size_t pi = 0; pi < r.n_points; ++pi) {
        const ojson* t = m.metric.empty() ? nullptr : r.test(m.metric, v["name"], r.ref, pi);
        const bool star = t && t->at("p_holm").is_number() && t->at("p_holm").get<double>() < 0.05;
        row.push_back(pm(at_path(r.cell(v, pi)["stats"], m.stats_path), m.fmt) + (star ? " *" : ""));
      }
      rows.push_back(row);
    }
    md << "### " << m.label << "\n\n" << markdown_table(header, rows) << "\n";
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& v : r.S["variants"]) {
    std::vector<std::string> row = {v["name"].get<std::string>()};
    for (size_t pi = 0; pi < r.n_points; ++pi)
      row.push_back(std::to_string(r.finished(v, pi)) + "/" + r.cell(v, pi)["stats"]["of"].dump());
    rows.push_back(row);
  }
  md << "### runs finished\n\n" << markdown_table(header, rows) << "\n";
}

static void render_plots(const Report& r, const std::string& plots_note, std::ostream& md) {
  md << "## Plots\n\n";
  if (!plots_note.empty()) {
    md << "Plots are missing: " << plots_note << ".\n\n";
    return;
  }
  bool any_len = false;
  for (const auto& v : r.S["variants"])
    for (size_t pi = 0; pi < r.n_points; ++pi) any_len |= !r.cell(v, pi)["stats"]["by_length"].empty();
  if (r.swept) md << "![metrics vs the sweep value](plots/sweep.png)\n\n";
  md << "![training loss](plots/loss.png)\n\n![evaluation accuracy by length](plots/eval_acc.png)\n\n";
  if (any_len) md << "![accuracy per length](plots/acc_by_length.png)\n\n";
  bool any_ece = false;
  for (const auto& v : r.S["variants"])
    for (size_t pi = 0; pi < r.n_points; ++pi)
      for (const auto& [split, e] : r.cell(v, pi)["stats"]["eval"].items()) any_ece |= e.contains("ece");
  if (any_ece) md << "![calibration error per split](plots/calibration.png)\n\n";
  bool any_reliability = false;
  for (const auto& v : r.S["variants"])
    for (size_t pi = 0; pi < r.n_points; ++pi) any_reliability |= r.cell(v, pi)["stats"].contains("reliability");
  if (any_reliability) md << "![reliability per split](plots/reliability.png)\n\n";
  if (!r.S["shift_layers"].empty()) md << "![BatchNorm shift per split](plots/bn_shift.png)\n\n";
  if (!r.S["batchnorm_layers"].empty()) md << "![BatchNorm drift](plots/drift.png)\n\n";
  if (!r.S["grad_groups"].empty()) md << "![gradient norm per layer group](plots/grad_norm.png)\n\n";
}

// One row of the per-run table: where, status, final numbers, accuracy per split, seconds.
static std::vector<std::string> per_run_row(const Report& r, const ojson& v, size_t pi, const ojson& run,
                                            const std::string& seeds) {
  std::vector<std::string> row = {v["name"].get<std::string>()};
  if (r.swept) row.push_back(r.point_name(pi));
  const bool stt = run.contains("steps_to_target") && run["steps_to_target"].is_number();
  row.insert(row.end(), {run["seed"].dump(), seeds, run["status"].get<std::string>(),
                         run.contains("final_step") ? fixed(num_or_nan(run["final_step"]), 0) : "n/a",
                         run.contains("final_train_loss") ? sig(num_or_nan(run["final_train_loss"])) : "n/a",
                         stt ? fixed(num_or_nan(run["steps_to_target"]), 0) : "-"});
  for (const auto& sp : r.S["splits"]) {
    const std::string s = sp["name"];
    row.push_back(run.contains("eval") && run["eval"].contains(s) ? fixed(num_or_nan(run["eval"][s]["acc"]), 3) : "n/a");
  }
  row.push_back(run.contains("seconds") ? fixed(num_or_nan(run["seconds"]), 1) : "n/a");
  return row;
}

// Every run of the base setting: the exploratory seeds' (the means above), then the
// confirmatory seeds' (only their re-tests use them).
static void render_per_run(const Report& r, std::ostream& md) {
  std::vector<std::string> header = {"variant"};
  if (r.swept) header.push_back("point");
  header.insert(header.end(), {"seed", "seeds", "status", "final step", "final train loss", "steps to target"});
  for (const auto& sp : r.S["splits"]) header.push_back("acc " + sp["name"].get<std::string>());
  header.push_back("seconds");
  std::vector<std::vector<std::string>> rows;
  for (const char* kind : {"runs", "replicate_runs"})
    for (const auto& v : r.S["variants"])
      for (size_t pi = 0; pi < r.n_points; ++pi)
        if (r.cell(v, pi).contains(kind))
          for (const auto& run : r.cell(v, pi)[kind])
            rows.push_back(per_run_row(r, v, pi, run, std::string(kind) == "runs" ? "exploratory" : "confirmatory"));
  md << "## Per run\n\n" << markdown_table(header, rows) << "\n";
}

std::string render_report(const ojson& S, const std::string& plots_note) {
  const Report r(S);
  std::ostringstream md;
  render_heading(r, md);
  render_unfinished(r, md);
  render_replication(r, md);  // findings that survive fresh seeds come first
  md << "## Results\n\n";
  if (r.swept) render_results_swept(r, md);
  else render_results_single(r, md);
  for (const Question& q : questions())
    if (q.render) q.render(r, md);
  render_plots(r, plots_note, md);
  render_per_run(r, md);
  return md.str();
}

}  // namespace nl
