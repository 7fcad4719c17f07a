// train/metrics_schema.h — the names of what a run folder records, written once for the
// trainer that writes them and for compare, which reads them back.
//
// What it is: the columns of metrics.csv (one row per logged step; per-split, per-layer and
// per-group columns carry a prefix and the split, layer or group name) and the per-split
// numbers of result.json's "eval" entries that a comparison summarises generically.
// What it is not: the writer (train/trainer.cpp) nor the reader (compare/records.cpp).
//
// metrics.csv columns, in file order:
//   step, loss, lr, grad_norm, tokens_per_s
//   eval_loss/<split>, eval_acc/<split>      empty on rows without an evaluation
//   drift_mean/<layer>, drift_var/<layer>    BatchNorm-like layers only
//   grad_norm/<group>                        gradient norm per layer group
#pragma once

namespace nl {
namespace metrics_schema {

inline constexpr const char* kStep = "step";
inline constexpr const char* kLoss = "loss";
inline constexpr const char* kLr = "lr";
inline constexpr const char* kGradNorm = "grad_norm";
inline constexpr const char* kTokensPerS = "tokens_per_s";

inline constexpr const char* kEvalLoss = "eval_loss/";   // + split
inline constexpr const char* kEvalAcc = "eval_acc/";     // + split
inline constexpr const char* kDriftMean = "drift_mean/"; // + layer
inline constexpr const char* kDriftVar = "drift_var/";   // + layer
inline constexpr const char* kGroupGradNorm = "grad_norm/";  // + group

// Per-split numbers of result.json's eval entries that compare copies into summary.json
// (per run, and their mean and interval per cell) whenever a run records them: add a name
// here and it flows into every comparison's summary without other changes.
inline constexpr const char* kSplitExtras[] = {"ece", "nll", "confidence", "confidence_correct",
                                               "confidence_wrong"};

}  // namespace metrics_schema
}  // namespace nl
