// questions/overfit.cpp — (a) of Xu et al. 2019, "Understanding and Improving Layer
// Normalization": do LayerNorm's gain and bias over-fit? The generalisation gap (validation
// loss on the seen splits minus final training loss) of the standard norm against the same
// norm without gain and bias (the registry's roles, nn/norm.h). Asked by default when both
// are variants.
#include <ostream>

#include "../questions.h"
#include "normlab/nn/norm.h"
#include "../report.h"

using ojson = nlohmann::ordered_json;

namespace nl {

static bool applies(const CompareConfig& cc) {
  return !variant_of_role(cc, "standard").empty() && !variant_of_role(cc, "without_gain_bias").empty();
}

static void add_tests(TestPlan& plan, size_t pi) {
  if (!plan.asks("overfit")) return;
  plan.add("overfit_gap", "/overfit_gap", plan.find(variant_of_role(plan.cc, "standard")),
           plan.find(variant_of_role(plan.cc, "without_gain_bias")), pi, "overfit");
}

// Per variant: final training loss, validation loss (mean over the seen splits), the gap.
static void render_table(const Report& r, size_t pi, const std::vector<std::string>& seen, std::ostream& md) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& v : r.S["variants"]) {
    std::vector<double> vl;
    for (const auto& run : r.cell(v, pi)["runs"]) {
      if (run["status"] != "finished") continue;
      double s = 0;
      for (const auto& n : seen) s += num_or_nan(run["eval"][n]["loss"]);
      vl.push_back(seen.empty() ? NAN : s / seen.size());
    }
    const ojson& st = r.cell(v, pi)["stats"];
    rows.push_back({v["name"].get<std::string>(), pm(st["final_train_loss"], Fmt::loss), pm(stats_of(vl), Fmt::loss),
                    pm(st["overfit_gap"], Fmt::loss)});
  }
  md << markdown_table({"variant", "final train loss", "validation loss", "gap"}, rows) << "\n";
}

static void render(const Report& r, std::ostream& md) {
  if (!r.asks("overfit")) return;
  const std::string ln = r.role("standard"), simple = r.role("without_gain_bias");
  md << "## (a) Do the gain and bias over-fit? (Xu et al. 2019)\n\nValidation loss is the mean evaluation loss over "
        "the splits whose lengths were seen in training; the gap is validation minus final training loss.\n\n";
  std::vector<std::string> seen;
  for (const auto& sp : r.S["splits"])
    if (r.seen_label(sp) == "seen") seen.push_back(sp["name"]);
  for (size_t pi = 0; pi < r.n_points; ++pi) {
    md << r.point_heading(pi);
    render_table(r, pi, seen, md);
    const ojson* t = r.test("overfit_gap", ln, simple, pi);
    if (t) {
      md << "- Gap of `" << ln << "` (with gain and bias) vs `" << simple << "` (without): "
         << test_words(t, Fmt::loss, "larger", "smaller") << ". "
         << verdict(t, +1, "Xu et al.",
                    {"No answer from these runs.\n", "These runs do not show that gain and bias over-fit.\n",
                     "Gain and bias go with a larger generalisation gap here", "Gain and bias go with a smaller gap here"});
    } else {
      md << "- Needs a " << norm_for_role("standard") << " and a " << norm_for_role("without_gain_bias")
         << " variant to answer.\n";
    }
    md << "\n";
  }
}

const Question& overfit_question() {
  static const Question q{"overfit", applies, add_tests, render};
  return q;
}

}  // namespace nl
