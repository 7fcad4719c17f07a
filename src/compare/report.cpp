// report.cpp — the markdown report of a comparison, rendered from its summary.json.
//
// What it is: tables generated from the data (mean ± 95% confidence half-width per variant,
// and with a sweep one table per metric with the sweep points as columns) and sentences
// generated from the tests summary.json holds: a difference against the reference is
// stated with its size, interval and Holm-corrected p-value when p < 0.05, and as "no
// difference detectable with N seeds" otherwise. Then the mechanism (BatchNorm shift per
// split, jitter, running vs batch statistics), the questions a config asks for, plots and
// the per-run table.
// What it is not: the numbers or the tests themselves (summary.cpp, stats.cpp), the runs
// (runner.cpp) or the plots (scripts/plot_compare.py).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "normlab/compare/compare.h"
#include "normlab/error.h"

using ojson = nlohmann::ordered_json;

namespace nl {

static double val(const ojson& j) { return j.is_number() ? j.get<double>() : NAN; }

// ---------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------

static std::string fixed(double v, int digits) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Losses and drifts span orders of magnitude: 3 significant digits.
static std::string sig(double v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  double a = std::fabs(v);
  if (a != 0 && (a < 1e-3 || a >= 1e5)) std::snprintf(buf, sizeof buf, "%.2e", v);
  else std::snprintf(buf, sizeof buf, "%.*f", a >= 100 ? 1 : a >= 10 ? 2 : a >= 1 ? 3 : 4, v);
  return buf;
}

enum class Fmt { loss, acc, steps };

static std::string fmt_val(double v, Fmt f) {
  return f == Fmt::acc ? fixed(v, 3) : f == Fmt::steps ? fixed(v, 0) : sig(v);
}

// mean ± 95% CI half-width (just the mean for one seed)
static std::string pm(const ojson& s, Fmt f) {
  if (!s.is_object() || !s["mean"].is_number()) return "n/a";
  std::string out = fmt_val(s["mean"].get<double>(), f);
  if (s["n"].get<int>() > 1 && s["ci95"].is_number()) out += " ± " + fmt_val(s["ci95"].get<double>(), f);
  return out;
}

static std::string fmt_p(double p) {
  if (!std::isfinite(p)) return "n/a";
  if (p < 0.001) return "p < 0.001";
  char buf[32];
  std::snprintf(buf, sizeof buf, p < 0.01 ? "p = %.3f" : "p = %.2f", p);
  return buf;
}

// ---------------------------------------------------------------------------
// Lookups in summary.json
// ---------------------------------------------------------------------------

static const ojson* find_variant(const ojson& S, const std::string& name) {
  for (const auto& v : S["variants"])
    if (v["name"] == name) return &v;
  return nullptr;
}

static const ojson* find_test(const ojson& S, const std::string& metric, const std::string& variant,
                              const std::string& against, const std::string& point) {
  if (!S.contains("tests")) return nullptr;
  for (const auto& t : S["tests"]["list"])
    if (t["metric"] == metric && t["variant"] == variant && t["against"] == against && t["point"] == point) return &t;
  return nullptr;
}

static std::string seen_label(const ojson& split) {
  if (split["seen"].is_boolean()) return split["seen"].get<bool>() ? "seen" : "unseen";
  if (split.contains("seen_varies")) return "seen at some points";
  return "?";
}

// The words for one test: what the numbers support, and no more.
static std::string test_words(const ojson* t, Fmt f, const std::string& more, const std::string& less, int /*n_seeds*/) {
  if (!t) return "not tested";
  const std::vector<int> n = t->at("n").get<std::vector<int>>();
  if (!t->at("p").is_number()) {
    if (t->at("diff").is_null() && std::min(n[0], n[1]) == 1) {
      // One seed each: the difference of the two values, with no noise estimate.
      return "one seed: no noise estimate, so no test";
    }
    return "not testable (" + std::to_string(n[0]) + " and " + std::to_string(n[1]) + " finished seeds)";
  }
  double d = t->at("diff").get<double>(), p = t->at("p_holm").get<double>();
  std::string ds = fmt_val(std::fabs(d), f);
  if (ds == fmt_val(0, f)) {  // rounding hides the size: show more digits
    char b[32];
    std::snprintf(b, sizeof b, "%.3g", std::fabs(d));
    ds = b;
  }
  if (p < 0.05) {
    const auto& ci = t->at("ci95");
    return (d > 0 ? more : less) + " by " + ds + " (95% CI of the difference " + fmt_val(val(ci[0]), f) + " .. " +
           fmt_val(val(ci[1]), f) + "), " + fmt_p(p);
  }
  return "no difference detectable with " + std::to_string(std::min(n[0], n[1])) + " seeds (difference " +
         (d == 0 ? std::string("0") : (d > 0 ? "+" : "-") + ds) + ", " + fmt_p(p) + ")";
}

static std::string describe_setup(const ojson& base) {
  std::ostringstream o;
  auto get = [&](const char* a, const char* b) -> std::string {
    if (base.contains(a) && base[a].contains(b)) {
      const auto& x = base[a][b];
      return x.is_string() ? x.get<std::string>() : x.dump();
    }
    return "default";
  };
  o << "task `" << get("task", "name") << "`, training lengths " << get("task", "train_lengths")
    << "; model d_model " << get("model", "d_model") << ", layers " << get("model", "layers")
    << ", heads " << get("model", "heads") << ", positions `" << get("model", "positions") << "`, norm position `"
    << (base.contains("model") && base["model"].contains("norm") && base["model"]["norm"].contains("position")
            ? base["model"]["norm"]["position"].get<std::string>()
            : std::string("default"))
    << "`; " << get("train", "steps") << " steps, batch " << get("train", "batch_size") << ", lr "
    << get("optim", "lr") << ".";
  return o.str();
}

// The metrics of the results tables: label, pointer into a cell's stats, format.
struct TableMetric {
  std::string label, metric;  // metric = the test's name ("final_train_loss", "acc S", "loss S")
  std::string stats_path;     // inside "stats"
  Fmt fmt;
};

static std::vector<TableMetric> table_metrics(const ojson& S) {
  std::vector<TableMetric> m = {{"final train loss", "final_train_loss", "/final_train_loss", Fmt::loss}};
  for (const auto& sp : S["splits"]) {
    const std::string s = sp["name"];
    m.push_back({"accuracy " + s + " (" + seen_label(sp) + ")", "acc " + s,
                 "/eval/" + json_pointer_escape(s) + "/acc", Fmt::acc});
  }
  for (const auto& sp : S["splits"]) {
    const std::string s = sp["name"];
    m.push_back({"eval loss " + s + " (" + seen_label(sp) + ")", "loss " + s,
                 "/eval/" + json_pointer_escape(s) + "/loss", Fmt::loss});
  }
  return m;
}

static const ojson& at_path(const ojson& stats, const std::string& path) {
  static const ojson kNull;
  ojson::json_pointer p(path);
  return stats.contains(p) ? stats.at(p) : kNull;
}

// ---------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------

std::string render_report(const ojson& S, const std::string& plots_note) {
  std::ostringstream md;
  const ojson& meta = S["compare"];
  const std::string ref = meta["reference"].get<std::string>();
  const ojson* R = find_variant(S, ref);
  // The variant that stands for a norm type (summary.json compare.roles; a summary without
  // roles named its variants after their types).
  auto role = [&](const char* type) -> std::string {
    if (meta.contains("roles") && meta["roles"].contains(type)) return meta["roles"][type].get<std::string>();
    return type;
  };
  const std::string ln = role("layernorm"), ln_simple = role("layernorm_simple"), detach = role("detachnorm"),
                    none = role("none");
  auto has_q = [&](const std::string& q) {
    for (const auto& x : meta["questions"]) if (x == q) return true;
    return false;
  };
  const int n_seeds = meta["seeds"].size();
  const ojson& points = S["points"];
  const size_t n_points = points.size();
  const bool swept = n_points > 1;
  auto point_name = [&](size_t pi) {
    std::string l = points[pi]["label"].get<std::string>();
    return l.empty() ? std::string("-") : l;
  };
  auto cell = [&](const ojson& v, size_t pi) -> const ojson& { return v["points"][pi]; };
  auto finished = [&](const ojson& v, size_t pi) { return cell(v, pi)["stats"]["finished"].get<int>(); };

  md << "# " << meta["title"].get<std::string>() << "\n\n";
  if (!meta["description"].get<std::string>().empty()) md << meta["description"].get<std::string>() << "\n\n";
  md << "Generated by `normlab compare " << meta["source"].get<std::string>() << "` into `"
     << meta["out_dir"].get<std::string>() << "`. Base: " << describe_setup(meta["base"]) << " Seeds: "
     << meta["seeds"].dump() << " (each variant sees the same data order and, per seed, the same initial "
     << "values for shared parameters). Target loss: " << sig(meta["target_loss"].get<double>()) << ".";
  if (swept) {
    md << " Sweep:";
    for (const auto& ax : meta["sweep"]) md << " `" << ax["key"].get<std::string>() << "` over " << ax["values"].dump() << ";";
    md << " " << n_points << " points, every variant at every point.";
  }
  md << "\n\nStatistics: values are mean ± the half-width of the 95% confidence interval of the mean "
        "(Student t, n - 1 degrees of freedom) over the finished seeds. Each difference against the "
        "reference `" << ref << "` is tested with Welch's t-test (two-sided); the p-values shown are "
        "Holm-corrected over all " << (S.contains("tests") ? S["tests"]["count"].get<int>() : 0)
     << " tests of this report, and a difference is stated when that p < 0.05.\n\n";

  // Runs that did not finish
  std::ostringstream bad;
  for (const auto& v : S["variants"])
    for (size_t pi = 0; pi < n_points; ++pi)
      for (const auto& r : cell(v, pi)["runs"])
        if (r["status"] != "finished") {
          bad << "| " << v["name"].get<std::string>() << " | " << (swept ? point_name(pi) + " | " : "") << r["seed"]
              << " | " << r["status"].get<std::string>() << " | "
              << (r.contains("exit_code") ? r["exit_code"].dump() : "") << " | "
              << (r.contains("stderr") ? r["stderr"].get<std::string>() : "") << " |\n";
        }
  if (!bad.str().empty()) {
    md << "## Runs without a result\n\nThese are left out of every mean below. Rerun one with "
          "`normlab compare CONFIG --only VARIANT/" << (swept ? "POINT/" : "") << "SEED`.\n\n| variant | "
       << (swept ? "point | " : "") << "seed | status | exit code | last stderr line |\n|---|"
       << (swept ? "---|" : "") << "---|---|---|---|\n"
       << bad.str() << "\n";
  }

  // ---- Results ----
  md << "## Results\n\n";
  const std::vector<TableMetric> metrics = table_metrics(S);
  if (!swept) {
    md << "| variant | runs | final train loss | steps to loss <= " << sig(meta["target_loss"].get<double>())
       << " | max grad norm |";
    for (const auto& sp : S["splits"]) md << " acc " << sp["name"].get<std::string>() << " (" << seen_label(sp) << ") |";
    md << "\n|---|---|---|---|---|";
    for (size_t i = 0; i < S["splits"].size(); ++i) md << "---|";
    md << "\n";
    for (const auto& v : S["variants"]) {
      const ojson& st = cell(v, 0)["stats"];
      md << "| " << v["name"].get<std::string>() << " | " << st["finished"] << "/" << st["of"] << " | "
         << pm(st["final_train_loss"], Fmt::loss) << " | " << pm(st["steps_to_target"], Fmt::steps) << " ("
         << st["steps_to_target"]["reached"] << "/" << st["steps_to_target"]["of"] << " reached) | "
         << pm(st["max_grad_norm"], Fmt::loss) << " |";
      for (const auto& sp : S["splits"]) {
        const std::string s = sp["name"];
        md << " " << (st["eval"].contains(s) ? pm(st["eval"][s]["acc"], Fmt::acc) : "n/a") << " |";
      }
      md << "\n";
    }
    md << "\nEvaluation loss per split:\n\n| variant |";
    for (const auto& sp : S["splits"]) md << " loss " << sp["name"].get<std::string>() << " (" << seen_label(sp) << ") |";
    md << "\n|---|";
    for (size_t i = 0; i < S["splits"].size(); ++i) md << "---|";
    md << "\n";
    for (const auto& v : S["variants"]) {
      md << "| " << v["name"].get<std::string>() << " |";
      for (const auto& sp : S["splits"]) {
        const std::string s = sp["name"];
        const ojson& st = cell(v, 0)["stats"];
        md << " " << (st["eval"].contains(s) ? pm(st["eval"][s]["loss"], Fmt::loss) : "n/a") << " |";
      }
      md << "\n";
    }
    md << "\n";
  } else {
    // One table per metric, the sweep points as columns. A cell of a variant that differs
    // from the reference at that point (Holm p < 0.05) is marked with * .
    md << "One table per metric; columns are the sweep points, `*` marks a difference from `" << ref
       << "` at that point (Holm-corrected p < 0.05). Runs finished per cell are in the last table.\n\n";
    std::vector<TableMetric> ms = metrics;
    ms.push_back({"steps to loss <= " + sig(meta["target_loss"].get<double>()) + " (mean over the seeds that reached it)",
                  "", "/steps_to_target", Fmt::steps});
    for (const auto& m : ms) {
      md << "### " << m.label << "\n\n| variant |";
      for (size_t pi = 0; pi < n_points; ++pi) md << " " << point_name(pi) << " |";
      md << "\n|---|";
      for (size_t pi = 0; pi < n_points; ++pi) md << "---|";
      md << "\n";
      for (const auto& v : S["variants"]) {
        md << "| " << v["name"].get<std::string>() << " |";
        for (size_t pi = 0; pi < n_points; ++pi) {
          md << " " << pm(at_path(cell(v, pi)["stats"], m.stats_path), m.fmt);
          const ojson* t = m.metric.empty() ? nullptr : find_test(S, m.metric, v["name"], ref, points[pi]["label"]);
          if (t && t->at("p_holm").is_number() && t->at("p_holm").get<double>() < 0.05) md << " *";
          md << " |";
        }
        md << "\n";
      }
      md << "\n";
    }
    md << "### runs finished\n\n| variant |";
    for (size_t pi = 0; pi < n_points; ++pi) md << " " << point_name(pi) << " |";
    md << "\n|---|";
    for (size_t pi = 0; pi < n_points; ++pi) md << "---|";
    md << "\n";
    for (const auto& v : S["variants"]) {
      md << "| " << v["name"].get<std::string>() << " |";
      for (size_t pi = 0; pi < n_points; ++pi)
        md << " " << finished(v, pi) << "/" << cell(v, pi)["stats"]["of"] << " |";
      md << "\n";
    }
    md << "\n";
  }

  // ---- Differences against the reference, from the tests ----
  md << "## Differences against `" << ref << "`\n\n";
  if (n_seeds < 2)
    md << "With one seed there is no noise estimate: differences below are listed, not tested.\n\n";
  if (!R) {
    md << "The reference variant `" << ref << "` is missing, so nothing is compared.\n\n";
  } else {
    for (size_t pi = 0; pi < n_points; ++pi) {
      if (swept) md << "### " << point_name(pi) << "\n\n";
      if (finished(*R, pi) == 0) {
        md << "The reference `" << ref << "` has no finished run here, so nothing is compared.\n\n";
        continue;
      }
      for (const auto& m : metrics) {
        if (m.metric != "final_train_loss" && !has_q("length_generalization")) continue;
        md << "- " << m.label << ": `" << ref << "` " << pm(at_path(cell(*R, pi)["stats"], m.stats_path), m.fmt) << ".";
        for (const auto& v : S["variants"]) {
          if (v["name"] == ref || finished(v, pi) == 0) continue;
          const ojson* t = find_test(S, m.metric, v["name"], ref, points[pi]["label"]);
          md << " `" << v["name"].get<std::string>() << "` " << pm(at_path(cell(v, pi)["stats"], m.stats_path), m.fmt)
             << ": " << test_words(t, m.fmt, "higher", "lower", n_seeds) << ".";
        }
        md << "\n";
      }
      md << "\n";
    }
  }

  // ---- Accuracy per length ----
  bool any_len = false;
  for (const auto& v : S["variants"])
    for (size_t pi = 0; pi < n_points; ++pi) any_len |= !cell(v, pi)["stats"]["by_length"].empty();
  if (any_len) {
    md << "## Accuracy per length\n\nThe final evaluation per sequence length, all splits together; lengths "
          "with fewer than 32 examples are pooled with their neighbours into bins (never across the edge of the "
          "training range). Mean ± 95% CI over seeds; `seen` = inside the training lengths. Plot: "
          "`plots/acc_by_length.png`.\n\n";
    for (size_t pi = 0; pi < n_points; ++pi) {
      if (swept) md << "### " << point_name(pi) << "\n\n";
      const ojson* first = nullptr;
      for (const auto& v : S["variants"])
        if (!cell(v, pi)["stats"]["by_length"].empty()) { first = &v; break; }
      if (!first) continue;
      const ojson& bins = cell(*first, pi)["stats"]["by_length"];
      int tmin = -1, tmax = -1;
      if (cell(*first, pi).contains("train_lengths"))
        tmin = cell(*first, pi)["train_lengths"][0], tmax = cell(*first, pi)["train_lengths"][1];
      md << "| lengths |";
      for (const auto& v : S["variants"]) md << " " << v["name"].get<std::string>() << " |";
      md << "\n|---|";
      for (size_t i = 0; i < S["variants"].size(); ++i) md << "---|";
      md << "\n";
      for (size_t b = 0; b < bins.size(); ++b) {
        int lo = bins[b]["lo"], hi = bins[b]["hi"];
        md << "| " << lo << (hi > lo ? ".." + std::to_string(hi) : "")
           << (tmin >= 0 ? (lo >= tmin && hi <= tmax ? " (seen)" : " (unseen)") : "") << " |";
        for (const auto& v : S["variants"]) {
          const ojson& bl = cell(v, pi)["stats"]["by_length"];
          md << " " << (b < bl.size() ? pm(bl[b]["acc"], Fmt::acc) : "n/a") << " |";
        }
        md << "\n";
      }
      md << "\n";
    }
  }

  // ---- The mechanism: BatchNorm's shift at evaluation and jitter in training ----
  if (!S["shift_layers"].empty()) {
    md << "## BatchNorm: running statistics vs each split's own statistics\n\n"
          "`shift_mean`, `shift_var` per BatchNorm layer and evaluation split: how far the split's masked "
          "mean and variance of the layer's input are from the running statistics used at evaluation "
          "(defined like the drift columns). Final evaluation, mean ± 95% CI over seeds. Plot: "
          "`plots/bn_shift.png`.\n\n";
    for (size_t pi = 0; pi < n_points; ++pi) {
      if (swept) md << "### " << point_name(pi) << "\n\n";
      md << "| variant | layer |";
      for (const auto& sp : S["splits"])
        md << " shift_mean " << sp["name"].get<std::string>() << " (" << seen_label(sp) << ") |";
      for (const auto& sp : S["splits"]) md << " shift_var " << sp["name"].get<std::string>() << " |";
      md << "\n|---|---|";
      for (size_t i = 0; i < 2 * S["splits"].size(); ++i) md << "---|";
      md << "\n";
      for (const auto& v : S["variants"]) {
        const ojson& sh = cell(v, pi)["stats"]["bn_shift"];
        for (auto it = sh.begin(); it != sh.end(); ++it) {
          md << "| " << v["name"].get<std::string>() << " | " << it.key() << " |";
          for (const char* w : {"shift_mean", "shift_var"})
            for (const auto& sp : S["splits"]) {
              const std::string s = sp["name"];
              md << " " << (it.value().contains(s) ? pm(it.value()[s][w], Fmt::loss) : "n/a") << " |";
            }
          md << "\n";
        }
      }
      md << "\n";
    }
  }
  if (!S["jitter_layers"].empty()) {
    md << "## BatchNorm jitter in training\n\nThe std over logged training steps of the batch mean (`mean_std`) "
          "and variance (`var_std`) per BatchNorm layer (per feature, averaged over features): how much the "
          "statistics a layer normalises with move over training, batch-to-batch noise plus their drift as "
          "the weights train (so compare it between runs of the same steps and schedule). PowerNorm: its "
          "quadratic mean as `var_std`, `mean_std` 0. Mean ± 95% CI over seeds.\n\n";
    md << "| variant | layer |";
    for (size_t pi = 0; pi < n_points; ++pi) md << " mean_std" << (swept ? " " + point_name(pi) : "") << " |";
    for (size_t pi = 0; pi < n_points; ++pi) md << " var_std" << (swept ? " " + point_name(pi) : "") << " |";
    md << "\n|---|---|";
    for (size_t i = 0; i < 2 * n_points; ++i) md << "---|";
    md << "\n";
    for (const auto& v : S["variants"])
      for (const auto& L : S["jitter_layers"]) {
        bool any = false;
        for (size_t pi = 0; pi < n_points; ++pi) any |= cell(v, pi)["stats"]["bn_jitter"].contains(L.get<std::string>());
        if (!any) continue;
        md << "| " << v["name"].get<std::string>() << " | " << L.get<std::string>() << " |";
        for (const char* w : {"mean_std", "var_std"})
          for (size_t pi = 0; pi < n_points; ++pi) {
            const ojson& jt = cell(v, pi)["stats"]["bn_jitter"];
            md << " " << (jt.contains(L.get<std::string>()) ? pm(jt[L.get<std::string>()][w], Fmt::loss) : "n/a") << " |";
          }
        md << "\n";
      }
    md << "\n";
  }

  // ---- Running vs batch statistics at evaluation: the price of the shift ----
  {
    // Pairs (with batch statistics, with running statistics) that differ only in eval.bn_stats.
    std::vector<std::pair<std::string, std::string>> pairs;
    if (S.contains("tests"))
      for (const auto& t : S["tests"]["list"])
        if (t["why"] == "bn_stats") {
          std::pair<std::string, std::string> p = {t["variant"], t["against"]};
          if (std::find(pairs.begin(), pairs.end(), p) == pairs.end()) pairs.push_back(p);
        }
    if (!pairs.empty()) {
      md << "## What the running statistics cost\n\nVariants that differ only in `eval.bn_stats`: `batch` "
            "normalises each evaluation batch with its own statistics instead of the running ones. "
            "Per split, the loss gap of the running-statistics variant to `" << ref << "`, the gap with batch "
            "statistics, and the share of the gap that batch statistics remove, "
            "`(gap_running - gap_batch) / gap_running` (computed from the means; only meaningful when "
            "gap_running is clearly above zero).\n\n";
      for (size_t pi = 0; pi < n_points; ++pi) {
        if (swept) md << "### " << point_name(pi) << "\n\n";
        for (const auto& [batch, running] : pairs) {
          const ojson* B = find_variant(S, batch);
          const ojson* Rn = find_variant(S, running);
          if (!B || !Rn || !R) continue;
          md << "`" << running << "` (running) vs `" << batch << "` (batch):\n\n| split | loss " << ref
             << " | loss running | loss batch | gap running | gap batch | share removed | batch vs running |\n"
                "|---|---|---|---|---|---|---|---|\n";
          for (const auto& sp : S["splits"]) {
            const std::string s = sp["name"];
            std::string p = "/eval/" + json_pointer_escape(s) + "/loss";
            double lr = val(at_path(cell(*R, pi)["stats"], p + "/mean"));
            double ln = val(at_path(cell(*Rn, pi)["stats"], p + "/mean"));
            double lb = val(at_path(cell(*B, pi)["stats"], p + "/mean"));
            double gn = ln - lr, gb = lb - lr;
            std::string share = std::isfinite(gn) && gn > 0 ? fixed(100 * (gn - gb) / gn, 0) + "%" : "n/a";
            const ojson* t = find_test(S, "loss " + s, batch, running, points[pi]["label"]);
            md << "| " << s << " (" << seen_label(sp) << ") | " << sig(lr) << " | " << sig(ln) << " | " << sig(lb)
               << " | " << sig(gn) << " | " << sig(gb) << " | " << share << " | "
               << test_words(t, Fmt::loss, "higher", "lower", n_seeds) << " |\n";
          }
          md << "\n";
        }
      }
    }
  }

  // ---- BatchNorm drift in training (Shen et al. 2020) ----
  if (has_q("batchnorm_drift") && !S["batchnorm_layers"].empty()) {
    md << "## BatchNorm statistics drift in training\n\n`drift_mean = ||mu_B - running_mean||_2 / D`, `drift_var = "
          "||var_B - running_var||_2 / D` (Shen et al. 2020) on training batches, per BatchNorm layer: final value "
          "(last logged step) and the average over all logged steps.\n\n";
    for (size_t pi = 0; pi < n_points; ++pi) {
      if (swept) md << "### " << point_name(pi) << "\n\n";
      md << "| variant | layer | final drift_mean | final drift_var | avg drift_mean | avg drift_var |\n"
            "|---|---|---|---|---|---|\n";
      for (const auto& v : S["variants"]) {
        const ojson& dr = cell(v, pi)["stats"]["drift"];
        for (auto it = dr.begin(); it != dr.end(); ++it)
          md << "| " << v["name"].get<std::string>() << " | " << it.key() << " | " << pm(it.value()["drift_mean"], Fmt::loss)
             << " | " << pm(it.value()["drift_var"], Fmt::loss) << " | " << pm(it.value()["drift_mean_avg"], Fmt::loss)
             << " | " << pm(it.value()["drift_var_avg"], Fmt::loss) << " |\n";
      }
      md << "\n";
    }
  }

  // ---- Xu et al. 2019 (a): over-fitting of gain and bias ----
  if (has_q("overfit")) {
    md << "## (a) Do the gain and bias over-fit? (Xu et al. 2019)\n\nValidation loss is the mean evaluation loss over "
          "the splits whose lengths were seen in training; the gap is validation minus final training loss.\n\n";
    std::vector<std::string> seen_s;
    for (const auto& sp : S["splits"]) if (seen_label(sp) == "seen") seen_s.push_back(sp["name"]);
    for (size_t pi = 0; pi < n_points; ++pi) {
      if (swept) md << "### " << point_name(pi) << "\n\n";
      md << "| variant | final train loss | validation loss | gap |\n|---|---|---|---|\n";
      for (const auto& v : S["variants"]) {
        std::vector<double> vl;
        for (const auto& r : cell(v, pi)["runs"]) {
          if (r["status"] != "finished") continue;
          double s = 0;
          for (const auto& n : seen_s) s += val(r["eval"][n]["loss"]);
          vl.push_back(seen_s.empty() ? NAN : s / seen_s.size());
        }
        const ojson& st = cell(v, pi)["stats"];
        md << "| " << v["name"].get<std::string>() << " | " << pm(st["final_train_loss"], Fmt::loss) << " | "
           << pm(stats_of(vl), Fmt::loss) << " | " << pm(st["overfit_gap"], Fmt::loss) << " |\n";
      }
      md << "\n";
      const ojson* t = find_test(S, "overfit_gap", ln, ln_simple, points[pi]["label"]);
      if (t) {
        md << "- Gap of `" << ln << "` (with gain and bias) vs `" << ln_simple << "` (without): "
           << test_words(t, Fmt::loss, "larger", "smaller", n_seeds) << ". ";
        double p = val(t->at("p_holm"));
        if (!std::isfinite(p)) md << "No answer from these runs.\n";
        else if (p >= 0.05) md << "These runs do not show that gain and bias over-fit.\n";
        else if (t->at("diff").get<double>() > 0) md << "Gain and bias go with a larger generalisation gap here, as Xu et al. report.\n";
        else md << "Gain and bias go with a smaller gap here, the opposite of Xu et al.'s finding.\n";
      } else {
        md << "- Needs a layernorm and a layernorm_simple variant to answer.\n";
      }
      md << "\n";
    }
  }

  // ---- Xu et al. 2019 (b): DetachNorm vs LayerNorm-simple ----
  if (has_q("detach")) {
    md << "## (b) Do the gradients through mean and variance matter? (Xu et al. 2019)\n\n";
    const ojson* d = find_variant(S, detach);
    const ojson* s = find_variant(S, ln_simple);
    for (size_t pi = 0; pi < n_points; ++pi) {
      if (swept) md << "### " << point_name(pi) << "\n\n";
      const ojson* t = find_test(S, "final_train_loss", detach, ln_simple, points[pi]["label"]);
      if (d && s && t) {
        const ojson& ds = cell(*d, pi)["stats"];
        const ojson& ss = cell(*s, pi)["stats"];
        md << "- Final training loss, `" << detach << "` " << pm(ds["final_train_loss"], Fmt::loss) << " vs `" << ln_simple << "` "
           << pm(ss["final_train_loss"], Fmt::loss) << ": " << test_words(t, Fmt::loss, "higher", "lower", n_seeds) << ".\n";
        md << "- Steps to the target loss: `" << detach << "` " << pm(ds["steps_to_target"], Fmt::steps) << " ("
           << ds["steps_to_target"]["reached"] << "/" << ds["steps_to_target"]["of"] << " reached) vs `" << ln_simple << "` "
           << pm(ss["steps_to_target"], Fmt::steps) << " (" << ss["steps_to_target"]["reached"] << "/"
           << ss["steps_to_target"]["of"] << " reached).\n";
        if (const ojson* tn = find_test(S, "final_train_loss", detach, none, points[pi]["label"]))
          md << "- `" << detach << "` vs `" << none << "` (no normalisation), final training loss: "
             << test_words(tn, Fmt::loss, "higher", "lower", n_seeds) << ".\n";
        double p = val(t->at("p_holm"));
        md << "- Answer: ";
        if (!std::isfinite(p)) md << "not answerable from these runs.\n";
        else if (p >= 0.05) md << "no difference detectable in training loss: these runs do not show that detaching "
                                  "the statistics' gradients hurts training at this size.\n";
        else if (t->at("diff").get<double>() > 0) md << "`detachnorm` trains worse than `layernorm_simple` (same forward, "
                                                        "gradients through mean and variance removed), as Xu et al. report.\n";
        else md << "`detachnorm` trains better than `layernorm_simple` here, the opposite of Xu et al.'s finding.\n";
      } else {
        md << "- Needs a detachnorm and a layernorm_simple variant to answer.\n";
      }
      md << "\n";
    }
  }

  // ---- Xiong et al. 2020: placement and warmup ----
  if (has_q("placement")) {
    md << "## Norm placement and warmup (Xiong et al. 2020)\n\nGradient norm per layer group at the first logged "
          "step (mean ± 95% CI over seeds), then how training went (training-loss tests against `" << ref
       << "` are in the section above).\n\n";
    for (size_t pi = 0; pi < n_points; ++pi) {
      if (swept) md << "### " << point_name(pi) << "\n\n";
      md << "| variant |";
      for (const auto& g : S["grad_groups"]) md << " " << g.get<std::string>() << " |";
      md << " final train loss | steps to target |\n|---|";
      for (size_t i = 0; i < S["grad_groups"].size(); ++i) md << "---|";
      md << "---|---|\n";
      for (const auto& v : S["variants"]) {
        const ojson& st = cell(v, pi)["stats"];
        md << "| " << v["name"].get<std::string>() << " |";
        for (const auto& g : S["grad_groups"]) md << " " << pm(st["first_grad_norm"][g.get<std::string>()], Fmt::loss) << " |";
        md << " " << pm(st["final_train_loss"], Fmt::loss) << " | " << pm(st["steps_to_target"], Fmt::steps) << " ("
           << st["steps_to_target"]["reached"] << "/" << st["steps_to_target"]["of"] << ") |\n";
      }
      md << "\n";
    }
  }

  // ---- Plots ----
  md << "## Plots\n\n";
  if (plots_note.empty()) {
    if (swept) md << "![metrics vs the sweep value](plots/sweep.png)\n\n";
    md << "![training loss](plots/loss.png)\n\n![evaluation accuracy by length](plots/eval_acc.png)\n\n";
    if (any_len) md << "![accuracy per length](plots/acc_by_length.png)\n\n";
    if (!S["shift_layers"].empty()) md << "![BatchNorm shift per split](plots/bn_shift.png)\n\n";
    if (!S["batchnorm_layers"].empty()) md << "![BatchNorm drift](plots/drift.png)\n\n";
    if (!S["grad_groups"].empty()) md << "![gradient norm per layer group](plots/grad_norm.png)\n\n";
  } else {
    md << "Plots are missing: " << plots_note << ".\n\n";
  }

  // ---- Per run ----
  md << "## Per run\n\n| variant |" << (swept ? " point |" : "")
     << " seed | status | final step | final train loss | steps to target |";
  for (const auto& sp : S["splits"]) md << " acc " << sp["name"].get<std::string>() << " |";
  md << " seconds |\n|---|" << (swept ? "---|" : "") << "---|---|---|---|---|";
  for (size_t i = 0; i < S["splits"].size(); ++i) md << "---|";
  md << "---|\n";
  for (const auto& v : S["variants"])
    for (size_t pi = 0; pi < n_points; ++pi)
      for (const auto& r : cell(v, pi)["runs"]) {
        md << "| " << v["name"].get<std::string>() << " | " << (swept ? point_name(pi) + " | " : "") << r["seed"] << " | "
           << r["status"].get<std::string>() << " | "
           << (r.contains("final_step") ? fixed(val(r["final_step"]), 0) : "n/a") << " | "
           << (r.contains("final_train_loss") ? sig(val(r["final_train_loss"])) : "n/a") << " | "
           << (r.contains("steps_to_target") && r["steps_to_target"].is_number() ? fixed(val(r["steps_to_target"]), 0) : "-")
           << " |";
        for (const auto& sp : S["splits"]) {
          const std::string s = sp["name"];
          md << " " << (r.contains("eval") && r["eval"].contains(s) ? fixed(val(r["eval"][s]["acc"]), 3) : "n/a") << " |";
        }
        md << " " << (r.contains("seconds") ? fixed(val(r["seconds"]), 1) : "n/a") << " |\n";
      }
  md << "\n";
  return md.str();
}

}  // namespace nl
