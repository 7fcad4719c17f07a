// questions.cpp — the table of research questions (questions.h), in report order. Adding a
// question = one file in questions/ that defines its Question, plus one line here.
#include "questions.h"

#include "normlab/nn/norm.h"

namespace nl {

const std::vector<Question>& questions() {
  static const std::vector<Question> table = {
      differences_question(),  // "length_generalization": every variant vs the reference
      length_question(),       // accuracy per length (whenever recorded)
      calibration_question(),  // ECE, NLL and confidence per split (whenever recorded)
      mechanism_question(),    // BatchNorm shift, jitter, running vs batch statistics
      leak_question(),         // leak_gap: batch vs running statistics on training batches
      drift_question(),        // "batchnorm_drift" (Shen et al. 2020)
      overfit_question(),      // "overfit" (Xu et al. 2019, a)
      detach_question(),       // "detach" (Xu et al. 2019, b)
      placement_question(),    // "placement" (Xiong et al. 2020)
      contrasts_question(),
      claims_question(),       // the config's "claims": holds / fails / inconclusive    // the config's "contrasts": any cell against any cell
  };
  return table;
}

std::vector<std::string> compare_question_names() {
  std::vector<std::string> names;
  for (const Question& q : questions())
    if (!q.name.empty()) names.push_back(q.name);
  return names;
}

std::vector<std::string> questions_that_apply(const CompareConfig& cc) {
  std::vector<std::string> names;
  for (const Question& q : questions())
    if (!q.name.empty() && q.applies(cc)) names.push_back(q.name);
  return names;
}

std::string variant_of_role(const CompareConfig& cc, const std::string& role) {
  return variant_of_norm(cc, norm_for_role(role));
}

}  // namespace nl
