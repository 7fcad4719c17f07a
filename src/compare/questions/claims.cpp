// questions/claims.cpp — research claims that re-check themselves: the config's "claims",
// each a metric, two cells and the expected outcome (a higher / lower than b, or equivalent
// within the metric's margin), tested like any difference (tests.cpp) and judged on the
// exploratory seeds and, with replicate_seeds, on the confirmatory seeds alone: holds,
// fails or inconclusive (tests.cpp claim_status). Rendered as the report's claims table.
#include <ostream>

#include "../questions.h"
#include "../report.h"

using ojson = nlohmann::ordered_json;

namespace nl {

static bool never(const CompareConfig&) { return false; }

static size_t point_index(const std::vector<SweepPoint>& points, const std::string& label) {
  for (size_t i = 0; i < points.size(); ++i)
    if (points[i].label == label) return i;
  return 0;
}

static void add_tests(TestPlan& plan, size_t pi) {
  for (size_t i = 0; i < plan.cc.claims.size(); ++i) {
    const auto& c = plan.cc.claims[i];
    const bool fixed_points = !c.a_point.empty();
    if (fixed_points && pi != 0) continue;
    const size_t pa = fixed_points ? point_index(plan.points, c.a_point) : pi;
    const size_t pb = fixed_points ? point_index(plan.points, c.b_point) : pi;
    const size_t before = plan.tests.size();
    plan.add(c.metric, metric_pointer(c.metric), plan.find(c.a), pa, plan.find(c.b), pb, "claim");
    if (plan.tests.size() > before) plan.tests.back()["claim"] = i;  // which claim it judges
  }
}

// The claims at each neighbour: what each neighbour changes, then one row per claim and one
// column per neighbour (its verdict on the exploratory seeds, with the tested difference).
// The Holm p a verdict rests on: the difference's, and for an expected equivalence TOST's too.
static std::string claim_p(const ojson& c) {
  std::string p = fmt_p(num_or_nan(c.value("p_holm", ojson())));
  if (c.value("expect", "") == "equivalent") p += ", TOST " + fmt_p(num_or_nan(c.value("p_equivalence_holm", ojson())));
  return p;
}

static void render_neighbours(const Report& r, std::ostream& md) {
  const ojson& ns = r.S["neighbours"];
  md << "### Around the base setting (neighbours)\n\nThe cells the claims name, trained again at each neighbour "
        "(the base config with the overrides below) on the exploratory seeds " << r.meta["seeds"].dump()
     << " only, each neighbour's claim tests a Holm family of their own; folders under `neighbours/NAME/`.\n\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& n : ns) {
    std::string ov;
    for (auto it = n["overrides"].begin(); it != n["overrides"].end(); ++it)
      ov += (ov.empty() ? "" : ", ") + std::string("`") + it.key() + "` = `" + it.value().dump() + "`";
    rows.push_back({"`" + n["name"].get<std::string>() + "`", ov});
  }
  md << markdown_table({"neighbour", "overrides of base"}, rows) << "\n";
  std::vector<std::string> header = {"claim"};
  for (const auto& n : ns) header.push_back("`" + n["name"].get<std::string>() + "`");
  rows.clear();
  for (size_t k = 0; k < r.S["tests"]["claims"].size(); ++k) {
    std::vector<std::string> row = {r.S["tests"]["claims"][k]["claim"]};
    for (const auto& n : ns) row.push_back(k < n["tests"]["claims"].size() ? n["tests"]["claims"][k]["exploratory"].get<std::string>() : "not run");
    rows.push_back(row);
  }
  md << markdown_table(header, rows) << "\n";
  rows.clear();
  for (const auto& n : ns)
    for (const auto& c : n["tests"]["claims"]) {
      const Fmt f = c["metric"].get<std::string>().rfind("acc", 0) == 0 ? Fmt::acc : Fmt::loss;
      const ojson& ci = c.value("ci95", ojson());
      const std::string signs = c.contains("signs") ? c["signs"]["higher"].dump() + " / " + c["signs"]["lower"].dump() : "";
      rows.push_back({"`" + n["name"].get<std::string>() + "`", c["claim"], c["metric"],
                      fmt_val(num_or_nan(c.value("diff", ojson())), f) +
                          (ci.is_array() ? " [" + fmt_val(num_or_nan(ci[0]), f) + ", " + fmt_val(num_or_nan(ci[1]), f) + "]" : ""),
                      signs, claim_p(c), c["exploratory"]});
    }
  md << "Each neighbour's tests (a − b, 95% interval; seeds where a is higher / lower; Holm over that neighbour's claims):\n\n"
     << markdown_table({"neighbour", "claim", "metric", "a − b [95% CI]", "higher / lower", "Holm", "verdict"}, rows) << "\n";
}

static void render(const Report& r, std::ostream& md) {
  if (!r.S.contains("tests") || !r.S["tests"].contains("claims") || r.S["tests"]["claims"].empty()) return;
  const bool rep = r.meta.contains("replicate_seeds");
  md << "## Claims\n\nEach claim of the config, judged from its test: *holds* when the difference is detected "
        "the expected way (Holm p < 0.05) or, for an expected equivalence, when TOST shows it within the "
        "margin (even if a negligible difference is detected too); *fails* when the opposite is shown (a "
        "difference the other way, a difference whose 95% CI lies wholly outside the margin where "
        "equivalence was expected, or equivalence where a difference was); *inconclusive* otherwise"
     << (rep ? "; then the same on the confirmatory seeds alone" : "") << ".\n\n";
  std::vector<std::string> header = {"claim", "metric", "a", "b", "expected", "exploratory seeds"};
  if (rep) header.push_back("confirmatory seeds");
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : r.S["tests"]["claims"]) {
    std::vector<std::string> row = {c["claim"], c["metric"], "`" + c["a"].get<std::string>() + "`",
                                    "`" + c["b"].get<std::string>() + "`", c["expect"], c["exploratory"]};
    if (rep) row.push_back(c["confirmatory"]);
    rows.push_back(row);
  }
  md << markdown_table(header, rows) << "\n";
  if (r.S.contains("neighbours") && !r.S["neighbours"].empty()) render_neighbours(r, md);
}

const Question& claims_question() {
  static const Question q{"", never, add_tests, render};
  return q;
}

}  // namespace nl
