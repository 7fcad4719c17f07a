// train/jitter.h — how much a norm's batch statistics move over training (result.json's
// bn_jitter).
//
// What it is: BatchStatsJitter, the float64 sums behind docs/math.md's Diagnostics,
// "Jitter", added at every logged step, and their text form in a checkpoint's metadata.
// What it is not: the drift of one step (nn/norm.h, BatchNormStats) nor the shift over an
// evaluation split (evaluator.h).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "normlab/nn/norm.h"

namespace nl {

// The spread of each batch-statistics norm's batch statistics over the logged training
// steps (docs/math.md, Diagnostics, "Jitter"): per feature the std over logged steps of the
// batch mean (and of the batch variance), averaged over the features. Accumulated in
// float64 around the first logged value; its state goes into checkpoints, so a resumed run
// reports exactly what an uninterrupted one does.
class BatchStatsJitter {
 public:
  // Adds one logged step of `layer` (its batch_stats() after the step's last training forward).
  void add(const std::string& layer, const BatchNormStats& st);
  // {layer: {"mean_std", "var_std", "steps"}} in the order layers were first added.
  nlohmann::json to_json() const;
  // One checkpoint __metadata__ value (all of the state, every double with 17 digits), and back.
  std::string to_string() const;
  // Throws UserError naming `what` when `text` is not what to_string() writes.
  void from_string(const std::string& text, const std::string& what);

 private:
  struct Sums {
    std::string layer;
    long long n = 0;                          // logged steps
    std::vector<double> ref_mean, ref_var;    // the first logged values: the shift of the sums
    std::vector<double> s_mean, ss_mean;      // sum (mean - ref), sum (mean - ref)^2 per feature
    std::vector<double> s_var, ss_var;
  };
  std::vector<Sums> layers_;
};

}  // namespace nl
