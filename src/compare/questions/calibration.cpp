// questions/calibration.cpp — are the models right as often, and how sure are they? The
// per-split numbers a run's result.json records beyond loss and accuracy
// (train/metrics_schema.h kSplitExtras: expected calibration error over 15 equal-width bins,
// NLL, mean confidence, and mean confidence on correct and on wrong predictions), one table
// per number, mean ± 95% CI over seeds. Rendered whenever the runs recorded them.
#include <ostream>

#include "../questions.h"
#include "../report.h"
#include "normlab/train/metrics_schema.h"

using ojson = nlohmann::ordered_json;

namespace nl {

static bool never(const CompareConfig&) { return false; }

// Whether any cell has `name` for some split.
static bool recorded(const Report& r, const std::string& name) {
  for (const auto& v : r.S["variants"])
    for (size_t pi = 0; pi < r.n_points; ++pi)
      for (const auto& [split, e] : r.cell(v, pi)["stats"]["eval"].items())
        if (e.contains(name) && e[name]["n"].get<int>() > 0) return true;
  return false;
}

static void render_metric(const Report& r, const std::string& name, std::ostream& md) {
  std::vector<std::string> header = {"variant"};
  for (size_t pi = 0; pi < r.n_points; ++pi)
    for (const auto& sp : r.S["splits"])
      header.push_back(sp["name"].get<std::string>() + " (" + r.seen_label(sp) + ")" +
                       (r.swept ? " " + r.point_name(pi) : ""));
  std::vector<std::vector<std::string>> rows;
  for (const auto& v : r.S["variants"]) {
    std::vector<std::string> row = {v["name"].get<std::string>()};
    for (size_t pi = 0; pi < r.n_points; ++pi)
      for (const auto& sp : r.S["splits"]) {
        const ojson& e = r.cell(v, pi)["stats"]["eval"];
        const std::string s = sp["name"];
        row.push_back(e.contains(s) && e[s].contains(name) ? pm(e[s][name], Fmt::acc) : "n/a");
      }
    rows.push_back(row);
  }
  md << "### " << name << "\n\n" << markdown_table(header, rows) << "\n";
}

static void render(const Report& r, std::ostream& md) {
  bool any = false;
  for (const char* x : metrics_schema::kSplitExtras) any |= recorded(r, x);
  if (!any) return;
  md << "## Calibration\n\nPer split, from each run's final evaluation: `ece` (expected calibration error, 15 "
        "equal-width confidence bins), `nll` (mean negative log-likelihood of the right answer), `confidence` "
        "(mean largest softmax probability), and `confidence_correct` / `confidence_wrong` (the same over the "
        "right and over the wrong predictions). Mean ± 95% CI over seeds; no test.\n\n";
  for (const char* x : metrics_schema::kSplitExtras)
    if (recorded(r, x)) render_metric(r, x, md);
}

const Question& calibration_question() {
  static const Question q{"", never, nullptr, render};
  return q;
}

}  // namespace nl
