// test_norms.cpp — properties of the norms that docs/math.md and the papers state, checked on random data:
// AdaNorm's detached factor, LayerNorm-simple's zero-mean input gradient, DetachNorm's
// dx = dy / sqrt(var + eps), "LayerNorm is BatchNorm on the transposed matrix", BatchNorm's
// train/eval and running statistics, names, defaults, errors, determinism.
//
// What it is not: the gradient checks (registered in nn/norms/, run by test_gradcheck.cpp)
// nor the comparison with PyTorch's values (test_norms_golden.cpp).
#include <catch2/catch.hpp>

#include <stdexcept>

#include "testutil/norms.h"
#include "normlab/core/error.h"

using namespace normtest;

namespace {

nl::Tensor ones_keep(int B, int T) { return nl::Tensor::full({B, T}, 1.0f); }

}  // namespace

TEST_CASE("adanorm: the factor (1 - k*y) is detached from the gradient", "[norms]") {
  const int B = 2, T = 5, D = 8;
  nl::NormConfig cfg;
  cfg.type = "adanorm";
  cfg.settings["adanorm_C"] = 1.5f;
  cfg.settings["adanorm_k"] = 0.2f;
  auto ada = nl::make_norm(cfg, D);
  // The same layer with C = 1, k = 0 computes y itself.
  nl::NormConfig plain = cfg;
  plain.settings["adanorm_C"] = 1.0f;
  plain.settings["adanorm_k"] = 0.0f;
  auto ynorm = nl::make_norm(plain, D);

  const nl::Tensor x = nl::randn({B, T, D}, 1, 1.0f, false);
  const nl::Tensor dy = nl::randn({B, T, D}, 2, 1.0f, false);
  const nl::Tensor keep = ones_keep(B, T);
  const Pass a = run(*ada, x, keep, dy);
  std::vector<float> y0;
  {
    nl::NoGrad ng;
    y0 = ynorm->forward(x, keep).to_vector();
  }
  // z = C (1 - k y) y: the forward holds the factor.
  for (size_t i = 0; i < y0.size(); ++i)
    CHECK(a.y[i] == Approx(1.5f * (1 - 0.2f * y0[i]) * y0[i]).margin(1e-6));
  // Held constant, the factor just scales the upstream gradient of y: dz -> dz * C (1 - k y0).
  nl::Tensor dy_frozen = nl::Tensor::empty(dy.shape()), dy_full = nl::Tensor::empty(dy.shape());
  for (int64_t i = 0; i < dy.numel(); ++i) {
    dy_frozen.data()[i] = dy.data()[i] * 1.5f * (1 - 0.2f * y0[i]);
    dy_full.data()[i] = dy.data()[i] * 1.5f * (1 - 2 * 0.2f * y0[i]);  // d/dy of C(y - k y^2)
  }
  const Pass frozen = run(*ynorm, x, keep, dy_frozen);
  const Pass full = run(*ynorm, x, keep, dy_full);
  CHECK(max_abs_diff(a.dx, frozen.dx) < 1e-5f);
  // ...and it is not the gradient with the factor differentiated (the test can fail).
  CHECK(max_abs_diff(a.dx, full.dx) > 1e-2f);
}

TEST_CASE("layernorm_simple: the input gradient has zero mean over each token's features", "[norms]") {
  // Xu et al. 2019: the path through the mean re-centres the gradient. DetachNorm cuts that
  // path, so its gradient does not have this property (the check below can fail).
  const int B = 3, T = 4, D = 16;
  const nl::Tensor x = nl::randn({B, T, D}, 3, 2.0f, false);
  const nl::Tensor dy = nl::randn({B, T, D}, 4, 1.0f, false);
  auto row_mean_max = [&](const std::string& type) {
    auto norm = make(type, D);
    const Pass p = run(*norm, x, ones_keep(B, T), dy);
    float worst = 0;
    for (int r = 0; r < B * T; ++r) {
      double s = 0;
      for (int d = 0; d < D; ++d) s += p.dx[r * D + d];
      worst = std::max(worst, (float)std::fabs(s / D));
    }
    return worst;
  };
  CHECK(row_mean_max("layernorm_simple") < 1e-6f);
  CHECK(row_mean_max("detachnorm") > 1e-2f);
}

TEST_CASE("detachnorm: dx = dy / sqrt(var + eps), mean and std treated as constants", "[norms]") {
  const int B = 2, T = 3, D = 10;
  const nl::Tensor x = nl::randn({B, T, D}, 5, 3.0f, false);
  const nl::Tensor dy = nl::randn({B, T, D}, 6, 1.0f, false);
  auto norm = make("detachnorm", D);
  const Pass p = run(*norm, x, ones_keep(B, T), dy);
  for (int r = 0; r < B * T; ++r) {
    double mu = 0, var = 0;
    for (int d = 0; d < D; ++d) mu += x.data()[r * D + d];
    mu /= D;
    for (int d = 0; d < D; ++d) var += (x.data()[r * D + d] - mu) * (x.data()[r * D + d] - mu);
    var /= D;
    for (int d = 0; d < D; ++d) {
      const double want = dy.data()[r * D + d] / std::sqrt(var + 1e-5);
      CHECK(p.dx[r * D + d] == Approx(want).epsilon(1e-6).margin(1e-7));
    }
  }
  // Forward: the same as layernorm_simple, bit for bit.
  auto simple = make("layernorm_simple", D);
  CHECK(run(*simple, x, ones_keep(B, T), dy).y == p.y);
}

TEST_CASE("layernorm_simple(x) is training-mode batchnorm of x^T, transposed back", "[norms]") {
  // LayerNorm normalises rows (each token across features), BatchNorm columns (each feature
  // across tokens). BatchNorm with g = 1, b = 0 (its init: no affine) on the transposed
  // matrix is LayerNorm-simple: outputs and input gradients agree.
  const int N = 7, D = 12;
  const nl::Tensor x = nl::randn({1, N, D}, 7, 2.0f, false);
  const nl::Tensor dy = nl::randn({1, N, D}, 8, 1.0f, false);
  auto T = [](const nl::Tensor& a, int rows, int cols) {  // [1,rows,cols] -> [1,cols,rows]
    nl::Tensor t = nl::Tensor::empty({1, cols, rows});
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j) t.data()[j * rows + i] = a.data()[i * cols + j];
    return t;
  };
  auto ln = make("layernorm_simple", D);
  auto bn = make("batchnorm", N);  // N features: one per token of x
  const Pass pl = run(*ln, x, ones_keep(1, N), dy);
  const Pass pb = run(*bn, T(x, N, D), ones_keep(1, D), T(dy, N, D));
  const std::vector<float> y_back = T(nl::Tensor::from(pb.y, {1, D, N}), D, N).to_vector();
  const std::vector<float> dx_back = T(nl::Tensor::from(pb.dx, {1, D, N}), D, N).to_vector();
  CHECK(max_abs_diff(pl.y, y_back) < 1e-5f);
  CHECK(max_abs_diff(pl.dx, dx_back) < 1e-5f);
  // Not a tautology: LayerNorm-simple on x^T (rows and columns swapped) is something else.
  auto ln_t = make("layernorm_simple", N);
  nl::NoGrad ng;
  CHECK(max_abs_diff(ln_t->forward(T(x, N, D), ones_keep(1, D)).to_vector(), pb.y) > 0.1f);
}

TEST_CASE("batchnorm: running statistics, eval mode and the diagnostics", "[norms]") {
  const int B = 2, T = 6, D = 4;
  nl::NormConfig cfg;
  cfg.type = "batchnorm";
  cfg.momentum = 0.25f;
  auto bn = nl::make_norm(cfg, D);
  REQUIRE(bn->batch_stats() != nullptr);
  CHECK(bn->batch_stats()->batch_mean.empty());
  CHECK(bn->batch_stats()->drift_mean() == 0.0f);

  const nl::Tensor keep = keep_from_lengths({6, 3}, T);  // N = 9 real tokens
  const nl::Tensor x = nl::randn({B, T, D}, 9, 2.0f, false);
  for (int i = 0; i < 2; ++i) {
    nl::NoGrad ng;
    bn->forward(x, keep);
  }
  // Two steps of rm = (1-m) rm + m mu, rv = (1-m) rv + m var N/(N-1), from 0 / 1.
  const nl::BatchNormStats& s = *bn->batch_stats();
  for (int d = 0; d < D; ++d) {
    double mu = 0, var = 0;
    for (int r = 0; r < B * T; ++r)
      if (keep.data()[r] != 0) mu += x.data()[r * D + d];
    mu /= 9;
    for (int r = 0; r < B * T; ++r)
      if (keep.data()[r] != 0) var += std::pow(x.data()[r * D + d] - mu, 2);
    var /= 9;
    CHECK(s.batch_mean[d] == Approx(mu).margin(1e-6));
    CHECK(s.batch_var[d] == Approx(var).epsilon(1e-5));
    const double rm = 0.25 * mu * (1 + 0.75), rv = 0.75 * (0.75 * 1 + 0.25 * var * 9 / 8) + 0.25 * var * 9 / 8;
    CHECK(s.running_mean[d] == Approx(rm).margin(1e-6));
    CHECK(s.running_var[d] == Approx(rv).epsilon(1e-5));
    CHECK(bn->named_buffers()[0].tensor.data()[d] == s.running_mean[d]);
  }
  // drift_mean = ||mu_B - rm||_2 / D
  double sq = 0;
  for (int d = 0; d < D; ++d) sq += std::pow(s.batch_mean[d] - s.running_mean[d], 2);
  CHECK(s.drift_mean() == Approx(std::sqrt(sq) / D).epsilon(1e-5));
  nl::BatchNormStats manual;
  manual.batch_mean = {1, 2};
  manual.running_mean = {0, 0};
  manual.batch_var = {1, 1};
  manual.running_var = {4, 5};
  CHECK(manual.drift_mean() == Approx(std::sqrt(5.0) / 2));
  CHECK(manual.drift_var() == Approx(5.0 / 2));

  // Eval: normalises with the running statistics, changes neither them nor the diagnostics;
  // pads output 0.
  const std::vector<float> rm = s.running_mean, rv = s.running_var;
  bn->set_training(false);
  std::vector<float> y;
  {
    nl::NoGrad ng;
    y = bn->forward(x, keep).to_vector();
  }
  CHECK(bn->named_buffers()[0].tensor.to_vector() == rm);
  CHECK(bn->named_buffers()[1].tensor.to_vector() == rv);
  CHECK(bn->batch_stats()->running_mean == rm);
  for (int r = 0; r < B * T; ++r)
    for (int d = 0; d < D; ++d) {
      const float want = keep.data()[r] != 0 ? (x.data()[r * D + d] - rm[d]) / std::sqrt(rv[d] + 1e-5f) : 0.0f;
      CHECK(y[r * D + d] == Approx(want).margin(1e-5));
    }
}

TEST_CASE("masked batchnorm: pad rows get no gradient and their dy is ignored", "[norms]") {
  const int B = 2, T = 5, D = 3;
  const nl::Tensor keep = keep_from_lengths({5, 2}, T);
  const nl::Tensor x = nl::randn({B, T, D}, 10, 1.0f, false);
  nl::Tensor dy = nl::randn({B, T, D}, 11, 1.0f, false);
  nl::Tensor dy_real = dy.clone();
  for (int r = 0; r < B * T; ++r)
    for (int d = 0; d < D; ++d) dy_real.data()[r * D + d] *= keep.data()[r];
  for (bool training : {true, false}) {
    INFO("training " << training);
    auto bn = make("batchnorm", D);
    bn->set_training(training);
    const Pass a = run(*bn, x, keep, dy), b = run(*bn, x, keep, dy_real);
    for (int r = 0; r < B * T; ++r)
      for (int d = 0; d < D; ++d)
        if (keep.data()[r] == 0) {
          CHECK(a.dx[r * D + d] == 0.0f);
          CHECK(a.y[r * D + d] == 0.0f);
        }
    CHECK(a.dx == b.dx);
    CHECK(a.dparams == b.dparams);
  }
}

TEST_CASE("batchnorm: training on fewer than 2 real tokens is a user error", "[norms]") {
  auto bn = make("batchnorm", 4);
  const nl::Tensor x = nl::randn({2, 3, 4}, 12, 1.0f, false);
  CHECK_THROWS_AS(bn->forward(x, keep_from_lengths({1, 0}, 3)), nl::UserError);
  CHECK_NOTHROW(bn->forward(x, keep_from_lengths({1, 1}, 3)));
  bn->set_training(false);  // eval needs no batch statistics
  CHECK_NOTHROW(bn->forward(x, keep_from_lengths({1, 0}, 3)));
}

TEST_CASE("norms: parameters, buffers and their names", "[norms]") {
  auto names = [](const std::vector<nl::NamedTensor>& v) {
    std::vector<std::string> n;
    for (const auto& t : v) {
      n.push_back(t.name);
      CHECK(t.no_decay);
    }
    return n;
  };
  std::vector<nl::NamedTensor> out;
  make("layernorm", 8)->parameters("layers.0.norm1", out);
  CHECK(names(out) == std::vector<std::string>{"layers.0.norm1.weight", "layers.0.norm1.bias"});
  CHECK(names(make("rmsnorm", 8)->named_parameters()) == std::vector<std::string>{"weight"});
  CHECK(names(make("batchnorm", 8)->named_parameters()) == std::vector<std::string>{"weight", "bias"});
  CHECK(names(make("batchnorm_padded", 8)->named_parameters()) == std::vector<std::string>{"weight", "bias"});
  for (const char* t : {"layernorm_simple", "detachnorm", "adanorm", "none"}) {
    CHECK(make(t, 8)->named_parameters().empty());
    CHECK(make(t, 8)->named_buffers().empty());
  }
  std::vector<nl::NamedTensor> bufs;
  make("batchnorm", 8)->buffers("final_norm", bufs);
  REQUIRE(bufs.size() == 2);
  CHECK(bufs[0].name == "final_norm.running_mean");
  CHECK(bufs[1].name == "final_norm.running_var");
  CHECK(bufs[0].tensor.to_vector() == std::vector<float>(8, 0.0f));
  CHECK(bufs[1].tensor.to_vector() == std::vector<float>(8, 1.0f));
  CHECK_FALSE(bufs[0].tensor.requires_grad());
  for (const std::string& t : nl::norm_types()) CHECK(make(t, 8)->type() == t);
}

TEST_CASE("norms: eps defaults per type and cfg.eps overrides them", "[norms]") {
  // x = (+a, -a) with a = 1e-3: var = mean x^2 = 1e-6, comparable to eps, so eps shows.
  const nl::Tensor x = nl::Tensor::from({1e-3f, -1e-3f}, {1, 1, 2});
  auto y0 = [&](const std::string& type, float eps) {
    nl::NormConfig cfg;
    cfg.type = type;
    cfg.eps = eps;
    nl::NoGrad ng;
    return nl::make_norm(cfg, 2)->forward(x, nl::Tensor()).data()[0];
  };
  CHECK(y0("layernorm", -1) == Approx(1e-3 / std::sqrt(1e-6 + 1e-5)));
  CHECK(y0("layernorm_simple", -1) == Approx(1e-3 / std::sqrt(1e-6 + 1e-5)));
  CHECK(y0("detachnorm", -1) == Approx(1e-3 / std::sqrt(1e-6 + 1e-5)));
  CHECK(y0("rmsnorm", -1) == Approx(1e-3 / std::sqrt(1e-6 + 1e-6)));
  CHECK(y0("layernorm", 1e-6f) == Approx(1e-3 / std::sqrt(1e-6 + 1e-6)));
  CHECK(y0("rmsnorm", 1e-5f) == Approx(1e-3 / std::sqrt(1e-6 + 1e-5)));
  // AdaNorm: unbiased std s = sqrt(2e-6 / 1), eps added to s.
  const double s = std::sqrt(2e-6), ya = 1e-3 / (s + 1e-5);
  CHECK(y0("adanorm", -1) == Approx((1 - 0.1 * ya) * ya));
}

TEST_CASE("norms: errors name the norm and the shapes; unknown types list the known ones", "[norms]") {
  nl::NormConfig cfg;
  cfg.type = "batchnrom";
  try {
    nl::make_norm(cfg, 8);
    FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    CHECK(msg.find("'batchnrom'") != std::string::npos);
    for (const std::string& t : nl::norm_types()) CHECK(msg.find(t) != std::string::npos);
  }
  for (const std::string& t : nl::norm_types()) {
    INFO(t);
    auto norm = make(t, 8);
    try {
      norm->forward(nl::Tensor::zeros({2, 3, 5}), nl::Tensor::full({2, 3}, 1.0f));
      FAIL("no exception");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()).rfind(t + ": x is [2,3,5]", 0) == 0);
    }
    try {
      norm->forward(nl::Tensor::zeros({2, 3, 8}), nl::Tensor::full({3, 2}, 1.0f));
      FAIL("no exception");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()).rfind(t + ": keep is [3,2] but x is [2,3,8]", 0) == 0);
    }
  }
  cfg.type = "adanorm";
  CHECK_THROWS_AS(nl::make_norm(cfg, 1), std::invalid_argument);
}

TEST_CASE("norms: results do not depend on the thread count", "[norms]") {
  // Every sum has one owner (rows or features per thread, fixed order): bit-identical.
  const int B = 4, T = 16, D = 80;  // 2.5 feature tiles (kernels::kFeatureTile = 32)
  const nl::Tensor x = nl::randn({B, T, D}, 13, 1.0f, false);
  const nl::Tensor dy = nl::randn({B, T, D}, 14, 1.0f, false);
  const nl::Tensor keep = keep_from_lengths({16, 9, 3, 12}, T);
  const int saved = nl::num_threads();
  for (const std::string& t : nl::norm_types()) {
    INFO(t);
    auto a = make(t, D), b = make(t, D);
    nl::set_num_threads(1);
    const Pass p1 = run(*a, x, keep, dy);
    nl::set_num_threads(3);
    const Pass p3 = run(*b, x, keep, dy);
    CHECK(p1.y == p3.y);
    CHECK(p1.dx == p3.dx);
    CHECK(p1.dparams == p3.dparams);
  }
  nl::set_num_threads(saved);
}
