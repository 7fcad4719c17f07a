// test_powernorm.cpp — PowerNorm's documented behaviour (src/nn/norms/powernorm.cpp): the
// forward with the batch's or the running quadratic mean, the running update with its warmup,
// PowerFunction's approximate backward recomputed here in double from the formulas, eval mode,
// pads that count for nothing, and checkpoints that resume bit-identically.
//
// What it is not: the gradient check of its exact parts (`normlab gradcheck`, norm/powernorm/*,
// run by test_gradcheck.cpp) or the fused-vs-composed agreement (test_norms_twins.cpp).
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>

#include "testutil/norms.h"
#include "normlab/config/config.h"
#include "normlab/core/error.h"
#include "normlab/train/checkpoint.h"
#include "normlab/train/trainer.h"
#include "testutil/process.h"

using namespace normtest;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<nl::Norm> make_pn(int D, int groups, int warmup, float momentum = 0.1f,
                                  float alpha_bkw = 0.9f, nl::KernelSet ks = nl::KernelSet::fast) {
  nl::NormConfig cfg;
  cfg.type = "powernorm";
  cfg.settings["powernorm_groups"] = groups;
  cfg.settings["powernorm_warmup"] = warmup;
  cfg.momentum = momentum;
  cfg.settings["powernorm_alpha_bkw"] = alpha_bkw;
  return nl::make_norm(cfg, D, ks);
}

std::vector<float> buffer(const nl::Norm& norm, const std::string& name) {
  for (const nl::NamedTensor& b : norm.named_buffers())
    if (b.name == name) return b.tensor.to_vector();
  FAIL("no buffer " << name);
  return {};
}

// The layer's own weight and bias moved off 1, 0 (so that g shows in every formula).
void perturb_params(nl::Norm& norm, uint64_t seed) {
  for (auto& p : norm.named_parameters()) {
    nl::Tensor r = nl::randn(p.tensor.shape(), seed++, 0.5f, false);
    for (int64_t i = 0; i < p.tensor.numel(); ++i) p.tensor.data()[i] += r.data()[i];
  }
}

// psiB2[d] = mean over real rows of x^2, in double.
std::vector<double> quadratic_mean(const nl::Tensor& x, const nl::Tensor& keep, int D) {
  const int N = (int)(x.numel() / D);
  std::vector<double> q(D, 0.0);
  int count = 0;
  for (int n = 0; n < N; ++n) {
    if (keep.data()[n] == 0.0f) continue;
    ++count;
    for (int d = 0; d < D; ++d) q[d] += (double)x.data()[n * D + d] * x.data()[n * D + d];
  }
  for (double& v : q) v /= count;
  return q;
}

}  // namespace

TEST_CASE("powernorm: the running quadratic mean, its warmup and which statistic the forward uses", "[norms][powernorm]") {
  const int B = 2, T = 5, D = 3, W = 3;
  const float eps = 1e-5f, m = 0.2f;
  auto pn = make_pn(D, /*groups=*/0, W, m);
  const nl::Tensor keep = keep_from_lengths({5, 3}, T);
  std::vector<double> phi(D, 1.0);   // init 1
  for (int it = 1; it <= 5; ++it) {
    INFO("training forward " << it);
    const nl::Tensor x = nl::randn({B, T, D}, 70 + it, 1.0f + it, false);
    const std::vector<double> q = quadratic_mean(x, keep, D);
    // Warmup (it <= W): the batch's; after: phi before this step's update.
    std::vector<double> s(D);
    for (int d = 0; d < D; ++d) s[d] = 1.0 / std::sqrt((it <= W ? q[d] : phi[d]) + eps);
    nl::NoGrad ng;
    const std::vector<float> y = pn->forward(x, keep).to_vector();
    for (int n = 0; n < B * T; ++n)
      for (int d = 0; d < D; ++d) {
        const double want = keep.data()[n] != 0.0f ? x.data()[n * D + d] * s[d] : 0.0;  // g = 1, b = 0
        CHECK(y[n * D + d] == Approx(want).epsilon(1e-5).margin(1e-6));
      }
    // phi: cumulative mean while it < W, then (always) the EMA with alpha_fwd = 1 - m.
    for (int d = 0; d < D; ++d) {
      if (it < W) phi[d] = phi[d] * (it - 1) / it + q[d] / it;
      phi[d] = (1 - m) * phi[d] + m * q[d];
    }
    const std::vector<float> got = buffer(*pn, "running_phi");
    for (int d = 0; d < D; ++d) CHECK(got[d] == Approx(phi[d]).epsilon(1e-5));
    CHECK(buffer(*pn, "iters")[0] == (float)it);
    // Diagnostics in BatchNorm's terms: mean 0, var = the quadratic means.
    const nl::BatchNormStats* st = pn->batch_stats();
    REQUIRE(st != nullptr);
    for (int d = 0; d < D; ++d) {
      CHECK(st->batch_mean[d] == 0.0f);
      CHECK(st->batch_var[d] == Approx(q[d]).epsilon(1e-5));
      CHECK(st->running_var[d] == Approx(phi[d]).epsilon(1e-5));
    }
    CHECK(st->drift_mean() == 0.0f);
    // phi = psiB2 after the first update, up to the rounding of (1 - m) q + m q (exact with
    // FMA contraction under -march=native, not in a portable x86-64 build).
    if (it == 1) CHECK(st->drift_var() == Approx(0.0).margin(1e-7));
    else CHECK(st->drift_var() > 0.0f);
  }
  // Eval: phi, and no update.
  pn->set_training(false);
  const nl::Tensor x = nl::randn({B, T, D}, 90, 2.0f, false);
  nl::NoGrad ng;
  const std::vector<float> y = pn->forward(x, keep).to_vector();
  for (int n = 0; n < B * T; ++n)
    for (int d = 0; d < D; ++d)
      if (keep.data()[n] != 0.0f) CHECK(y[n * D + d] == Approx(x.data()[n * D + d] / std::sqrt(phi[d] + eps)).epsilon(1e-5));
  CHECK(buffer(*pn, "iters")[0] == 5.0f);
}

TEST_CASE("powernorm: the backward is PowerFunction's approximate rule, recomputed from the formula", "[norms][powernorm]") {
  // Three training steps after a warmup of 1: the forward then uses phi, ema_gz is not 0, and
  // the backward divides by the BATCH's quadratic mean. Checked in both kernel sets.
  for (nl::KernelSet ks : {nl::KernelSet::fast, nl::KernelSet::reference}) {
    INFO((ks == nl::KernelSet::fast ? "fast" : "reference"));
    const int B = 3, T = 4, D = 40, W = 1;  // D > one feature tile
    const float eps = 1e-5f, a = 0.7f;
    auto pn = make_pn(D, /*groups=*/0, W, 0.1f, a, ks);
    perturb_params(*pn, 5);
    const std::vector<float> g = pn->named_parameters()[0].tensor.to_vector();
    const nl::Tensor keep = keep_from_lengths({4, 2, 3}, T);
    const int N = B * T;
    for (int step = 1; step <= 3; ++step) {
      INFO("step " << step);
      const nl::Tensor x = nl::randn({B, T, D}, 200 + step, 1.5f, false);
      const nl::Tensor dy = nl::randn({B, T, D}, 300 + step, 1.0f, false);
      const std::vector<float> phi = buffer(*pn, "running_phi");   // before the step
      const std::vector<float> ema = buffer(*pn, "ema_gz");
      const std::vector<double> q = quadratic_mean(x, keep, D);
      const Pass p = run(*pn, x, keep, dy);
      const std::vector<float> ema_after = buffer(*pn, "ema_gz");
      for (int d = 0; d < D; ++d) {
        const double s = 1.0 / std::sqrt((step <= W ? q[d] : (double)phi[d]) + eps);
        const double rstd_batch = 1.0 / std::sqrt(q[d] + eps);
        double sum_xt_z = 0, dg = 0, db = 0;
        int count = 0;
        for (int n = 0; n < N; ++n) {
          const int i = n * D + d;
          if (keep.data()[n] == 0.0f) {
            CHECK(p.y[i] == 0.0f);
            CHECK(p.dx[i] == 0.0f);
            continue;
          }
          const double z = x.data()[i] * s;
          const double xt = dy.data()[i] * g[d] - (1.0 - a) * ema[d] * z;
          CHECK(p.dx[i] == Approx(xt * rstd_batch).epsilon(1e-4).margin(1e-5));
          sum_xt_z += xt * z;
          dg += dy.data()[i] * z;
          db += dy.data()[i];
          ++count;
        }
        CHECK(ema_after[d] == Approx(ema[d] + sum_xt_z / count).epsilon(1e-4).margin(1e-6));
        CHECK(p.dparams[0][d] == Approx(dg).epsilon(1e-4).margin(1e-5));
        CHECK(p.dparams[1][d] == Approx(db).epsilon(1e-4).margin(1e-5));
      }
      if (step >= 2) {   // from the second backward on, the correction term is not 0
        double biggest = 0;
        for (float e : ema) biggest = std::max(biggest, (double)std::fabs(e));
        CHECK(biggest > 1e-3);
      }
    }
  }
}

TEST_CASE("powernorm: group scaling divides each token's group by its root mean square", "[norms][powernorm]") {
  const int D = 8, G = 2;
  auto pn = make_pn(D, G, /*warmup=*/0);
  pn->set_training(false);   // phi = 1: y = xs / sqrt(1 + eps)
  const nl::Tensor x = nl::randn({1, 2, D}, 9, 3.0f, false);
  nl::NoGrad ng;
  const std::vector<float> y = pn->forward(x, nl::Tensor::full({1, 2}, 1.0f)).to_vector();
  for (int n = 0; n < 2; ++n)
    for (int grp = 0; grp < G; ++grp) {
      double ms = 0;
      for (int j = 0; j < D / G; ++j) ms += std::pow(x.data()[n * D + grp * 4 + j], 2) / (D / G);
      for (int j = 0; j < D / G; ++j) {
        const int i = n * D + grp * 4 + j;
        CHECK(y[i] == Approx(x.data()[i] / std::sqrt(ms + 1e-5) / std::sqrt(1 + 1e-5)).epsilon(1e-5));
      }
    }
  // A group count that does not divide D: the layer refuses, the config names the key.
  CHECK_THROWS_AS(make_pn(6, 4, 0), std::invalid_argument);
  nlohmann::json j = {{"model", {{"d_model", 48}, {"heads", 4}, {"norm", {{"type", "powernorm"}, {"powernorm_groups", 5}}}}}};
  try {
    nl::config_from_json(j, "x.json");
    FAIL("no error");
  } catch (const nl::UserError& e) {
    CHECK(e.code == 2);
    CHECK(std::string(e.what()).find("model.norm.powernorm_groups") != std::string::npos);
  }
}

TEST_CASE("powernorm: pads change nothing, whatever they hold and however many", "[norms][powernorm]") {
  // The same 5 real tokens in a [2,3] batch and in a [2,6] batch with different pad values:
  // outputs, gradients at real tokens, statistics and buffers are equal; pads output 0.
  const int D = 6;
  auto pad_a = make_pn(D, 1, 1), pad_b = make_pn(D, 1, 1);
  const nl::Tensor ka = keep_from_lengths({3, 2}, 3), kb = keep_from_lengths({3, 2}, 6);
  nl::Tensor xa = nl::randn({2, 3, D}, 31, 1.0f, false), xb = nl::randn({2, 6, D}, 32, 5.0f, false);
  nl::Tensor da = nl::randn({2, 3, D}, 33, 1.0f, false), db = nl::randn({2, 6, D}, 34, 1.0f, false);
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 3; ++t)
      for (int d = 0; d < D; ++d) {
        xb.data()[(b * 6 + t) * D + d] = xa.data()[(b * 3 + t) * D + d];
        db.data()[(b * 6 + t) * D + d] = da.data()[(b * 3 + t) * D + d];
      }
  for (int step = 0; step < 3; ++step) {   // step 0 in warmup, then with phi and ema_gz
    const Pass pa = run(*pad_a, xa, ka, da), pb = run(*pad_b, xb, kb, db);
    for (int b = 0; b < 2; ++b)
      for (int t = 0; t < 6; ++t)
        for (int d = 0; d < D; ++d) {
          const int ib = (b * 6 + t) * D + d;
          if (kb.data()[b * 6 + t] == 0.0f) {
            CHECK(pb.y[ib] == 0.0f);
            CHECK(pb.dx[ib] == 0.0f);
            continue;
          }
          const int ia = (b * 3 + t) * D + d;
          CHECK(pa.y[ia] == Approx(pb.y[ib]).margin(1e-6));
          CHECK(pa.dx[ia] == Approx(pb.dx[ib]).margin(1e-6));
        }
    for (size_t k = 0; k < pa.dparams.size(); ++k) CHECK(max_abs_diff(pa.dparams[k], pb.dparams[k]) < 1e-5f);
    for (const char* name : {"running_phi", "ema_gz"}) CHECK(max_abs_diff(buffer(*pad_a, name), buffer(*pad_b, name)) < 1e-6f);
  }
}

TEST_CASE("powernorm: training resumes bit-identically (buffers in the checkpoint)", "[norms][powernorm][train]") {
  nl::Config c = nl::load_config(std::string(NORMLAB_SOURCE_DIR) + "/configs/tiny.json");
  c.model.norm.type = "powernorm";
  c.model.norm.settings["powernorm_warmup"] = 20;   // the resume point (30) lies after the warmup
  c.train.threads = 1;
  c.train.steps = 60;
  c.train.log_every = 10;
  c.train.eval_every = 30;
  const fs::path root = testutil::unique_temp("powernorm");
  fs::remove_all(root);
  nl::TrainOptions straight;
  straight.out_dir = (root / "straight").string();
  straight.quiet = true;
  nl::train(c, straight);
  nl::TrainOptions half = straight;
  half.out_dir = (root / "resumed").string();
  half.stop_after = 30;
  nl::train(c, half);
  half.stop_after = -1;
  half.resume = true;
  nl::train(c, half);

  nl::SafetensorsFile a = nl::load_safetensors(straight.out_dir + "/checkpoint.safetensors");
  nl::SafetensorsFile b = nl::load_safetensors(half.out_dir + "/checkpoint.safetensors");
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (const char* name : {"layers.0.norm1.running_phi", "layers.0.norm1.ema_gz", "layers.0.norm2.iters"})
    REQUIRE(a.tensors.count(name) == 1);
  CHECK(a.tensors.at("layers.0.norm2.iters").data()[0] == 60.0f);
  for (auto& [name, t] : a.tensors) {
    INFO(name);
    REQUIRE(b.tensors.count(name));
    CHECK(std::memcmp(t.data(), b.tensors.at(name).data(), t.numel() * sizeof(float)) == 0);
  }
  // ema_gz moved: the approximate backward ran and its state is what resumed.
  float biggest = 0;
  for (float v : a.tensors.at("layers.0.norm1.ema_gz").to_vector()) biggest = std::max(biggest, std::fabs(v));
  CHECK(biggest > 0.0f);
}
