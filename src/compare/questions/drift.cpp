// questions/drift.cpp — BatchNorm statistics drift in training (Shen et al. 2020,
// "PowerNorm: Rethinking Batch Normalization in Transformers"): how far each training
// batch's statistics are from the running ones. Asked by default when a variant's norm keeps
// batch statistics (the norm registry's trait, nn/norm.h).
#include <ostream>

#include "../questions.h"
#include "../report.h"

using ojson = nlohmann::ordered_json;

namespace nl {

static bool applies(const CompareConfig& cc) {
  for (const auto& v : cc.variants)
    if (v.batch_stats) return true;
  return false;
}

static void render(const Report& r, std::ostream& md) {
  if (!r.asks("batchnorm_drift") || r.S["batchnorm_layers"].empty()) return;
  md << "## BatchNorm statistics drift in training\n\n`drift_mean = ||mu_B - running_mean||_2 / D`, `drift_var = "
        "||var_B - running_var||_2 / D` (Shen et al. 2020) on training batches, per BatchNorm layer: final value "
        "(last logged step) and the average over all logged steps.\n\n";
  for (size_t pi = 0; pi < r.n_points; ++pi) {
    md << r.point_heading(pi);
    std::vector<std::vector<std::string>> rows;
    for (const auto& v : r.S["variants"]) {
      const ojson& dr = r.cell(v, pi)["stats"]["drift"];
      for (auto it = dr.begin(); it != dr.end(); ++it)
        rows.push_back({v["name"].get<std::string>(), it.key(), pm(it.value()["drift_mean"], Fmt::loss),
                        pm(it.value()["drift_var"], Fmt::loss), pm(it.value()["drift_mean_avg"], Fmt::loss),
                        pm(it.value()["drift_var_avg"], Fmt::loss)});
    }
    md << markdown_table({"variant", "layer", "final drift_mean", "final drift_var", "avg drift_mean", "avg drift_var"}, rows)
       << "\n";
  }
}

const Question& drift_question() {
  static const Question q{"batchnorm_drift", applies, nullptr, render};
  return q;
}

}  // namespace nl
