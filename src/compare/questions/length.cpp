// questions/length.cpp — accuracy per sequence length (the final evaluation, all splits
// together, lengths pooled into bins of >= 32 examples that never cross the edge of the
// training range; summary.cpp makes the bins). Rendered whenever the runs recorded it.
#include <ostream>

#include "../questions.h"
#include "../report.h"

using ojson = nlohmann::ordered_json;

namespace nl {

static bool never(const CompareConfig&) { return false; }

static void render_point(const Report& r, size_t pi, std::ostream& md) {
  const ojson* first = nullptr;
  for (const auto& v : r.S["variants"])
    if (!r.cell(v, pi)["stats"]["by_length"].empty()) { first = &v; break; }
  if (!first) return;
  const ojson& bins = r.cell(*first, pi)["stats"]["by_length"];
  int tmin = -1, tmax = -1;
  if (r.cell(*first, pi).contains("train_lengths"))
    tmin = r.cell(*first, pi)["train_lengths"][0], tmax = r.cell(*first, pi)["train_lengths"][1];
  std::vector<std::string> header = {"lengths"};
  for (const auto& v : r.S["variants"]) header.push_back(v["name"].get<std::string>());
  std::vector<std::vector<std::string>> rows;
  for (size_t b = 0; b < bins.size(); ++b) {
    const int lo = bins[b]["lo"], hi = bins[b]["hi"];
    std::vector<std::string> row = {std::to_string(lo) + (hi > lo ? ".." + std::to_string(hi) : "") +
                                    (tmin >= 0 ? (lo >= tmin && hi <= tmax ? " (seen)" : " (unseen)") : "")};
    for (const auto& v : r.S["variants"]) {
      const ojson& bl = r.cell(v, pi)["stats"]["by_length"];
      row.push_back(b < bl.size() ? pm(bl[b]["acc"], Fmt::acc) : "n/a");
    }
    rows.push_back(row);
  }
  md << markdown_table(header, rows) << "\n";
}

static void render(const Report& r, std::ostream& md) {
  bool any = false;
  for (const auto& v : r.S["variants"])
    for (size_t pi = 0; pi < r.n_points; ++pi) any |= !r.cell(v, pi)["stats"]["by_length"].empty();
  if (!any) return;
  md << "## Accuracy per length\n\nThe final evaluation per sequence length, all splits together; lengths "
        "with fewer than 32 examples are pooled with their neighbours into bins (never across the edge of the "
        "training range). Mean ± 95% CI over seeds; `seen` = inside the training lengths. Plot: "
        "`plots/acc_by_length.png`.\n\n";
  for (size_t pi = 0; pi < r.n_points; ++pi) {
    md << r.point_heading(pi);
    render_point(r, pi, md);
  }
}

const Question& length_question() {
  static const Question q{"", never, nullptr, render};
  return q;
}

}  // namespace nl
