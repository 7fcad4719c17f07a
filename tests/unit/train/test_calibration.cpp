// test_calibration.cpp — expected calibration error, confidences and NLL per evaluation split.
//
// What it checks: CalibrationSums against a small case computed by hand (bins, ECE, the
// confidences of right and wrong predictions, NLL); its properties (perfectly calibrated ->
// 0, always right at confidence 1 -> 0, always wrong at confidence c -> c); and evaluate()'s
// numbers against a direct computation from one forward of the whole split (softmax by hand):
// mean confidence, the reliability bins adding up to the split's count and accuracy, NLL equal
// to the split's loss (the same cross-entropy), and the JSON field names result.json carries.
// What it does not check: evaluation batching (test_eval_controls.cpp).
#include <catch2/catch.hpp>

#include <cmath>
#include <numeric>

#include "normlab/core/autograd.h"
#include "normlab/config/config.h"
#include "normlab/data/task.h"
#include "normlab/nn/encoder.h"
#include "normlab/train/evaluator.h"

TEST_CASE("ECE of a small case computed by hand", "[calibration]") {
  nl::CalibrationSums s;
  // confidence, correct, -log p(target)
  s.add(0.9, true, 0.1);    // bin 13: (13/15, 14/15] = (0.867, 0.933]
  s.add(0.9, false, 2.0);   // bin 13
  s.add(0.5, true, 0.7);    // bin 7: (0.467, 0.533]
  s.add(0.25, false, 1.6);  // bin 3: (0.2, 0.267]
  const nl::Calibration c = s.result();
  REQUIRE(c.bins.size() == 15);
  CHECK(c.bins[13].count == 2);
  CHECK(c.bins[13].accuracy == 0.5);
  CHECK(c.bins[13].confidence == Approx(0.9));
  CHECK(c.bins[7].count == 1);
  CHECK(c.bins[3].count == 1);
  CHECK(c.bins[3].accuracy == 0.0);
  CHECK(c.bins[0].count == 0);
  CHECK(c.bins[0].lower == 0.0);
  CHECK(c.bins[14].upper == 1.0);
  // ECE = 2/4 |0.5 - 0.9| + 1/4 |1 - 0.5| + 1/4 |0 - 0.25| = 0.2 + 0.125 + 0.0625
  CHECK(c.ece == Approx(0.3875).epsilon(1e-12));
  CHECK(c.confidence == Approx((0.9 + 0.9 + 0.5 + 0.25) / 4));
  CHECK(c.confidence_correct == Approx((0.9 + 0.5) / 2));
  CHECK(c.confidence_wrong == Approx((0.9 + 0.25) / 2));
  CHECK(c.nll == Approx((0.1 + 2.0 + 0.7 + 1.6) / 4));
}

TEST_CASE("ECE properties: calibrated -> 0, always right at 1 -> 0, always wrong at c -> c", "[calibration]") {
  nl::CalibrationSums calibrated;  // 7 of 10 right at 0.7, 1 of 4 right at 0.25
  for (int i = 0; i < 10; ++i) calibrated.add(0.7, i < 7, 0.3);
  for (int i = 0; i < 4; ++i) calibrated.add(0.25, i < 1, 1.4);
  CHECK(calibrated.result().ece == Approx(0.0).margin(1e-12));

  nl::CalibrationSums sure;
  for (int i = 0; i < 5; ++i) sure.add(1.0, true, 0.0);
  CHECK(sure.result().ece == 0.0);
  CHECK(sure.result().bins[14].count == 5);  // 1.0 is in the last bin (14/15, 1]
  CHECK(std::isnan(sure.result().confidence_wrong));

  nl::CalibrationSums wrong;
  for (int i = 0; i < 5; ++i) wrong.add(0.6, false, 2.0);
  CHECK(wrong.result().ece == Approx(0.6));
  CHECK(std::isnan(wrong.result().confidence_correct));

  CHECK(nl::CalibrationSums().result().ece == 0.0);  // nothing scored
}

TEST_CASE("evaluate: confidence, reliability bins and NLL per split, against one direct forward", "[calibration][eval]") {
  for (const std::string task : {"majority", "sort"}) {  // classify: per example; tag: per token
    INFO(task);
    nl::Config c = nl::load_config(std::string(NORMLAB_SOURCE_DIR) + "/configs/tiny.json");
    c.task.name = task;
    c.task.train_size = 16;
    c.task.eval_size = 30;
    c.task.eval_lengths = {{3, 9}, {10, 20}};
    c.task.train_lengths = {3, 9};
    c.model.init_std = 0.5f;  // confident, often wrong: many bins in use
    c.train.threads = 1;
    const nl::TaskData data = nl::make_task(c.task, c.train.seed);
    nl::Encoder model(c.model, data.head, data.vocab, data.n_classes, c.train.seed, nl::exec_options(c.train));
    nl::EvalOptions opt;
    opt.batch_size = 8;
    const std::vector<nl::EvalResult> evals = nl::evaluate(model, data.evals, opt);
    const nlohmann::json j = nl::eval_to_json(evals);
    for (size_t si = 0; si < data.evals.size(); ++si) {
      const nl::EvalSplit& split = data.evals[si];
      const nl::EvalResult& e = evals[si];
      INFO(split.name);
      // The whole split in one forward; softmax per counted row by hand (float64).
      nl::NoGrad ng;
      model.set_training(false);
      std::vector<int> idx(split.data.examples.size());
      std::iota(idx.begin(), idx.end(), 0);
      const nl::Batch b = nl::make_batch(split.data, idx, model.head());
      const nl::Tensor logits = model.forward(b);
      const int C = logits.dim(1);
      double conf = 0, nll = 0;
      int n = 0, right = 0;
      for (int r = 0; r < logits.dim(0); ++r) {
        if (b.targets[r] < 0) continue;
        const float* z = logits.data() + (size_t)r * C;
        double m = z[0], sum = 0;
        int best = 0;
        for (int k = 1; k < C; ++k)
          if (z[k] > z[best]) best = k, m = z[k];
        for (int k = 0; k < C; ++k) sum += std::exp((double)z[k] - m);
        conf += 1.0 / sum;  // exp(z_best - m) / sum
        nll += std::log(sum) - ((double)z[b.targets[r]] - m);
        right += best == b.targets[r];
        ++n;
      }
      REQUIRE(n == e.count);
      CHECK(e.calibration.confidence == Approx(conf / n).epsilon(1e-5));
      CHECK(e.calibration.nll == Approx(nll / n).epsilon(1e-5));
      CHECK(e.calibration.nll == Approx(e.loss).epsilon(1e-6));  // the loss is this cross-entropy
      long long in_bins = 0;
      double right_in_bins = 0, conf_in_bins = 0;
      int used = 0;
      for (const nl::ReliabilityBin& bin : e.calibration.bins) {
        in_bins += bin.count;
        right_in_bins += bin.count * bin.accuracy;
        conf_in_bins += bin.count * bin.confidence;
        used += bin.count > 0;
        if (bin.count > 0) {
          CHECK(bin.confidence > bin.lower);
          CHECK(bin.confidence <= bin.upper + 1e-12);
        }
      }
      CHECK(used >= 3);
      CHECK(in_bins == e.count);
      CHECK(std::lround(right_in_bins) == std::lround(e.accuracy * e.count));
      CHECK(conf_in_bins / in_bins == Approx(e.calibration.confidence).epsilon(1e-12));
      CHECK(e.calibration.ece > 0);
      CHECK(e.calibration.ece <= 1);
      // mean confidence = right's and wrong's means, weighted by their counts
      CHECK(e.calibration.confidence * n == Approx(e.calibration.confidence_correct * right +
                                                    e.calibration.confidence_wrong * (n - right)).epsilon(1e-9));
      // result.json / `normlab eval --json` field names
      for (const char* key : {"ece", "nll", "confidence", "confidence_correct", "confidence_wrong", "reliability"})
        CHECK(j[si].contains(key));
      REQUIRE(j[si]["reliability"].size() == 15);
      for (const char* key : {"lower", "upper", "count", "accuracy", "confidence"})
        CHECK(j[si]["reliability"][0].contains(key));
      CHECK(j[si]["ece"].get<double>() == e.calibration.ece);
    }
  }
}
