// questions/leak.cpp — what the batch's statistics were worth on the training batches: each
// run's leak_gap (train/leak.h; docs/math.md, "Causal BatchNorm leakage"), the final model's
// loss on its first training batches through a training forward (the statistics training
// used) and through an evaluation forward (running statistics), and the gap, running minus
// training. In a causal model (head `lm`) training-mode BatchNorm's statistics include later
// tokens of the same sentence, so the gap holds what seeing the future was worth; in a
// non-causal model it is only batch vs running statistics. Mean ± 95% CI over the
// exploratory seeds and, apart, over the confirmatory ones (summary.cpp); no test.
// Rendered whenever the runs recorded it.
#include <ostream>

#include "../questions.h"
#include "../report.h"

using ojson = nlohmann::ordered_json;

namespace nl {

static bool never(const CompareConfig&) { return false; }

static bool recorded(const Report& r) {
  for (const auto& v : r.S["variants"])
    for (size_t pi = 0; pi < r.n_points; ++pi)
      if (r.cell(v, pi)["stats"].contains("leak_gap") && !r.cell(v, pi)["stats"]["leak_gap"].is_null()) return true;
  return false;
}

// "n/a" when a cell has no leak_gap (none of its runs recorded one).
static std::string gap_entry(const ojson& cell_leak, const char* name) {
  return cell_leak.is_object() ? pm(cell_leak[name], Fmt::loss) : "n/a";
}

static void render_point(const Report& r, size_t pi, bool replicated, std::ostream& md) {
  std::vector<std::string> header = {"variant", "loss, batch statistics", "loss, running statistics",
                                     "gap " + r.meta["seeds"].dump()};
  if (replicated) header.push_back("gap " + r.meta["replicate_seeds"].dump());
  std::vector<std::vector<std::string>> rows;
  for (const auto& v : r.S["variants"]) {
    const ojson& P = r.cell(v, pi);
    const ojson lg = P["stats"].value("leak_gap", ojson(nullptr));
    std::vector<std::string> row = {v["name"].get<std::string>(), gap_entry(lg, "loss_train_stats"),
                                    gap_entry(lg, "loss_running_stats"), gap_entry(lg, "gap")};
    if (replicated)
      row.push_back(gap_entry(P.contains("replicate_stats") ? P["replicate_stats"].value("leak_gap", ojson(nullptr))
                                                            : ojson(nullptr),
                              "gap"));
    rows.push_back(row);
  }
  md << markdown_table(header, rows) << "\n";
}

static void render(const Report& r, std::ostream& md) {
  if (!recorded(r)) return;
  const bool replicated = r.meta.contains("replicate_seeds");
  md << "## Batch vs running statistics on the training batches (leak_gap)\n\nEach run's final model on the "
        "first training batches (at most 16, those its first epoch began with), through a training forward "
        "(loss with batch statistics: what training saw) and through an evaluation forward (loss with running "
        "statistics: what is deployed); gap = running minus batch. In a causal model (head `lm`) training-mode "
        "BatchNorm's statistics include later tokens of the same sentence, so the gap holds what seeing the "
        "future was worth; in a non-causal model it is only batch vs running statistics. Exactly 0 for norms "
        "without batch statistics. Mean ± 95% CI over seeds"
     << (replicated ? ", the gap also over the confirmatory seeds alone" : "") << "; no test.\n\n";
  for (size_t pi = 0; pi < r.n_points; ++pi) {
    md << r.point_heading(pi);
    render_point(r, pi, replicated, md);
  }
}

const Question& leak_question() {
  static const Question q{"", never, nullptr, render};
  return q;
}

}  // namespace nl
