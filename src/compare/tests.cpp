// compare/tests.cpp — the tests of a comparison: each question's, collected into one list
// with one Holm family (questions.h).
//
// What it is: TestPlan::add runs one test (stats.cpp) on the finished runs of two cells and
// records it as summary.json writes it; build_tests asks every question for its tests at
// every sweep point, then Holm-corrects over all of them.
// What it is not: the statistics themselves (stats.cpp) nor their words (report.cpp).
#include <algorithm>
#include <cmath>

#include "questions.h"
#include "summary.h"

using ojson = nlohmann::ordered_json;

namespace nl {

static ojson num(double v) { return std::isfinite(v) ? ojson(v) : ojson(nullptr); }

int TestPlan::find(const std::string& name) const {
  for (size_t i = 0; i < cc.variants.size(); ++i)
    if (cc.variants[i].name == name) return (int)i;
  return -1;
}

bool TestPlan::asks(const std::string& q) const {
  return std::find(cc.questions.begin(), cc.questions.end(), q) != cc.questions.end();
}

void TestPlan::add(const std::string& metric, const std::string& pointer, int a, int b, size_t pi,
                   const std::string& why) {
  if (a < 0 || b < 0 || a == b) return;
  const ojson& ra = variants[a]["points"][pi]["runs"];
  const ojson& rb = variants[b]["points"][pi]["runs"];
  WelchTest w = welch_test(collect_runs(ra, pointer), collect_runs(rb, pointer));
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
}

ojson build_tests(const CompareConfig& cc, const std::vector<SweepPoint>& points, const ojson& variants,
                  const std::vector<std::string>& splits) {
  TestPlan plan{cc, points, variants, splits};
  for (size_t pi = 0; pi < points.size(); ++pi)
    for (const Question& q : questions())
      if (q.add_tests) q.add_tests(plan, pi);
  ojson& tests = plan.tests;
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
  return T;
}

}  // namespace nl
