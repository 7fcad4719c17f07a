// test_ops_kernels.cpp — fast kernels against their plain twins, and determinism across runs
// and threads.
//
// What it is not: a speed test (scripts/bench.sh and `normlab bench` measure speed).
#include <catch2/catch.hpp>

#include <cstring>

#include "normlab/core/gradcheck.h"
#include "normlab/kernels/elementwise.h"
#include "normlab/kernels/matmul.h"
#include "normlab/kernels/reduce.h"
#include "normlab/ops/ops.h"
#include "normlab/core/runtime.h"

using namespace nl;

namespace {

// Runs a block with a thread count and restores the previous one.
struct ThreadScope {
  int prev = num_threads();
  explicit ThreadScope(int n) { set_num_threads(n); }
  ~ThreadScope() { set_num_threads(prev); }
};

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// A forward + backward that touches every kernel with a fast path: returns the loss
// and the gradients of both inputs, concatenated. ks goes to the ops that have a twin.
std::vector<float> run_model(const Tensor& a, const Tensor& b, KernelSet ks = KernelSet::fast) {
  a.zero_grad();
  b.zero_grad();
  Tensor h = matmul(a, b, false, true, ks);         // [B,T,T]
  // A key-padding-like mask [T] broadcast over [B,T,T]: the last two keys masked.
  std::vector<float> pad(h.dim(-1), 0.0f);
  pad[pad.size() - 1] = pad[pad.size() - 2] = 1.0f;
  Tensor scores = masked_fill(h * 0.5f + sum(a, {2}, true), Tensor::from(pad, {h.dim(-1)}), -1e9f);
  Tensor s = softmax(scores, -1);
  Tensor m = mean(gelu(s, ks) * h - h / (exp(s) + 1.0f), {0, 1});
  Tensor loss = sum_all(m * m) + mean_all(tanh(a));
  loss.backward();
  std::vector<float> out = {loss.item()};
  for (float v : a.grad_vector()) out.push_back(v);
  for (float v : b.grad_vector()) out.push_back(v);
  return out;
}

}  // namespace

TEST_CASE("matmul: BLAS and the naive twin agree", "[ops][kernels]") {
  Tensor a = randn({2, 7, 13}, 1), b = randn({2, 9, 13}, 2);
  const std::vector<float> fast = matmul(a, b, false, true, KernelSet::fast).to_vector();
  const std::vector<float> ref = matmul(a, b, false, true, KernelSet::reference).to_vector();
  CHECK(max_abs_diff(fast, ref) < 1e-4f);
  // Every transpose combination at the kernel level.
  std::vector<float> A(6 * 5), B(5 * 4), C1(6 * 4, 1.0f), C2(6 * 4, 1.0f);
  Rng rng(3);
  for (float& v : A) v = rng.normal();
  for (float& v : B) v = rng.normal();
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      kernels::sgemm_blas(ta, tb, 6, 4, 5, 0.5f, A.data(), B.data(), 2.0f, C1.data());
      kernels::sgemm_reference(ta, tb, 6, 4, 5, 0.5f, A.data(), B.data(), 2.0f, C2.data());
      INFO("trans_a " << ta << " trans_b " << tb);
      CHECK(max_abs_diff(C1, C2) < 1e-4f);
    }
}

TEST_CASE("broadcasting binary kernels: fast path and plain twin agree bit for bit", "[ops][kernels]") {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{64, 33}, {64, 33}}, {{4, 5, 6}, {6}}, {{4, 1, 6}, {5, 1}}, {{1, 7}, {3, 2, 1}}, {{1}, {9, 2}}, {{3, 1, 1}, {1}}};
  for (const auto& [sa, sb] : cases) {
    INFO(shape_str(sa) << " with " << shape_str(sb));
    Tensor a = randn(sa, 4), b = randn(sb, 5);
    const Shape so = broadcast_shape(sa, sb);
    const kernels::Broadcast bc = kernels::make_broadcast(so, sa, sb);
    const int64_t n = numel_of(so);
    for (auto op : {kernels::BinaryOp::add, kernels::BinaryOp::sub, kernels::BinaryOp::mul, kernels::BinaryOp::div}) {
      std::vector<float> f(n), r(n), gf(n), gr(n), dout(n, 0.75f);
      kernels::binary_forward_fast(op, f.data(), a.data(), b.data(), bc);
      kernels::binary_forward_reference(op, r.data(), a.data(), b.data(), bc);
      CHECK(same_bits(f, r));
      for (int which = 0; which < 2; ++which) {
        kernels::binary_backward_fast(op, which, gf.data(), dout.data(), a.data(), b.data(), bc);
        kernels::binary_backward_reference(op, which, gr.data(), dout.data(), a.data(), b.data(), bc);
        CHECK(same_bits(gf, gr));
      }
    }
  }
  // One hand-checked broadcast through the fast path.
  Tensor a = Tensor::from({1, 2}, {2, 1}), b = Tensor::from({10, 20, 30}, {3});
  const kernels::Broadcast bc = kernels::make_broadcast({2, 3}, {2, 1}, {3});
  std::vector<float> f(6);
  kernels::binary_forward_fast(kernels::BinaryOp::add, f.data(), a.data(), b.data(), bc);
  CHECK(f == std::vector<float>{11, 21, 31, 12, 22, 32});
}

TEST_CASE("sum over axes: fast path and plain twin agree", "[ops][kernels]") {
  const Shape shape = {3, 70, 2, 129};
  Tensor x = randn(shape, 6);
  const std::vector<std::vector<bool>> reductions = {
      {false, false, false, true}, {true, true, false, false}, {false, true, true, false},
      {true, false, true, false}, {true, false, false, true}, {false, false, false, false}};
  for (const auto& red : reductions) {
    int64_t n_out = 1;
    for (size_t d = 0; d < shape.size(); ++d) n_out *= red[d] ? 1 : shape[d];
    std::vector<float> f(n_out, 1.0f), r(n_out, 1.0f);
    kernels::sum_axes_fast(f.data(), x.data(), shape, red, 0.5f, true);
    kernels::sum_axes_reference(r.data(), x.data(), shape, red, 0.5f, true);
    CHECK(same_bits(f, r));  // same order of additions per output element
  }
  // A full reduction: the fast path sums kSumChunks partials, so it agrees to rounding.
  float f = 0, r = 0;
  const std::vector<bool> all(4, true);
  kernels::sum_axes_fast(&f, x.data(), shape, all, 1.0f, false);
  kernels::sum_axes_reference(&r, x.data(), shape, all, 1.0f, false);
  double exact = 0;
  for (int64_t i = 0; i < x.numel(); ++i) exact += x.data()[i];
  CHECK(f == Approx(exact).margin(1e-2));
  CHECK(r == Approx(exact).margin(1e-2));
}

TEST_CASE("sum's backward (expand_axes_add): each element gets scale * dout once, bit for bit", "[ops][kernels]") {
  // The contiguous [outer, R, inner] loops and the general walk against the definition:
  // dx[i] += g with g = scale * dout[kept index of i], rounded as its own product.
  const Shape shape = {3, 70, 2, 129};
  const Tensor dout_all = randn({3 * 70 * 2 * 129}, 9), dx0 = randn(shape, 10);
  const std::vector<std::vector<bool>> reductions = {
      {false, true, true, false}, {true, true, false, false}, {false, false, false, true},
      {true, false, true, false}, {false, false, false, false}};
  for (float scale : {1.0f, 1.0f / 140}) {
    for (const auto& red : reductions) {
      std::vector<float> fast = dx0.to_vector(), want = dx0.to_vector();
      kernels::expand_axes_add(fast.data(), dout_all.data(), shape, red, scale);
      for (int i0 = 0; i0 < 3; ++i0)
        for (int i1 = 0; i1 < 70; ++i1)
          for (int i2 = 0; i2 < 2; ++i2)
            for (int i3 = 0; i3 < 129; ++i3) {
              const int idx[4] = {i0, i1, i2, i3};
              int64_t o = 0;
              for (int d = 0; d < 4; ++d)
                if (!red[d]) o = o * shape[d] + idx[d];
              volatile float g = scale * dout_all.data()[o];  // volatile: no FMA with the add
              want[((i0 * 70 + i1) * 2 + i2) * 129 + i3] += g;
            }
      CHECK(same_bits(fast, want));
    }
  }
}

TEST_CASE("a model step is bit-identical run to run and across thread counts", "[ops][kernels]") {
  Tensor a = randn({4, 33, 16}, 7), b = randn({4, 33, 16}, 8);
  std::vector<float> one, two_a, two_b, three;
  {
    ThreadScope t(1);
    one = run_model(a, b);
  }
  {
    ThreadScope t(2);
    two_a = run_model(a, b);
    two_b = run_model(a, b);
  }
  {
    ThreadScope t(3);
    three = run_model(a, b);
  }
  CHECK(same_bits(two_a, two_b));
  // Our kernels never split a sum by thread count; OpenBLAS may, so compare with a tolerance.
  CHECK(max_abs_diff(one, two_a) < 1e-4f);
  CHECK(max_abs_diff(three, two_a) < 1e-4f);
}

TEST_CASE("the whole model agrees between fast and reference kernels", "[ops][kernels]") {
  Tensor a = randn({2, 9, 8}, 9), b = randn({2, 9, 8}, 10);
  const std::vector<float> fast = run_model(a, b, KernelSet::fast);
  const std::vector<float> ref = run_model(a, b, KernelSet::reference);
  CHECK(max_abs_diff(fast, ref) < 1e-4f);
}

TEST_CASE("element-wise and reduction ops alone are bit-identical for any thread count", "[ops][kernels]") {
  Tensor x = randn({37, 513}, 11), y = randn({513}, 12);
  auto run = [&] {
    std::vector<float> out = (gelu(x) * y + exp(x * (1.0f / 3.0f))).to_vector();
    for (float v : sum(x, {0}).to_vector()) out.push_back(v);
    for (float v : mean(x, {1}).to_vector()) out.push_back(v);
    out.push_back(sum_all(x).item());
    for (float v : softmax(x, 0).to_vector()) out.push_back(v);
    return out;
  };
  std::vector<float> r1, r2, r3;
  { ThreadScope t(1); r1 = run(); }
  { ThreadScope t(2); r2 = run(); }
  { ThreadScope t(3); r3 = run(); }
  CHECK(same_bits(r1, r2));
  CHECK(same_bits(r1, r3));
}
