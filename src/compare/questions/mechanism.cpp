// questions/mechanism.cpp — why BatchNorm loses on unseen lengths: how far each split's
// statistics are from the running ones (shift), how much the statistics move in training
// (jitter), and what the running statistics cost: variants that differ only in
// eval.bn_stats ("batch" vs running) are tested on every split's accuracy and loss.
// Rendered whenever the runs recorded shift or jitter, or such a pair exists.
#include <algorithm>
#include <cmath>
#include <map>
#include <ostream>

#include "../questions.h"
#include "../report.h"

using ojson = nlohmann::ordered_json;

namespace nl {

static bool never(const CompareConfig&) { return false; }

static void add_tests(TestPlan& plan, size_t pi) {
  const auto& vs = plan.cc.variants;
  for (size_t a = 0; a < vs.size(); ++a)
    for (size_t b = 0; b < vs.size(); ++b) {
      auto d = override_diff(vs[a], vs[b]);
      // a: batch statistics; b: running statistics (unset or "running"; not "split", AdaBN,
      // which is a statistics of its own and is compared through `contrasts`)
      if (d.size() != 1 || d.begin()->first != "eval.bn_stats") continue;
      const auto& [bn_a, bn_b] = d.begin()->second;
      if (bn_a != "\"batch\"" || !(bn_b.empty() || bn_b == "\"running\"")) continue;
      for (const auto& s : plan.splits) {
        plan.add("acc " + s, "/eval/" + json_pointer_escape(s) + "/acc", (int)a, (int)b, pi, "bn_stats");
        plan.add("loss " + s, "/eval/" + json_pointer_escape(s) + "/loss", (int)a, (int)b, pi, "bn_stats");
      }
    }
}

static void render_shift(const Report& r, std::ostream& md) {
  md << "## BatchNorm: running statistics vs each split's own statistics\n\n"
        "`shift_mean`, `shift_var` per BatchNorm layer and evaluation split: how far the split's masked "
        "mean and variance of the layer's input are from the running statistics used at evaluation "
        "(defined like the drift columns). Final evaluation, mean ± 95% CI over seeds. Plot: "
        "`plots/bn_shift.png`.\n\n";
  std::vector<std::string> header = {"variant", "layer"};
  for (const auto& sp : r.S["splits"])
    header.push_back("shift_mean " + sp["name"].get<std::string>() + " (" + r.seen_label(sp) + ")");
  for (const auto& sp : r.S["splits"]) header.push_back("shift_var " + sp["name"].get<std::string>());
  for (size_t pi = 0; pi < r.n_points; ++pi) {
    md << r.point_heading(pi);
    std::vector<std::vector<std::string>> rows;
    for (const auto& v : r.S["variants"]) {
      const ojson& sh = r.cell(v, pi)["stats"]["bn_shift"];
      for (auto it = sh.begin(); it != sh.end(); ++it) {
        std::vector<std::string> row = {v["name"].get<std::string>(), it.key()};
        for (const char* w : {"shift_mean", "shift_var"})
          for (const auto& sp : r.S["splits"]) {
            const std::string s = sp["name"];
            row.push_back(it.value().contains(s) ? pm(it.value()[s][w], Fmt::loss) : "n/a");
          }
        rows.push_back(row);
      }
    }
    md << markdown_table(header, rows) << "\n";
  }
}

static void render_jitter(const Report& r, std::ostream& md) {
  md << "## BatchNorm jitter in training\n\nThe std over logged training steps of the batch mean (`mean_std`) "
        "and variance (`var_std`) per BatchNorm layer (per feature, averaged over features): how much the "
        "statistics a layer normalises with move over training, batch-to-batch noise plus their drift as "
        "the weights train (so compare it between runs of the same steps and schedule). PowerNorm: its "
        "quadratic mean as `var_std`, `mean_std` 0. Mean ± 95% CI over seeds.\n\n";
  std::vector<std::string> header = {"variant", "layer"};
  for (const char* w : {"mean_std", "var_std"})
    for (size_t pi = 0; pi < r.n_points; ++pi) header.push_back(w + (r.swept ? " " + r.point_name(pi) : ""));
  std::vector<std::vector<std::string>> rows;
  for (const auto& v : r.S["variants"])
    for (const auto& layer : r.S["jitter_layers"]) {
      const std::string L = layer;
      bool any = false;
      for (size_t pi = 0; pi < r.n_points; ++pi) any |= r.cell(v, pi)["stats"]["bn_jitter"].contains(L);
      if (!any) continue;
      std::vector<std::string> row = {v["name"].get<std::string>(), L};
      for (const char* w : {"mean_std", "var_std"})
        for (size_t pi = 0; pi < r.n_points; ++pi) {
          const ojson& jt = r.cell(v, pi)["stats"]["bn_jitter"];
          row.push_back(jt.contains(L) ? pm(jt[L][w], Fmt::loss) : "n/a");
        }
      rows.push_back(row);
    }
  md << markdown_table(header, rows) << "\n";
}

// One pair's table at one point: per split the loss gap to the reference with running and
// with batch statistics, the share batch statistics remove, and the batch-vs-running test.
static void render_cost_pair(const Report& r, size_t pi, const std::string& batch, const std::string& running,
                             std::ostream& md) {
  const ojson* B = r.variant(batch);
  const ojson* Rn = r.variant(running);
  if (!B || !Rn || !r.R) return;
  std::vector<std::vector<std::string>> rows;
  for (const auto& sp : r.S["splits"]) {
    const std::string s = sp["name"];
    const std::string p = "/eval/" + json_pointer_escape(s) + "/loss/mean";
    const double lr = num_or_nan(at_path(r.cell(*r.R, pi)["stats"], p));
    const double ln = num_or_nan(at_path(r.cell(*Rn, pi)["stats"], p));
    const double lb = num_or_nan(at_path(r.cell(*B, pi)["stats"], p));
    const double gn = ln - lr, gb = lb - lr;
    const std::string share = std::isfinite(gn) && gn > 0 ? fixed(100 * (gn - gb) / gn, 0) + "%" : "n/a";
    rows.push_back({s + " (" + r.seen_label(sp) + ")", sig(lr), sig(ln), sig(lb), sig(gn), sig(gb), share,
                    test_words(r.test("loss " + s, batch, running, pi), Fmt::loss, "higher", "lower")});
  }
  md << "`" << running << "` (running) vs `" << batch << "` (batch):\n\n"
     << markdown_table({"split", "loss " + r.ref, "loss running", "loss batch", "gap running", "gap batch",
                        "share removed", "batch vs running"}, rows)
     << "\n";
}

static void render_cost(const Report& r, std::ostream& md) {
  // Pairs (with batch statistics, with running statistics) that differ only in eval.bn_stats.
  std::vector<std::pair<std::string, std::string>> pairs;
  if (r.S.contains("tests"))
    for (const auto& t : r.S["tests"]["list"])
      if (t["why"] == "bn_stats") {
        std::pair<std::string, std::string> p = {t["variant"], t["against"]};
        if (std::find(pairs.begin(), pairs.end(), p) == pairs.end()) pairs.push_back(p);
      }
  if (pairs.empty()) return;
  md << "## What the running statistics cost\n\nVariants that differ only in `eval.bn_stats`: `batch` "
        "normalises each evaluation batch with its own statistics instead of the running ones. "
        "Per split, the loss gap of the running-statistics variant to `" << r.ref << "`, the gap with batch "
        "statistics, and the share of the gap that batch statistics remove, "
        "`(gap_running - gap_batch) / gap_running` (computed from the means; only meaningful when "
        "gap_running is clearly above zero).\n\n";
  for (size_t pi = 0; pi < r.n_points; ++pi) {
    md << r.point_heading(pi);
    for (const auto& [batch, running] : pairs) render_cost_pair(r, pi, batch, running, md);
  }
}

static void render(const Report& r, std::ostream& md) {
  if (!r.S["shift_layers"].empty()) render_shift(r, md);
  if (!r.S["jitter_layers"].empty()) render_jitter(r, md);
  render_cost(r, md);
}

const Question& mechanism_question() {
  static const Question q{"", never, add_tests, render};
  return q;
}

}  // namespace nl
