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

// The claims' tests alone on `variants` (a neighbour's cells): one Holm family of their own,
// "list" and "claims" (each claim's verdict as "exploratory"; nothing is replicated).
nlohmann::ordered_json build_claim_tests(const CompareConfig& cc, const std::vector<SweepPoint>& points,
                                         const nlohmann::ordered_json& variants);

}  // namespace nl
