// questions/detach.cpp — (b) of Xu et al. 2019, "Understanding and Improving Layer
// Normalization": do the gradients through the mean and variance matter? DetachNorm
// normalises exactly like LayerNorm-simple but treats mean and std as constants in
// backward; their final training losses are tested, and DetachNorm's against no
// normalisation. The norms are the registry's roles (nn/norm.h). Asked by default when the
// detached and the gain-free norm are variants.
#include <ostream>

#include "../questions.h"
#include "../report.h"
#include "normlab/nn/norm.h"

using ojson = nlohmann::ordered_json;

namespace nl {

static bool applies(const CompareConfig& cc) {
  return !variant_of_role(cc, "detached_statistics").empty() && !variant_of_role(cc, "without_gain_bias").empty();
}

static void add_tests(TestPlan& plan, size_t pi) {
  if (!plan.asks("detach")) return;
  const int detach = plan.find(variant_of_role(plan.cc, "detached_statistics"));
  plan.add("final_train_loss", "/final_train_loss", detach, plan.find(variant_of_role(plan.cc, "without_gain_bias")), pi, "detach");
  plan.add("final_train_loss", "/final_train_loss", detach, plan.find(variant_of_role(plan.cc, "identity")), pi, "detach");
}

static std::string steps(const ojson& st) {
  return pm(st["steps_to_target"], Fmt::steps) + " (" + st["steps_to_target"]["reached"].dump() + "/" +
         st["steps_to_target"]["of"].dump() + " reached)";
}

static void render_point(const Report& r, size_t pi, std::ostream& md) {
  const std::string detach = r.role("detached_statistics"), simple = r.role("without_gain_bias"), none = r.role("identity");
  const ojson* d = r.variant(detach);
  const ojson* s = r.variant(simple);
  const ojson* t = r.test("final_train_loss", detach, simple, pi);
  if (!d || !s || !t) {
    md << "- Needs a " << norm_for_role("detached_statistics") << " and a " << norm_for_role("without_gain_bias")
       << " variant to answer.\n\n";
    return;
  }
  const ojson& ds = r.cell(*d, pi)["stats"];
  const ojson& ss = r.cell(*s, pi)["stats"];
  md << "- Final training loss, `" << detach << "` " << pm(ds["final_train_loss"], Fmt::loss) << " vs `" << simple << "` "
     << pm(ss["final_train_loss"], Fmt::loss) << ": " << test_words(t, Fmt::loss, "higher", "lower") << ".\n";
  md << "- Steps to the target loss: `" << detach << "` " << steps(ds) << " vs `" << simple << "` " << steps(ss) << ".\n";
  if (const ojson* tn = r.test("final_train_loss", detach, none, pi))
    md << "- `" << detach << "` vs `" << none << "` (no normalisation), final training loss: "
       << test_words(tn, Fmt::loss, "higher", "lower") << ".\n";
  md << "- Answer: "
     << verdict(t, +1, "Xu et al.",
                {"not answerable from these runs.\n",
                 "no difference detectable in training loss: these runs do not show that detaching the statistics' "
                 "gradients hurts training at this size.\n",
                 "`" + detach + "` trains worse than `" + simple + "` (same forward, gradients through mean and variance removed)",
                 "`" + detach + "` trains better than `" + simple + "` here"})
     << "\n";
}

static void render(const Report& r, std::ostream& md) {
  if (!r.asks("detach")) return;
  md << "## (b) Do the gradients through mean and variance matter? (Xu et al. 2019)\n\n";
  for (size_t pi = 0; pi < r.n_points; ++pi) {
    md << r.point_heading(pi);
    render_point(r, pi, md);
  }
}

const Question& detach_question() {
  static const Question q{"detach", applies, add_tests, render};
  return q;
}

}  // namespace nl
