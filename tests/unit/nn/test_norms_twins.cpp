// test_norms_twins.cpp — fused norm kernels == their plain twins composed from autograd
// primitives (ops.h).
// A norm built with the kernel set `reference` runs its `composed` path; both paths must
// give the same outputs, input and parameter gradients, and BatchNorm statistics, on a
// dense and a padded batch, in training and in eval mode.
//
// What it is not: a check that either path is right (test_norms_golden.cpp and the
// gradient checks do that), only that they agree.
#include <catch2/catch.hpp>

#include "testutil/norms.h"

using namespace normtest;

namespace {

struct Result {
  Pass pass;
  std::vector<float> batch_mean, batch_var, running_mean, running_var;
};

// A fresh layer with parameters moved off their init (same values each call), one
// training step on other data when `training` is false (so running stats are not 0 / 1),
// then one forward + backward.
Result run_path(const std::string& type, bool reference, bool padded, bool training) {
  const int B = 3, T = 6, D = 40;  // more than one feature tile, the last one partial
  auto norm = make(type, D, reference ? nl::KernelSet::reference : nl::KernelSet::fast);
  uint64_t seed = 50;
  for (auto& p : norm->named_parameters()) {
    nl::Tensor r = nl::randn(p.tensor.shape(), seed++, 0.5f, false);
    for (int64_t i = 0; i < p.tensor.numel(); ++i) p.tensor.data()[i] += r.data()[i];
  }
  const nl::Tensor keep = padded ? keep_from_lengths({6, 4, 2}, T) : keep_from_lengths({6, 6, 6}, T);
  if (!training) {
    nl::NoGrad ng;
    norm->forward(nl::randn({B, T, D}, 60, 2.0f, false), keep);
    norm->set_training(false);
  }
  const nl::Tensor x = nl::randn({B, T, D}, 61, 1.5f, false);   // pads hold random values too
  const nl::Tensor dy = nl::randn({B, T, D}, 62, 1.0f, false);  // and get upstream gradient
  Result r{run(*norm, x, keep, dy), {}, {}, {}, {}};
  if (const nl::BatchNormStats* s = norm->batch_stats()) {
    r.batch_mean = s->batch_mean;
    r.batch_var = s->batch_var;
    r.running_mean = s->running_mean;
    r.running_var = s->running_var;
  }
  return r;
}

}  // namespace

TEST_CASE("fused norm kernels agree with their composed twins", "[norms]") {
  for (const std::string& type : nl::norm_types()) {
    const bool has_eval = make(type, 4)->batch_stats() != nullptr;  // running statistics
    for (bool padded : {false, true}) {
      for (bool training : {true, false}) {
        if (!training && !has_eval) continue;
        INFO(type << (padded ? " padded" : " dense") << (training ? " train" : " eval"));
        const Result fused = run_path(type, false, padded, training);
        const Result plain = run_path(type, true, padded, training);
        INFO("y max diff " << max_abs_diff(fused.pass.y, plain.pass.y) << ", dx max diff "
                           << max_abs_diff(fused.pass.dx, plain.pass.dx));
        CHECK(max_abs_diff(fused.pass.y, plain.pass.y) < 1e-5f);
        CHECK(max_abs_diff(fused.pass.dx, plain.pass.dx) < 1e-5f);
        REQUIRE(fused.pass.dparams.size() == plain.pass.dparams.size());
        for (size_t i = 0; i < fused.pass.dparams.size(); ++i)
          CHECK(max_abs_diff(fused.pass.dparams[i], plain.pass.dparams[i]) < 2e-5f);
        CHECK(max_abs_diff(fused.batch_mean, plain.batch_mean) < 1e-6f);
        CHECK(max_abs_diff(fused.batch_var, plain.batch_var) < 1e-5f);
        CHECK(max_abs_diff(fused.running_mean, plain.running_mean) < 1e-6f);
        CHECK(max_abs_diff(fused.running_var, plain.running_var) < 1e-5f);
        // The gradients are not trivially zero (the comparison means something).
        float biggest = 0;
        for (float v : fused.pass.dx) biggest = std::max(biggest, std::fabs(v));
        CHECK(biggest > 0.1f);
      }
    }
  }
}
