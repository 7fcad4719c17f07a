// test_kernel_sets.cpp — `--kernels reference` (train.kernels) swaps every fast path for its
// plain twin — BLAS for naive loops, fused norm kernels for their composition of ops — and
// training follows the same trajectory within float tolerance.
//
// What it is not: a bit-for-bit comparison (the two sets round differently) nor a
// kernel-by-kernel one (test_ops_kernels.cpp, test_norms_twins.cpp).
#include <catch2/catch.hpp>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "normlab/config/config.h"
#include "normlab/core/gradcheck.h"
#include "normlab/core/graph.h"
#include "normlab/kernels/unary.h"
#include "normlab/nn/encoder.h"
#include "normlab/nn/layers.h"
#include "normlab/optim/optimizer.h"
#include "normlab/core/runtime.h"
#include "normlab/train/trainer.h"
#include "testutil/runs.h"

namespace fs = std::filesystem;

namespace {

// The loss column of metrics.csv (one row per step with log_every = 1).
std::vector<double> train_losses(const std::string& norm, const std::string& kernels) {
  nl::Config c = nl::load_config(std::string(NORMLAB_SOURCE_DIR) + "/configs/tiny.json");
  c.model.norm.type = norm;
  REQUIRE(nl::from_name(kernels, c.train.kernels));
  c.train.threads = 1;
  c.train.steps = 20;
  c.train.log_every = 1;
  c.train.eval_every = 0;
  c.task.eval_size = 8;
  const fs::path dir = fs::temp_directory_path() / ("normlab_test_kernel_sets_" + std::to_string(getpid()) + "_" + norm + "_" + kernels);
  const testutil::Metrics m = testutil::train_and_read_metrics(c, dir);
  REQUIRE(m.column("loss") == 1);
  std::vector<double> losses;
  for (size_t r = 0; r < m.rows.size(); ++r) losses.push_back(m.at(r, "loss"));
  fs::remove_all(dir);
  return losses;
}

}  // namespace

TEST_CASE("training: fast and reference kernels give the same losses", "[kernels][train]") {
  for (const char* norm : {"layernorm", "batchnorm"}) {
    INFO("norm " << norm);
    const std::vector<double> fast = train_losses(norm, "fast");
    const std::vector<double> ref = train_losses(norm, "reference");
    REQUIRE(fast.size() == 20);
    REQUIRE(ref.size() == 20);
    for (size_t i = 0; i < fast.size(); ++i) {
      INFO("step " << i + 1 << ": fast " << fast[i] << " reference " << ref[i]);
      REQUIRE(std::isfinite(fast[i]));
      CHECK(ref[i] == Approx(fast[i]).epsilon(1e-4).margin(1e-5));
    }
    // The run trains (the losses move), so the comparison is not of two constants.
    CHECK(std::fabs(fast.front() - fast.back()) > 1e-3);
  }
}

// The fused attention core against the composed ops (permute, matmul, masked_fill,
// softmax, matmul): same outputs and same gradients for every parameter and the input,
// on a batch with pads, with and without the causal mask.
TEST_CASE("attention: the fused core and the composed ops agree, forward and backward", "[kernels]") {
  const int B = 3, T = 7, D = 16, H = 4;
  std::vector<float> keep(B * T, 1.0f);
  for (int t = 4; t < T; ++t) keep[1 * T + t] = 0.0f;  // sequence 1: 4 real tokens
  for (int t = 1; t < T; ++t) keep[2 * T + t] = 0.0f;  // sequence 2: 1 real token
  const nl::Tensor keep_t = nl::Tensor::from(keep, {B, T});
  for (bool causal : {false, true}) {
    INFO("causal " << causal);
    const nl::Tensor mask = nl::attention_mask(keep_t, causal);
    auto run = [&](nl::KernelSet ks, std::vector<std::vector<float>>& grads) {
      nl::MultiHeadAttention mha(D, H, 0.0f, ks);  // the same parameters for either set
      mha.init("attn", 5, 0.3f);
      std::vector<nl::NamedTensor> params;
      mha.parameters("attn", params);
      nl::Tensor x = nl::randn({B, T, D}, 9);
      nl::Rng rng(1);
      nl::Tensor y = mha.forward(x, mask, rng);
      nl::Tensor w = nl::randn({B, T, D}, 10, 1.0f, false);  // a fixed upstream gradient
      y.backward(w);
      grads.clear();
      grads.push_back(x.grad_vector());
      for (const auto& p : params) grads.push_back(p.tensor.grad_vector());
      return y.to_vector();
    };
    std::vector<std::vector<float>> g_fast, g_ref;
    const std::vector<float> y_fast = run(nl::KernelSet::fast, g_fast);
    const std::vector<float> y_ref = run(nl::KernelSet::reference, g_ref);
    REQUIRE(y_fast.size() == y_ref.size());
    for (size_t i = 0; i < y_fast.size(); ++i) REQUIRE(y_fast[i] == Approx(y_ref[i]).margin(1e-5));
    REQUIRE(g_fast.size() == g_ref.size());
    for (size_t j = 0; j < g_fast.size(); ++j)
      for (size_t i = 0; i < g_fast[j].size(); ++i) {
        INFO("gradient " << j << " element " << i);
        REQUIRE(g_fast[j][i] == Approx(g_ref[j][i]).margin(1e-5));
      }
    // not vacuous: the input gradient is not all zero
    float norm = 0;
    for (float g : g_fast[0]) norm += g * g;
    CHECK(norm > 1e-6f);
  }
}

// The fast path packs the real tokens (no pads at all) when no norm reads pad rows and
// train.pack is on; with pack off it runs the padded grid with the fused kernels; the
// reference path runs the padded grid with the composed twins. Same loss and same
// gradient for every parameter, for each head and position kind, and for a norm that
// must not be packed.
TEST_CASE("encoder: packed real tokens and the padded grid give the same loss and gradients", "[kernels][encoder]") {
  struct Case { const char* head; const char* positions; const char* norm; const char* place; };
  const Case cases[] = {{"classify", "learned", "layernorm", "post"},
                        {"tag", "sinusoidal", "rmsnorm", "pre"},
                        {"lm", "learned", "batchnorm", "pre"},             // masked BN: packs
                        {"classify", "none", "batchnorm_padded", "post"}}; // pads in stats: no packing
  for (const Case& c : cases) {
    INFO(c.head << " " << c.positions << " " << c.norm << " " << c.place);
    nl::ModelConfig mc;
    mc.d_model = 16; mc.heads = 2; mc.d_ff = 32; mc.layers = 2; mc.max_len = 16;
    REQUIRE(nl::from_name(c.positions, mc.positions));
    REQUIRE(nl::from_name(c.place, mc.norm.position));
    mc.norm.type = c.norm;
    mc.pool = nl::Pool::mean;
    // 5 sequences of lengths 3..9 over tokens 1..6, labels in range for every head
    nl::Dataset d;
    nl::Rng rng(4);
    for (int i = 0; i < 5; ++i) {
      nl::Example e;
      const int L = 3 + (int)rng.randint(0, 6);
      for (int t = 0; t < L; ++t) e.tokens.push_back((int)rng.randint(1, 6));
      if (std::string(c.head) == "classify") e.labels = {(int)rng.randint(0, 2)};
      else for (int t = 0; t < L; ++t) e.labels.push_back((int)rng.randint(0, 2));
      d.examples.push_back(e);
    }
    const nl::Batch batch = nl::make_batch(d, {0, 1, 2, 3, 4}, c.head);
    const int n_out = std::string(c.head) == "lm" ? 7 : 3;
    const bool packable = std::string(c.norm) != "batchnorm_padded";
    auto run = [&](nl::KernelSet ks, bool pack, std::vector<std::vector<float>>& grads) {
      nl::ExecOptions exec;
      exec.kernels = ks;
      exec.pack = pack;
      nl::Encoder model(mc, c.head, 7, n_out, 3, exec);
      nl::Tensor loss = model.loss(model.forward(batch), batch);
      // Which path ran: only the packed one scatters its tokens back into the grid.
      const auto ops = nl::op_histogram(loss);
      const bool packed = ops.count("scatter_rows") > 0;
      CHECK(packed == (ks == nl::KernelSet::fast && pack && packable));
      loss.backward();
      grads.clear();
      for (const auto& p : model.named_parameters()) grads.push_back(p.tensor.grad_vector());
      return loss.item();
    };
    std::vector<std::vector<float>> g_fast, g_grid, g_ref;
    const float l_fast = run(nl::KernelSet::fast, true, g_fast);    // packed where exact
    const float l_grid = run(nl::KernelSet::fast, false, g_grid);   // train.pack = false
    const float l_ref = run(nl::KernelSet::reference, true, g_ref); // reference: never packed
    CHECK(l_fast == Approx(l_ref).epsilon(1e-5));
    CHECK(l_grid == Approx(l_fast).epsilon(1e-5));
    REQUIRE(g_fast.size() == g_ref.size());
    REQUIRE(g_grid.size() == g_ref.size());
    for (size_t j = 0; j < g_fast.size(); ++j)
      for (size_t i = 0; i < g_fast[j].size(); ++i) {
        INFO("parameter " << j << " element " << i);
        REQUIRE(g_fast[j][i] == Approx(g_ref[j][i]).margin(2e-5));
        REQUIRE(g_grid[j][i] == Approx(g_fast[j][i]).margin(2e-5));
      }
  }
}

// Issue 6: a steady-state training step allocates nothing. Batches of varying lengths
// (so every step has other tensor sizes); after the pool has seen enough of them, forty
// more steps ask the system for no memory at all. The allocator counter, not a clock.
TEST_CASE("training steps on variable-length batches stop allocating after warm-up", "[kernels][pool]") {
#if defined(__SANITIZE_ADDRESS__)
  SUCCEED("the pool does not cache under AddressSanitizer (frees at once to catch use-after-free)");
#else
  nl::ModelConfig mc;
  mc.d_model = 32; mc.heads = 4; mc.d_ff = 64; mc.layers = 2; mc.max_len = 32;
  nl::Encoder model(mc, "classify", 9, 4, 1);
  nl::OptimConfig oc;
  auto opt = nl::make_optimizer(oc, model.named_parameters());
  nl::Rng rng(2);
  auto step = [&] {
    nl::Dataset d;
    std::vector<int> idx;
    for (int i = 0; i < 8; ++i) {
      nl::Example e;
      const int L = rng.randint(4, 32);
      for (int t = 0; t < L; ++t) e.tokens.push_back(rng.randint(1, 8));
      e.labels = {rng.randint(0, 3)};
      d.examples.push_back(e);
      idx.push_back(i);
    }
    const nl::Batch b = nl::make_batch(d, idx, "classify");
    opt->zero_grad();
    nl::Tensor loss = model.loss(model.forward(b), b);
    loss.backward();
    opt->step(oc.lr);
  };
  for (int i = 0; i < 150; ++i) step();  // warm-up: the pool meets the sizes
  const long long before = nl::pool_stats().system_allocs;
  for (int i = 0; i < 40; ++i) step();
  CHECK(nl::pool_stats().system_allocs - before == 0);
#endif
}

// The fast GELU's polynomial erf and exp against <cmath>, forward and backward, over the
// range activations live in and beyond (where exp underflows and erf saturates).
TEST_CASE("gelu: the vectorised erf/exp agree with std::erf to float precision", "[kernels]") {
  const int n = 40001;
  std::vector<float> x(n), dy(n, 1.0f);
  for (int i = 0; i < n; ++i) x[i] = -20.0f + 40.0f * i / (n - 1);
  auto run = [&](nl::KernelSet ks, std::vector<float>& y, std::vector<float>& dx) {
    y.assign(n, 0.0f);
    dx.assign(n, 0.0f);
    nl::kernels::gelu_forward(ks, y.data(), x.data(), n);
    nl::kernels::gelu_backward(ks, dx.data(), dy.data(), x.data(), n);
  };
  std::vector<float> yf, dxf, yr, dxr;
  run(nl::KernelSet::fast, yf, dxf);
  run(nl::KernelSet::reference, yr, dxr);
  double worst_y = 0, worst_dx = 0;
  for (int i = 0; i < n; ++i) {
    REQUIRE(std::isfinite(yf[i]));
    REQUIRE(std::isfinite(dxf[i]));
    worst_y = std::max(worst_y, std::fabs((double)yf[i] - yr[i]) / std::max(1.0, std::fabs((double)x[i])));
    worst_dx = std::max(worst_dx, std::fabs((double)dxf[i] - dxr[i]));
  }
  INFO("max |gelu diff| / max(1,|x|) " << worst_y << ", max |gelu' diff| " << worst_dx);
  CHECK(worst_y < 3e-7);
  CHECK(worst_dx < 5e-7);
}
