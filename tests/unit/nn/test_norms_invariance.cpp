// test_norms_invariance.cpp — invariance: what a norm's output for a real token may depend on.
//  - per-token norms: that token only. Adding padding or changing the other sequences of
//    the batch leaves it bit-identical.
//  - masked batchnorm: the batch's real tokens, never the pads: adding pad positions (with
//    any values) leaves the batch statistics and the outputs bit-identical.
//  - batchnorm_padded (nn.BatchNorm1d on a padded batch): the pads too. This is the damage
//    the layer exists to show: the statistics move with the amount of padding.
//
// What it is not: a check of the values themselves (test_norms_golden.cpp).
#include <catch2/catch.hpp>

#include "testutil/norms.h"

using namespace normtest;

namespace {

const int B = 3, T = 5, D = 6;
const std::vector<int> kLengths = {5, 3, 2};

// x [B,T2,D] equal to x [B,T,D] on t < T, `pad_value` + noise elsewhere (T2 >= T).
nl::Tensor pad_to(const nl::Tensor& x, int T2, float pad_value) {
  nl::Tensor noise = nl::randn({B, T2, D}, 77, 3.0f, false);
  nl::Tensor out = nl::Tensor::empty({B, T2, D});
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T2; ++t)
      for (int d = 0; d < D; ++d)
        out.data()[(b * T2 + t) * D + d] =
            t < T ? x.data()[(b * T + t) * D + d] : pad_value + noise.data()[(b * T2 + t) * D + d];
  return out;
}

// The real tokens' rows of y [B,T',D] (lengths kLengths), sequence by sequence.
std::vector<float> real_rows(const std::vector<float>& y, int T_, int only_b = -1) {
  std::vector<float> out;
  for (int b = 0; b < B; ++b) {
    if (only_b >= 0 && b != only_b) continue;
    for (int t = 0; t < kLengths[b]; ++t)
      for (int d = 0; d < D; ++d) out.push_back(y[(b * T_ + t) * D + d]);
  }
  return out;
}

// dy zero at pads (losses only read real tokens), the same real-token values at any T'.
nl::Tensor real_dy(const nl::Tensor& dy, int T2) {
  nl::Tensor out = pad_to(dy, T2, 0.0f);
  const nl::Tensor keep = keep_from_lengths(kLengths, T2);
  for (int r = 0; r < B * T2; ++r)
    for (int d = 0; d < D; ++d) out.data()[r * D + d] *= keep.data()[r];
  return out;
}

const char* kPerToken[] = {"layernorm", "layernorm_simple", "detachnorm", "rmsnorm", "adanorm", "none"};

}  // namespace

TEST_CASE("per-token norms: real tokens' outputs ignore padding and the other sequences", "[norms]") {
  const nl::Tensor x = pad_to(nl::randn({B, T, D}, 1, 1.0f, false), T, 0.0f);
  const nl::Tensor dy = real_dy(nl::randn({B, T, D}, 2, 1.0f, false), T);
  const nl::Tensor keep = keep_from_lengths(kLengths, T);
  for (const char* type : kPerToken) {
    INFO(type);
    auto norm = make(type, D);
    const Pass base = run(*norm, x, keep, dy);

    // More padding, with large garbage values in it.
    const int T2 = 9;
    const Pass padded = run(*norm, pad_to(x, T2, 50.0f), keep_from_lengths(kLengths, T2), real_dy(dy, T2));
    CHECK(real_rows(padded.y, T2) == real_rows(base.y, T));
    CHECK(real_rows(padded.dx, T2) == real_rows(base.dx, T));

    // Sequence 0 unchanged, sequences 1 and 2 replaced by other data.
    nl::Tensor other = nl::randn({B, T, D}, 3, 4.0f, false);
    for (int i = 0; i < T * D; ++i) other.data()[i] = x.data()[i];
    const Pass changed = run(*norm, other, keep, dy);
    CHECK(real_rows(changed.y, T, 0) == real_rows(base.y, T, 0));
  }
}

TEST_CASE("masked batchnorm: batch statistics and outputs ignore pad positions", "[norms]") {
  const nl::Tensor x = pad_to(nl::randn({B, T, D}, 4, 1.0f, false), T, 0.0f);
  const nl::Tensor dy = real_dy(nl::randn({B, T, D}, 5, 1.0f, false), T);
  auto bn = make("batchnorm", D), bn_more_pads = make("batchnorm", D);
  const Pass base = run(*bn, x, keep_from_lengths(kLengths, T), dy);
  const int T2 = 9;
  const Pass padded = run(*bn_more_pads, pad_to(x, T2, 50.0f), keep_from_lengths(kLengths, T2), real_dy(dy, T2));
  const nl::BatchNormStats &s = *bn->batch_stats(), &s2 = *bn_more_pads->batch_stats();
  CHECK(s.batch_mean == s2.batch_mean);
  CHECK(s.batch_var == s2.batch_var);
  CHECK(s.running_mean == s2.running_mean);
  CHECK(s.running_var == s2.running_var);
  CHECK(real_rows(padded.y, T2) == real_rows(base.y, T));
  CHECK(real_rows(padded.dx, T2) == real_rows(base.dx, T));
  CHECK(padded.dparams == base.dparams);

  // Unlike a per-token norm, a real token's output does depend on the other sequences.
  nl::Tensor other = nl::randn({B, T, D}, 6, 4.0f, false);
  for (int i = 0; i < T * D; ++i) other.data()[i] = x.data()[i];
  auto bn3 = make("batchnorm", D);
  const Pass changed = run(*bn3, other, keep_from_lengths(kLengths, T), dy);
  CHECK(max_abs_diff(real_rows(changed.y, T, 0), real_rows(base.y, T, 0)) > 1e-2f);
}

TEST_CASE("batchnorm_padded: pads move the statistics (the damage nn.BatchNorm1d does)", "[norms]") {
  // With zero pads (an all-zero pad embedding), the padded mean is the real tokens' mean
  // shrunk by N_real / (B*T), and every real token's output moves with the pad count.
  const nl::Tensor x = pad_to(nl::randn({B, T, D}, 7, 1.0f, false), T, 0.0f);
  auto zero_pads = [](nl::Tensor t, const nl::Tensor& keep) {
    for (int r = 0; r < keep.numel(); ++r)
      for (int d = 0; d < D; ++d) t.data()[r * D + d] *= keep.data()[r];
    return t;
  };
  const int T2 = 9;
  const nl::Tensor keep = keep_from_lengths(kLengths, T), keep2 = keep_from_lengths(kLengths, T2);
  const nl::Tensor x1 = zero_pads(x.clone(), keep), x2 = zero_pads(pad_to(x, T2, 0.0f), keep2);
  auto masked = make("batchnorm", D), pad5 = make("batchnorm_padded", D), pad9 = make("batchnorm_padded", D);
  std::vector<float> y5, y9;
  {
    nl::NoGrad ng;
    masked->forward(x1, keep);
    y5 = pad5->forward(x1, keep).to_vector();
    y9 = pad9->forward(x2, keep2).to_vector();
  }
  const int n_real = 5 + 3 + 2;
  for (int d = 0; d < D; ++d) {
    const float mu = masked->batch_stats()->batch_mean[d];
    CHECK(pad5->batch_stats()->batch_mean[d] == Approx(mu * n_real / (B * T)).margin(1e-6));
    CHECK(pad9->batch_stats()->batch_mean[d] == Approx(mu * n_real / (B * T2)).margin(1e-6));
  }
  CHECK(pad5->batch_stats()->batch_var != pad9->batch_stats()->batch_var);
  CHECK(max_abs_diff(real_rows(y5, T), real_rows(y9, T2)) > 1e-2f);
}
