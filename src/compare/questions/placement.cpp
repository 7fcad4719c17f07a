// questions/placement.cpp — norm placement and warmup (Xiong et al. 2020, "On Layer
// Normalization in the Transformer Architecture"): post-norm's gradients near the output are
// large at initialisation, so it needs warmup, while pre-norm trains without it. Gradient
// norm per layer group at the first logged step, then how training went. Asked by name only.
#include <ostream>

#include "../questions.h"
#include "../report.h"

using ojson = nlohmann::ordered_json;

namespace nl {

static bool never(const CompareConfig&) { return false; }

static void render(const Report& r, std::ostream& md) {
  if (!r.asks("placement")) return;
  md << "## Norm placement and warmup (Xiong et al. 2020)\n\nGradient norm per layer group at the first logged "
        "step (mean ± 95% CI over seeds), then how training went (training-loss tests against `" << r.ref
     << "` are in the section above).\n\n";
  std::vector<std::string> header = {"variant"};
  for (const auto& g : r.S["grad_groups"]) header.push_back(g.get<std::string>());
  header.insert(header.end(), {"final train loss", "steps to target"});
  for (size_t pi = 0; pi < r.n_points; ++pi) {
    md << r.point_heading(pi);
    std::vector<std::vector<std::string>> rows;
    for (const auto& v : r.S["variants"]) {
      const ojson& st = r.cell(v, pi)["stats"];
      std::vector<std::string> row = {v["name"].get<std::string>()};
      for (const auto& g : r.S["grad_groups"]) row.push_back(pm(st["first_grad_norm"][g.get<std::string>()], Fmt::loss));
      row.push_back(pm(st["final_train_loss"], Fmt::loss));
      row.push_back(pm(st["steps_to_target"], Fmt::steps) + " (" + st["steps_to_target"]["reached"].dump() + "/" +
                    st["steps_to_target"]["of"].dump() + ")");
      rows.push_back(row);
    }
    md << markdown_table(header, rows) << "\n";
  }
}

const Question& placement_question() {
  static const Question q{"placement", never, nullptr, render};
  return q;
}

}  // namespace nl
