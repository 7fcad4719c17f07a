// compare/summary.h — the stages behind summarize_compare (private to src/compare).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "normlab/compare/compare.h"

namespace nl {

// The "tests" object of summary.json: every question's tests at every point, Holm over all.
nlohmann::ordered_json build_tests(const CompareConfig& cc, const std::vector<SweepPoint>& points,
                                   const nlohmann::ordered_json& variants, const std::vector<std::string>& splits);

}  // namespace nl
