// questions/contrasts.cpp — any cell against any cell: the config's "contrasts", each a pair
// of cells "VARIANT" (at every sweep point) or "VARIANT/POINT" (e.g. batchnorm at ranks=2 vs
// batchnorm at ranks=1, or batchnorm_batchstats vs batchnorm), tested on the final training
// loss and each split's accuracy and loss.
#include <ostream>

#include "../questions.h"
#include "../report.h"

using ojson = nlohmann::ordered_json;

namespace nl {

static bool never(const CompareConfig&) { return false; }

// The metrics of a contrast: label, test metric, pointer into a run and into a cell's stats.
struct ContrastMetric {
  std::string label, metric, pointer;
  Fmt fmt;
};

static std::vector<ContrastMetric> contrast_metrics(const std::vector<std::string>& splits) {
  std::vector<ContrastMetric> m = {{"final train loss", "final_train_loss", "/final_train_loss", Fmt::loss}};
  for (const auto& s : splits) {
    m.push_back({"accuracy " + s, "acc " + s, "/eval/" + json_pointer_escape(s) + "/acc", Fmt::acc});
    m.push_back({"eval loss " + s, "loss " + s, "/eval/" + json_pointer_escape(s) + "/loss", Fmt::loss});
  }
  return m;
}

static size_t point_index(const std::vector<SweepPoint>& points, const std::string& label) {
  for (size_t i = 0; i < points.size(); ++i)
    if (points[i].label == label) return i;
  return 0;
}

static void add_tests(TestPlan& plan, size_t pi) {
  for (const auto& k : plan.cc.contrasts) {
    const bool fixed_points = !k.a_point.empty();
    if (fixed_points && pi != 0) continue;  // a contrast between two named points is one test per metric
    const size_t pa = fixed_points ? point_index(plan.points, k.a_point) : pi;
    const size_t pb = fixed_points ? point_index(plan.points, k.b_point) : pi;
    for (const auto& m : contrast_metrics(plan.splits))
      plan.add(m.metric, m.pointer, plan.find(k.a), pa, plan.find(k.b), pb, "contrast");
  }
}

static size_t point_of(const Report& r, const std::string& label) {
  for (size_t i = 0; i < r.n_points; ++i)
    if (r.S["points"][i]["label"] == label) return i;
  return 0;
}

static void render_pair(const Report& r, const ojson& k, size_t pa, size_t pb, std::ostream& md) {
  const ojson* A = r.variant(k["a"]);
  const ojson* B = r.variant(k["b"]);
  if (!A || !B) return;
  std::vector<std::string> splits;
  for (const auto& sp : r.S["splits"]) splits.push_back(sp["name"]);
  const std::string a = k["a"], b = k["b"];
  const std::string la = a + (r.swept ? "/" + r.point_name(pa) : ""), lb = b + (r.swept ? "/" + r.point_name(pb) : "");
  md << "`" << la << "` vs `" << lb << "`:\n\n";
  for (const auto& m : contrast_metrics(splits)) {
    const ojson* t = r.test_between(m.metric, a, pa, b, pb);
    const std::string stats_path = m.pointer;  // the cell stats use the same path as the runs
    md << "- " << m.label << ": `" << la << "` " << pm(at_path(r.cell(*A, pa)["stats"], stats_path), m.fmt) << " vs `"
       << lb << "` " << pm(at_path(r.cell(*B, pb)["stats"], stats_path), m.fmt) << ": "
       << test_words(t, m.fmt, "higher", "lower") << ".\n";
  }
  md << "\n";
}

static void render(const Report& r, std::ostream& md) {
  if (!r.meta.contains("contrasts") || r.meta["contrasts"].empty()) return;
  md << "## Contrasts\n\nThe comparisons the config asks for, cell against cell (tests in the same Holm family "
        "as every other test of this report).\n\n";
  for (const auto& k : r.meta["contrasts"]) {
    if (!k["a_point"].get<std::string>().empty()) {
      render_pair(r, k, point_of(r, k["a_point"]), point_of(r, k["b_point"]), md);
      continue;
    }
    for (size_t pi = 0; pi < r.n_points; ++pi) render_pair(r, k, pi, pi, md);
  }
}

const Question& contrasts_question() {
  static const Question q{"", never, add_tests, render};
  return q;
}

}  // namespace nl
