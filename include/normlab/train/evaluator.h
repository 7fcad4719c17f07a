// train/evaluator.h — evaluation of a model per split: loss, accuracy, calibration, per
// length, and how far BatchNorm's statistics lie from the split's.
//
// What it is: evaluate() runs the model in eval mode over every evaluation split, in batches
// of eval.batch_size examples, one split at a time or mixed across the splits (eval.order),
// with the norms that have batch statistics normalising by their running statistics, each
// batch's own or the whole split's (eval.bn_stats; docs/math.md, "Evaluation"). Each example
// (classify) or counted token (tag, lm) is scored in its own split: loss, accuracy, the
// confidence of its prediction (ECE, reliability bins, NLL). Nothing in the model changes:
// no weight, buffer or RNG. eval_to_json() is the one JSON form (result.json's "eval",
// `normlab eval --json`).
// What it is not: the training loop (trainer.h), nor the model (nn/).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "normlab/config/config.h"
#include "normlab/data/task.h"
#include "normlab/parallel/comm.h"
#include "normlab/nn/encoder.h"

namespace nl {

// One sequence length of an evaluation split: its examples' counted units (examples for
// classify, real labelled tokens for tag and lm) and the mean loss and accuracy over them.
struct LengthResult {
  int length = 0;            // real symbols, the split's unit (a <bos> prefix not counted)
  int count = 0;
  double loss = 0;
  double accuracy = 0;
};

// One norm layer with batch statistics on one split (docs/math.md, Diagnostics, "Shift").
struct NormShift {
  std::string layer;         // "layers.0.norm1"
  double shift_mean = 0;     // ||mean_split - rm||_2 / D
  double shift_var = 0;      // ||var_split - rv||_2 / D
};

// Calibration (docs/math.md, "Calibration"): a prediction is the argmax of a row of logits,
// its confidence c the largest softmax probability, correct when it is the target.
constexpr int kCalibrationBins = 15;  // equal width over (0, 1]: bin b holds b/15 < c <= (b+1)/15

struct ReliabilityBin {
  double lower = 0, upper = 0;  // the bin's confidence range (lower, upper]
  long long count = 0;          // predictions in the bin
  double accuracy = 0;          // the fraction of them correct (0 when empty)
  double confidence = 0;        // their mean confidence (0 when empty)
};

struct Calibration {
  double ece = 0;                  // sum_b n_b / N * |accuracy_b - confidence_b|
  double nll = 0;                  // mean -log p(target): the split's loss, summed per row in float64
  double confidence = 0;           // mean confidence of all predictions
  double confidence_correct = 0;   // mean confidence of the correct ones (NaN if none)
  double confidence_wrong = 0;     // mean confidence of the wrong ones (NaN if none)
  std::vector<ReliabilityBin> bins;  // kCalibrationBins, ascending
};

// The sums calibration is computed from, kept flat (float64) so one all-reduce adds the
// ranks': per bin {count, correct, sum of confidence}, then sums of confidence over the
// correct and the wrong predictions, then the sum of -log p(target).
class CalibrationSums {
 public:
  CalibrationSums() : v_(3 * kCalibrationBins + 3, 0.0) {}
  void add(double confidence, bool correct, double nll);
  Calibration result() const;
  std::vector<double>& sums() { return v_; }

 private:
  std::vector<double> v_;
};

struct EvalResult {
  std::string split;
  LengthRange lengths;
  bool seen_in_training = false;
  double loss = 0;
  double accuracy = 0;
  int count = 0;             // examples (classify) or real tokens (tag, lm)
  Calibration calibration;
  std::vector<LengthResult> by_length;  // every length present in the split, ascending
  std::vector<NormShift> bn;            // every norm with batch statistics, in model order
                                        // (empty with eval.order = mixed: rows of several
                                        // splits share a forward)
};

// How evaluate() runs (the eval.* keys; eval_options() fills it from a config).
struct EvalOptions {
  int batch_size = 32;
  EvalOrder order = EvalOrder::split;
  // Norms with batch statistics: running statistics, each batch's own, or the split's.
  EvalBnStats bn_stats = EvalBnStats::running;
  // Tokens before the real symbols of each example (<bos>: task_prefix_tokens(task)), so
  // that by_length's lengths are the split's (task.eval_lengths) lengths.
  int prefix_tokens = 0;
};

// eval.batch_size (0: train.batch_size), eval.order, eval.bn_stats and the task's prefix.
EvalOptions eval_options(const Config& cfg);

// Loss, accuracy and calibration per evaluation split and per length, in eval mode, and the
// shift of each batch-statistics norm's split statistics from its running ones
// (EvalResult::bn). With comm, the batches are dealt out over the ranks (batch i to rank
// i % K). The split's loss, accuracy and count are added per batch in batch order: every
// rank gets the same numbers, the same as a single process's. by_length, calibration and the
// shift's moments are sums over ranks (float64; counts exact, the rest to float64 rounding).
std::vector<EvalResult> evaluate(Encoder& model, const std::vector<EvalSplit>& splits,
                                 const EvalOptions& opt, Comm* comm = nullptr);
// The same with running statistics, split order and no <bos> prefix.
std::vector<EvalResult> evaluate(Encoder& model, const std::vector<EvalSplit>& splits,
                                 int batch_size, Comm* comm = nullptr);

// The results as JSON, the one form result.json and `normlab eval --json` share:
// [{"split", "min_len", "max_len", "seen_in_training", "loss", "accuracy", "count",
//   "ece", "nll", "confidence", "confidence_correct", "confidence_wrong",
//   "reliability": [{"lower", "upper", "count", "accuracy", "confidence"}, ...],
//   "by_length": [{"length", "count", "loss", "accuracy"}, ...],
//   "bn": {layer: {"shift_mean", "shift_var"}}}, ...]   ("bn" only with such norms)
// A mean over no predictions (confidence_wrong with every prediction right) is null.
nlohmann::json eval_to_json(const std::vector<EvalResult>& evals);

}  // namespace nl
