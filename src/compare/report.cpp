// report.md — the markdown report of a comparison, rendered from its summary.json.
//
// What it is: markdown tables (mean ± std per variant) and a few generated sentences that
// say only what the numbers support (see summary.cpp for the definitions of every number).
// What it is not: the numbers themselves (summary.cpp), the runs (runner.cpp) or the
// plots (scripts/plot_compare.py).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "normlab/compare/compare.h"
#include "normlab/error.h"

using ojson = nlohmann::ordered_json;

namespace nl {

static double val(const ojson& j) { return j.is_number() ? j.get<double>() : NAN; }

// ---------------------------------------------------------------------------
// report.md
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

static std::string pm(const ojson& s, Fmt f) {
  if (!s.is_object() || !s["mean"].is_number()) return "n/a";
  std::string out = fmt_val(s["mean"].get<double>(), f);
  if (s["n"].get<int>() > 1) out += " ± " + fmt_val(s["std"].get<double>(), f);
  return out;
}

// How two means compare, in words the numbers support. `higher_better` only picks the words
// "better"/"worse"; the threshold is the combined std sqrt(sa^2 + sb^2) of the two means.
struct Contrast {
  bool known = false;     // both have a mean
  bool noise = false;     // |diff| <= combined std (or below display precision)
  double diff = 0, combined = 0;
  int n_min = 0;
};

static Contrast contrast(const ojson& a, const ojson& b, Fmt f) {
  Contrast c;
  if (!a.is_object() || !b.is_object() || !a["mean"].is_number() || !b["mean"].is_number()) return c;
  c.known = true;
  c.diff = a["mean"].get<double>() - b["mean"].get<double>();
  double sa = val(a["std"]), sb = val(b["std"]);
  c.combined = std::sqrt((std::isfinite(sa) ? sa * sa : 0) + (std::isfinite(sb) ? sb * sb : 0));
  c.n_min = std::min(a["n"].get<int>(), b["n"].get<int>());
  double precision = f == Fmt::acc ? 5e-4 : f == Fmt::steps ? 0.5 : 0.0;
  c.noise = std::fabs(c.diff) <= c.combined || std::fabs(c.diff) < precision;
  return c;
}

static std::string contrast_words(const Contrast& c, Fmt f, const std::string& more, const std::string& less) {
  if (!c.known) return "not comparable (missing values)";
  std::string d = fmt_val(std::fabs(c.diff), f), comb = fmt_val(c.combined, f);
  if (d == comb) {  // rounding hides which is larger: show more digits
    char a[32], b[32];
    std::snprintf(a, sizeof a, "%.4g", std::fabs(c.diff));
    std::snprintf(b, sizeof b, "%.4g", c.combined);
    d = a, comb = b;
  }
  if (c.n_min < 2)
    return (c.diff > 0 ? more : less) + " by " + d + " (one seed: no noise estimate, so no conclusion)";
  if (c.noise) return "within noise (difference " + d + " <= combined std " + comb + ")";
  return (c.diff > 0 ? more : less) + " by " + d + ", more than the combined std " + comb;
}

static const ojson* find_variant(const ojson& S, const std::string& name) {
  for (const auto& v : S["variants"])
    if (v["name"] == name) return &v;
  return nullptr;
}

static std::string seen_label(const ojson& split) {
  if (split["seen"].is_boolean()) return split["seen"].get<bool>() ? "seen" : "unseen";
  return "?";
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

std::string render_report(const ojson& S, const std::string& plots_note) {
  std::ostringstream md;
  const ojson& meta = S["compare"];
  const std::string ref = meta["reference"].get<std::string>();
  const ojson* R = find_variant(S, ref);
  auto has_q = [&](const std::string& q) {
    for (const auto& x : meta["questions"]) if (x == q) return true;
    return false;
  };
  int n_seeds = meta["seeds"].size();

  md << "# " << meta["title"].get<std::string>() << "\n\n";
  if (!meta["description"].get<std::string>().empty()) md << meta["description"].get<std::string>() << "\n\n";
  md << "Generated by `normlab compare " << meta["source"].get<std::string>() << "` into `"
     << meta["out_dir"].get<std::string>() << "`. Base: " << describe_setup(meta["base"]) << " Seeds: "
     << meta["seeds"].dump() << " (each variant sees the same data order and, per seed, the same initial "
     << "values for shared parameters). Target loss: " << sig(meta["target_loss"].get<double>())
     << ". Values are mean ± sample std over the finished seeds.\n\n";

  // Runs that did not finish
  std::ostringstream bad;
  for (const auto& v : S["variants"])
    for (const auto& r : v["runs"])
      if (r["status"] != "finished") {
        bad << "| " << v["name"].get<std::string>() << " | " << r["seed"] << " | " << r["status"].get<std::string>()
            << " | " << (r.contains("exit_code") ? r["exit_code"].dump() : "") << " | "
            << (r.contains("stderr") ? r["stderr"].get<std::string>() : "") << " |\n";
      }
  if (!bad.str().empty()) {
    md << "## Runs without a result\n\nThese are left out of every mean below. Rerun one with "
          "`normlab compare CONFIG --only VARIANT/SEED`.\n\n| variant | seed | status | exit code | last stderr line |\n"
          "|---|---|---|---|---|\n"
       << bad.str() << "\n";
  }

  // Main tables
  md << "## Results\n\n";
  md << "| variant | runs | final train loss | steps to loss <= " << sig(meta["target_loss"].get<double>())
     << " | max grad norm |";
  for (const auto& sp : S["splits"]) md << " acc " << sp["name"].get<std::string>() << " (" << seen_label(sp) << ") |";
  md << "\n|---|---|---|---|---|";
  for (size_t i = 0; i < S["splits"].size(); ++i) md << "---|";
  md << "\n";
  for (const auto& v : S["variants"]) {
    const ojson& st = v["stats"];
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
      md << " " << (v["stats"]["eval"].contains(s) ? pm(v["stats"]["eval"][s]["loss"], Fmt::loss) : "n/a") << " |";
    }
    md << "\n";
  }
  md << "\n";

  // What the numbers show
  md << "## What the numbers show\n\n";
  if (n_seeds < 2)
    md << "With one seed there is no noise estimate: differences below are listed, not interpreted.\n\n";
  md << "A difference is called one only when it is larger than the combined std of the two means "
        "(sqrt(std_a² + std_b²)); with " << n_seeds << " seeds that is a rule of thumb, not a significance test.\n\n";
  if (!R || R->at("stats")["finished"].get<int>() == 0) {
    md << "The reference variant `" << ref << "` has no finished run, so nothing is compared.\n\n";
  } else {
    // Accuracy sentences only when the comparison asks about lengths.
    static const ojson kNoSplits = ojson::array();
    const ojson& length_splits = has_q("length_generalization") ? S["splits"] : kNoSplits;
    for (const auto& sp : length_splits) {
      const std::string s = sp["name"];
      std::string label = seen_label(sp) == "unseen" ? "lengths never seen in training"
                          : seen_label(sp) == "seen" ? "lengths seen in training" : "lengths";
      md << "- Accuracy on " << label << " (`" << s << "`): `" << ref << "` "
         << pm(R->at("stats")["eval"][s]["acc"], Fmt::acc) << ".";
      for (const auto& v : S["variants"]) {
        if (v["name"] == ref || v["stats"]["finished"].get<int>() == 0) continue;
        const ojson& a = v["stats"]["eval"][s]["acc"];
        Contrast c = contrast(a, R->at("stats")["eval"][s]["acc"], Fmt::acc);
        md << " `" << v["name"].get<std::string>() << "` " << pm(a, Fmt::acc) << ": "
           << contrast_words(c, Fmt::acc, "higher", "lower") << ".";
      }
      md << "\n";
    }
    md << "- Final training loss: `" << ref << "` " << pm(R->at("stats")["final_train_loss"], Fmt::loss) << ".";
    for (const auto& v : S["variants"]) {
      if (v["name"] == ref || v["stats"]["finished"].get<int>() == 0) continue;
      Contrast c = contrast(v["stats"]["final_train_loss"], R->at("stats")["final_train_loss"], Fmt::loss);
      md << " `" << v["name"].get<std::string>() << "` " << pm(v["stats"]["final_train_loss"], Fmt::loss) << ": "
         << contrast_words(c, Fmt::loss, "higher", "lower") << ".";
    }
    md << "\n";
    const ojson& rt = R->at("stats")["steps_to_target"];
    md << "- Steps to reach training loss <= " << sig(meta["target_loss"].get<double>()) << ": `" << ref << "` "
       << pm(rt, Fmt::steps) << " (" << rt["reached"] << "/" << rt["of"] << " seeds).";
    for (const auto& v : S["variants"]) {
      if (v["name"] == ref || v["stats"]["finished"].get<int>() == 0) continue;
      const ojson& vt = v["stats"]["steps_to_target"];
      md << " `" << v["name"].get<std::string>() << "` " << pm(vt, Fmt::steps) << " (" << vt["reached"] << "/"
         << vt["of"] << ")";
      // Means over the seeds that reached the target compare only when all of them did.
      if (vt["reached"] == vt["of"] && rt["reached"] == rt["of"] && vt["of"].get<int>() > 0)
        md << ": " << contrast_words(contrast(vt, rt, Fmt::steps), Fmt::steps, "more", "fewer");
      md << ".";
    }
    md << "\n";
    // How much accuracy each variant loses from seen to unseen lengths.
    std::vector<std::string> seen_s, unseen_s;
    for (const auto& sp : length_splits) {
      if (seen_label(sp) == "seen") seen_s.push_back(sp["name"]);
      if (seen_label(sp) == "unseen") unseen_s.push_back(sp["name"]);
    }
    if (!seen_s.empty() && !unseen_s.empty()) {
      md << "- Drop in accuracy from `" << seen_s.front() << "` (seen) to `" << unseen_s.back() << "` (unseen), per variant:";
      for (const auto& v : S["variants"]) {
        if (v["stats"]["finished"].get<int>() == 0) continue;
        std::vector<double> drops;
        for (const auto& r : v["runs"])
          if (r["status"] == "finished" && r.contains("eval"))
            drops.push_back(val(r["eval"][seen_s.front()]["acc"]) - val(r["eval"][unseen_s.back()]["acc"]));
        md << " `" << v["name"].get<std::string>() << "` " << pm(stats_of(drops), Fmt::acc) << ";";
      }
      md << " (larger = worse on unseen lengths.)\n";
    }
    md << "\n";
  }

  // BatchNorm drift
  if (has_q("batchnorm_drift") && !S["batchnorm_layers"].empty()) {
    md << "## BatchNorm statistics drift\n\n`drift_mean = ||mu_B - running_mean||_2 / D`, `drift_var = ||var_B - "
          "running_var||_2 / D` (Shen et al. 2020), per BatchNorm layer: final value (last logged step) and the "
          "average over all logged steps.\n\n| variant | layer | final drift_mean | final drift_var | avg drift_mean | avg drift_var |\n"
          "|---|---|---|---|---|---|\n";
    std::map<std::string, ojson> avg_over_layers;  // variant -> stats of (per-run mean over layers) drift_var_avg
    for (const auto& v : S["variants"]) {
      const ojson& dr = v["stats"]["drift"];
      if (dr.empty()) continue;
      for (auto it = dr.begin(); it != dr.end(); ++it)
        md << "| " << v["name"].get<std::string>() << " | " << it.key() << " | " << pm(it.value()["drift_mean"], Fmt::loss)
           << " | " << pm(it.value()["drift_var"], Fmt::loss) << " | " << pm(it.value()["drift_mean_avg"], Fmt::loss)
           << " | " << pm(it.value()["drift_var_avg"], Fmt::loss) << " |\n";
      for (const char* w : {"drift_mean_avg", "drift_var_avg"}) {
        std::vector<double> per_run;
        for (const auto& r : v["runs"]) {
          if (r["status"] != "finished" || !r.contains("drift") || r["drift"].empty()) continue;
          double s = 0;
          int n = 0;
          for (const auto& d : r["drift"]) s += val(d[w]), ++n;
          per_run.push_back(s / n);
        }
        avg_over_layers[v["name"].get<std::string>() + "/" + w] = stats_of(per_run);
      }
    }
    md << "\n";
    if (avg_over_layers.count("batchnorm/drift_var_avg") && avg_over_layers.count("batchnorm_padded/drift_var_avg")) {
      for (const char* w : {"drift_mean_avg", "drift_var_avg"}) {
        const ojson& a = avg_over_layers[std::string("batchnorm_padded/") + w];
        const ojson& b = avg_over_layers[std::string("batchnorm/") + w];
        Contrast c = contrast(a, b, Fmt::loss);
        md << "- " << (std::string(w) == "drift_mean_avg" ? "Mean-statistic" : "Variance-statistic")
           << " drift averaged over layers and steps: `batchnorm_padded` " << pm(a, Fmt::loss) << " vs `batchnorm` (pads "
           << "excluded) " << pm(b, Fmt::loss) << ": " << contrast_words(c, Fmt::loss, "higher", "lower") << ".\n";
      }
      md << "- Drift is measured on training batches; it says how far the statistics used at evaluation are from "
            "those the layer saw in training, not by itself how much accuracy that costs (compare the tables above).\n\n";
    }
  }

  // Xu et al. 2019 (a): over-fitting of gain and bias
  if (has_q("overfit")) {
    md << "## (a) Do the gain and bias over-fit? (Xu et al. 2019)\n\nValidation loss is the mean evaluation loss over the "
          "splits whose lengths were seen in training; the gap is validation minus final training loss (training loss "
          "is the last log window's mean in train mode).\n\n| variant | final train loss | validation loss | gap |\n|---|---|---|---|\n";
    std::vector<std::string> seen_s;
    for (const auto& sp : S["splits"]) if (seen_label(sp) == "seen") seen_s.push_back(sp["name"]);
    for (const auto& v : S["variants"]) {
      std::vector<double> vl;
      for (const auto& r : v["runs"]) {
        if (r["status"] != "finished") continue;
        double s = 0;
        for (const auto& n : seen_s) s += val(r["eval"][n]["loss"]);
        vl.push_back(seen_s.empty() ? NAN : s / seen_s.size());
      }
      md << "| " << v["name"].get<std::string>() << " | " << pm(v["stats"]["final_train_loss"], Fmt::loss) << " | "
         << pm(stats_of(vl), Fmt::loss) << " | " << pm(v["stats"]["overfit_gap"], Fmt::loss) << " |\n";
    }
    const ojson* ln = find_variant(S, "layernorm");
    const ojson* lns = find_variant(S, "layernorm_simple");
    md << "\n";
    if (ln && lns) {
      Contrast c = contrast(ln->at("stats")["overfit_gap"], lns->at("stats")["overfit_gap"], Fmt::loss);
      md << "- Gap of `layernorm` (with gain and bias) vs `layernorm_simple` (without): "
         << contrast_words(c, Fmt::loss, "larger", "smaller") << ". ";
      if (!c.known) md << "No answer.\n";
      else if (c.n_min < 2) md << "One seed cannot answer this.\n";
      else if (c.noise) md << "At this size the numbers do not show that gain and bias over-fit.\n";
      else if (c.diff > 0) md << "Gain and bias go with a larger generalisation gap here, as Xu et al. report.\n";
      else md << "Gain and bias go with a smaller gap here, the opposite of Xu et al.'s finding.\n";
    } else {
      md << "- Needs variants `layernorm` and `layernorm_simple` to answer.\n";
    }
    md << "\n";
  }

  // Xu et al. 2019 (b): DetachNorm vs LayerNorm-simple
  if (has_q("detach")) {
    md << "## (b) Do the gradients through mean and variance matter? (Xu et al. 2019)\n\n";
    const ojson* d = find_variant(S, "detachnorm");
    const ojson* s = find_variant(S, "layernorm_simple");
    if (d && s) {
      Contrast c = contrast(d->at("stats")["final_train_loss"], s->at("stats")["final_train_loss"], Fmt::loss);
      md << "- Final training loss, `detachnorm` " << pm(d->at("stats")["final_train_loss"], Fmt::loss)
         << " vs `layernorm_simple` " << pm(s->at("stats")["final_train_loss"], Fmt::loss) << ": "
         << contrast_words(c, Fmt::loss, "higher", "lower") << ".\n";
      md << "- Steps to the target loss: `detachnorm` " << pm(d->at("stats")["steps_to_target"], Fmt::steps) << " ("
         << d->at("stats")["steps_to_target"]["reached"] << "/" << d->at("stats")["steps_to_target"]["of"]
         << " reached) vs `layernorm_simple` " << pm(s->at("stats")["steps_to_target"], Fmt::steps) << " ("
         << s->at("stats")["steps_to_target"]["reached"] << "/" << s->at("stats")["steps_to_target"]["of"] << " reached).\n";
      const ojson* none = find_variant(S, "none");
      if (none) {
        Contrast cn = contrast(d->at("stats")["final_train_loss"], none->at("stats")["final_train_loss"], Fmt::loss);
        md << "- `detachnorm` vs `none` (no normalisation), final training loss: "
           << contrast_words(cn, Fmt::loss, "higher", "lower") << ".\n";
      }
      md << "- Answer: ";
      if (!c.known) md << "not answerable (missing runs).\n";
      else if (c.n_min < 2) md << "one seed cannot answer this.\n";
      else if (c.noise) md << "no difference beyond noise in training loss: these numbers do not show that detaching "
                              "the statistics' gradients hurts training at this size.\n";
      else if (c.diff > 0) md << "`detachnorm` trains worse than `layernorm_simple` (same forward, gradients through "
                                 "mean and variance removed), as Xu et al. report.\n";
      else md << "`detachnorm` trains better than `layernorm_simple` here, the opposite of Xu et al.'s finding.\n";
    } else {
      md << "- Needs variants `detachnorm` and `layernorm_simple` to answer.\n";
    }
    md << "\n";
  }

  // Xiong et al. 2020: placement and warmup
  if (has_q("placement")) {
    md << "## Norm placement and warmup (Xiong et al. 2020)\n\nGradient norm per layer group at the first logged step "
          "(mean over seeds), then how training went.\n\n| variant |";
    for (const auto& g : S["grad_groups"]) md << " " << g.get<std::string>() << " |";
    md << " final train loss | steps to target |\n|---|";
    for (size_t i = 0; i < S["grad_groups"].size(); ++i) md << "---|";
    md << "---|---|\n";
    for (const auto& v : S["variants"]) {
      md << "| " << v["name"].get<std::string>() << " |";
      for (const auto& g : S["grad_groups"]) md << " " << pm(v["stats"]["first_grad_norm"][g.get<std::string>()], Fmt::loss) << " |";
      md << " " << pm(v["stats"]["final_train_loss"], Fmt::loss) << " | " << pm(v["stats"]["steps_to_target"], Fmt::steps)
         << " (" << v["stats"]["steps_to_target"]["reached"] << "/" << v["stats"]["steps_to_target"]["of"] << ") |\n";
    }
    md << "\n";
    if (R) {
      for (const auto& v : S["variants"]) {
        if (v["name"] == ref) continue;
        Contrast c = contrast(v["stats"]["final_train_loss"], R->at("stats")["final_train_loss"], Fmt::loss);
        md << "- `" << v["name"].get<std::string>() << "` vs `" << ref << "`, final training loss: "
           << contrast_words(c, Fmt::loss, "higher (worse)", "lower (better)") << ".\n";
      }
      md << "\n";
    }
  }

  // Plots
  md << "## Plots\n\n";
  if (plots_note.empty()) {
    md << "![training loss](plots/loss.png)\n\n![evaluation accuracy by length](plots/eval_acc.png)\n\n";
    if (!S["batchnorm_layers"].empty()) md << "![BatchNorm drift](plots/drift.png)\n\n";
    if (!S["grad_groups"].empty()) md << "![gradient norm per layer group](plots/grad_norm.png)\n\n";
  } else {
    md << "Plots are missing: " << plots_note << ".\n\n";
  }

  // Per run
  md << "## Per run\n\n| variant | seed | status | final step | final train loss | steps to target |";
  for (const auto& sp : S["splits"]) md << " acc " << sp["name"].get<std::string>() << " |";
  md << " seconds |\n|---|---|---|---|---|---|";
  for (size_t i = 0; i < S["splits"].size(); ++i) md << "---|";
  md << "---|\n";
  for (const auto& v : S["variants"])
    for (const auto& r : v["runs"]) {
      md << "| " << v["name"].get<std::string>() << " | " << r["seed"] << " | " << r["status"].get<std::string>() << " | "
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
