// compare/questions.h — the research questions a comparison answers, as data (private to
// src/compare; questions.cpp registers them, one file each under questions/).
//
// What it is: a Question says when a config asks it by default (applies), which tests it
// adds per sweep point (add_tests; stats.cpp computes them, tests.cpp collects them into one
// Holm family) and the report section it renders (render; report.h formats). Sections with
// no name are always rendered when their data exist (the differences against the reference,
// accuracy per length, BatchNorm's shift); named ones when the config's "questions" lists
// them. Paper conclusions are stated through verdict() (report.h).
// What it is not: statistics (stats.cpp) nor number formatting (report.cpp).
#pragma once
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "normlab/compare/compare.h"

namespace nl {

struct Report;  // report.h

// The tests of one summary, built question by question (tests.cpp).
struct TestPlan {
  const CompareConfig& cc;
  const std::vector<SweepPoint>& points;
  const nlohmann::ordered_json& variants;  // summary.json "variants" (runs per point)
  std::vector<std::string> splits;
  nlohmann::ordered_json tests = nlohmann::ordered_json::array();

  int find(const std::string& variant) const;  // index in cc.variants, -1 if absent
  bool asks(const std::string& question) const;
  // Tests the number at `pointer` of every finished run: variant a vs variant b at point pi.
  void add(const std::string& metric, const std::string& pointer, int a, int b, size_t pi, const std::string& why);
  // The same, between two points (contrasts).
  void add(const std::string& metric, const std::string& pointer, int a, size_t pa, int b, size_t pb,
           const std::string& why);
};

struct Question {
  std::string name;                                  // "" for a section without a name
  bool (*applies)(const CompareConfig& cc);          // asked when a config lists no questions
  void (*add_tests)(TestPlan& plan, size_t point);   // nullptr: adds none
  void (*render)(const Report& r, std::ostream& md); // nullptr: renders nothing
};

// Every question, in report order.
const std::vector<Question>& questions();
// The named questions that apply to cc, in report order (its default "questions").
std::vector<std::string> questions_that_apply(const CompareConfig& cc);

// One per file in questions/.
const Question& differences_question();
const Question& length_question();
const Question& mechanism_question();
const Question& drift_question();
const Question& overfit_question();
const Question& detach_question();
const Question& placement_question();
const Question& contrasts_question();
const Question& calibration_question();
const Question& claims_question();
const Question& leak_question();

// The pointer into a run of a test's metric name ("acc S" -> /eval/S/acc).
std::string metric_pointer(const std::string& metric);

// The replication section (questions/replication.cpp), rendered before the results.
void render_replication(const Report& r, std::ostream& md);

// The overrides of a and b that differ, as key -> (a's, b's) JSON text ("" when one lacks it).
std::map<std::string, std::pair<std::string, std::string>> override_diff(const CompareVariant& a,
                                                                         const CompareVariant& b);

// Whether two variants differ only in eval.* keys (one trained model, evaluated twice).
bool eval_twins(const CompareVariant& a, const CompareVariant& b);

// The variant standing for a norm role (nn/norm.h norm_for_role) in cc, "" if none.
std::string variant_of_role(const CompareConfig& cc, const std::string& role);

}  // namespace nl
