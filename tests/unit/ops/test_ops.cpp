// test_ops.cpp — op values against hand computations, shapes, and the error messages.
//
// What it is not: the gradient checks (registered beside each op in src/ops/, run by
// test_gradcheck.cpp).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "normlab/core/gradcheck.h"
#include "normlab/ops/ops.h"

using namespace nl;

namespace {
std::vector<float> vec(const Tensor& t) { return t.to_vector(); }
void check_close(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-6f) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    CHECK(got[i] == Approx(want[i]).margin(tol));
  }
}
}  // namespace

TEST_CASE("broadcast shapes follow NumPy", "[ops]") {
  CHECK(broadcast_shape({3, 1}, {1, 4}) == Shape{3, 4});
  CHECK(broadcast_shape({2, 3, 4}, {4}) == Shape{2, 3, 4});
  CHECK(broadcast_shape({1}, {5, 1}) == Shape{5, 1});
  CHECK(broadcast_shape({2, 1, 4}, {3, 1}) == Shape{2, 3, 4});
  CHECK_THROWS_WITH(add(Tensor::zeros({2, 3}), Tensor::zeros({4})), "add: cannot broadcast a [2,3] with b [4]");
  CHECK_THROWS_WITH(mul(Tensor::zeros({2, 3}), Tensor::zeros({3, 3})), "mul: cannot broadcast a [2,3] with b [3,3]");
}

TEST_CASE("element-wise ops broadcast both ways", "[ops]") {
  Tensor a = Tensor::from({1, 2, 3}, {3, 1});
  Tensor b = Tensor::from({10, 20}, {1, 2});
  check_close(vec(a + b), {11, 21, 12, 22, 13, 23});
  check_close(vec(a - b), {-9, -19, -8, -18, -7, -17});
  check_close(vec(a * b), {10, 20, 20, 40, 30, 60});
  check_close(vec(b / a), {10, 20, 5, 10, 10.0f / 3, 20.0f / 3});
  check_close(vec(a + 0.5f), {1.5f, 2.5f, 3.5f});
  check_close(vec(a * -2.0f), {-2, -4, -6});
  check_close(vec(-a), {-1, -2, -3});
  // Backward of a stretched input sums over the stretched axis.
  a.set_requires_grad();
  b.set_requires_grad();
  sum_all(a * b).backward();
  check_close(a.grad_vector(), {30, 30, 30});
  check_close(b.grad_vector(), {6, 6});
}

TEST_CASE("unary ops match their formulas", "[ops]") {
  Tensor x = Tensor::from({-1.0f, 0.0f, 1.0f, 2.0f}, {4});
  check_close(vec(relu(x)), {0, 0, 1, 2});
  check_close(vec(gelu(x)), {-0.15865525f, 0.0f, 0.84134475f, 1.95449974f});
  check_close(vec(tanh(x)), {std::tanh(-1.0f), 0.0f, std::tanh(1.0f), std::tanh(2.0f)});
  check_close(vec(exp(x)), {std::exp(-1.0f), 1.0f, std::exp(1.0f), std::exp(2.0f)});
  Tensor p = Tensor::from({0.25f, 1.0f, 4.0f}, {3});
  check_close(vec(sqrt(p)), {0.5f, 1.0f, 2.0f});
  check_close(vec(log(p)), {std::log(0.25f), 0.0f, std::log(4.0f)});
  check_close(vec(pow(p, -0.5f)), {2.0f, 1.0f, 0.5f});
}

TEST_CASE("sum and mean over axes", "[ops]") {
  Tensor x = Tensor::from({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {2, 3, 2});
  Tensor s0 = sum(x, {0});
  CHECK(s0.shape() == Shape{3, 2});
  check_close(vec(s0), {8, 10, 12, 14, 16, 18});
  Tensor s1 = sum(x, {1}, true);
  CHECK(s1.shape() == Shape{2, 1, 2});
  check_close(vec(s1), {9, 12, 27, 30});
  Tensor s02 = sum(x, {0, -1});
  CHECK(s02.shape() == Shape{3});
  check_close(vec(s02), {18, 26, 34});
  Tensor m = mean(x, {-1});
  check_close(vec(m), {1.5f, 3.5f, 5.5f, 7.5f, 9.5f, 11.5f});
  CHECK(sum_all(x).shape() == Shape{1});
  CHECK(sum_all(x).item() == 78);
  CHECK(mean_all(x).item() == Approx(6.5f));
  CHECK(sum(x, {0, 1, 2}).shape() == Shape{1});
  CHECK_THROWS_WITH(sum(x, {3}), "sum: axis 3 out of range for [2,3,2]");
  CHECK_THROWS_WITH(mean(x, {1, -2}), "mean: axis -2 given twice for [2,3,2]");
}

TEST_CASE("transpose, permute, slice, concat move the right values", "[ops]") {
  Tensor x = Tensor::from({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor t = transpose(x, 0, 1);
  CHECK(t.shape() == Shape{3, 2});
  check_close(vec(t), {0, 3, 1, 4, 2, 5});
  Tensor y = Tensor::from({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {2, 3, 2});
  Tensor p = permute(y, {2, 0, 1});
  CHECK(p.shape() == Shape{2, 2, 3});
  check_close(vec(p), {0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11});
  check_close(vec(slice(x, 1, 1, 3)), {1, 2, 4, 5});
  check_close(vec(slice(x, -1, -1, 3)), {2, 5});
  Tensor c = concat({x, Tensor::from({9, 8}, {2, 1})}, 1);
  CHECK(c.shape() == Shape{2, 4});
  check_close(vec(c), {0, 1, 2, 9, 3, 4, 5, 8});
  CHECK_THROWS_WITH(permute(x, {0, 0}), "permute: [0,0] is not a permutation of the axes of [2,3]");
  CHECK_THROWS_WITH(slice(x, 1, 2, 4), "slice: [2,4) out of range for axis 1 of [2,3]");
  CHECK_THROWS_WITH(concat({x, Tensor::zeros({3, 1})}, 1), "concat: [3,1] does not match [2,3] outside axis 1");
  CHECK_THROWS_WITH(transpose(x, 0, 2), "transpose: axes 0,2 out of range for [2,3]");
}

TEST_CASE("matmul and friends name the op and the shapes in errors", "[ops]") {
  CHECK_THROWS_WITH(matmul(Tensor::zeros({32, 64}), Tensor::zeros({65, 16})), "matmul: a is [32,64] but b is [65,16]");
  CHECK_THROWS_WITH(softmax(Tensor::zeros({2, 3}), 2), "softmax: axis 2 out of range for [2,3]");
  CHECK_THROWS_WITH(masked_fill(Tensor::zeros({2, 3}), Tensor::zeros({2, 1, 3}), 0),
                    "masked_fill: mask [2,1,3] does not broadcast to x [2,3]");
  CHECK_THROWS_WITH(masked_fill(Tensor::zeros({2, 3}), Tensor::zeros({4}), 0),
                    "masked_fill: mask [4] does not broadcast to x [2,3]");
  CHECK_THROWS_WITH(embedding(Tensor::zeros({4, 2}), {0, 4}, {2}),
                    "embedding: id 4 at position 1 is outside [0,4) for weight [4,2]");
  CHECK_THROWS_WITH(embedding(Tensor::zeros({4, 2}), {0, 1}, {3}), "embedding: 2 ids do not fill ids_shape [3]");
  CHECK_THROWS_WITH(cross_entropy(Tensor::zeros({2, 3}), {0}),
                    "cross_entropy: logits are [2,3] but there are 1 targets (expected [N,C] with N targets)");
  CHECK_THROWS_WITH(cross_entropy(Tensor::zeros({2, 3}), {0, 3}),
                    "cross_entropy: target 3 at row 1 is outside [0,3) for logits [2,3]");
  Rng rng(1);
  CHECK_THROWS_WITH(dropout(Tensor::zeros({2}), 1.0f, rng, true), "dropout: p = 1.000000 is outside [0, 1)");
}

TEST_CASE("softmax and log-softmax are stable on large inputs", "[ops]") {
  Tensor small = Tensor::from({0, 1, 2, -1, 0, 5}, {2, 3});
  Tensor big = add_scalar(small, 1000.0f);
  Tensor neg_big = add_scalar(small, -1000.0f);
  const std::vector<float> ref = vec(softmax(small));
  const float z = 1 + std::exp(1.0f) + std::exp(2.0f);
  check_close({ref[0], ref[1], ref[2]}, {1 / z, std::exp(1.0f) / z, std::exp(2.0f) / z});
  check_close(vec(softmax(big)), ref, 1e-5f);
  check_close(vec(softmax(neg_big)), ref, 1e-5f);
  Tensor ls = log_softmax(Tensor::from({-1000.0f, 0.0f, 1000.0f}, {3}));
  for (float v : vec(ls)) CHECK(std::isfinite(v));
  check_close(vec(ls), {-2000.0f, -1000.0f, 0.0f}, 1e-3f);
  // Softmax over the first axis sums to 1 down each column.
  Tensor col = softmax(big, 0);
  for (int j = 0; j < 3; ++j) CHECK(col.data()[j] + col.data()[3 + j] == Approx(1.0f));
}

TEST_CASE("masked_fill and fully masked softmax rows", "[ops]") {
  const float inf = std::numeric_limits<float>::infinity();
  Tensor scores = Tensor::from({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor key_pad = Tensor::from({0, 0, 1}, {3});  // the last key is padding
  check_close(vec(masked_fill(scores, key_pad, -7)), {1, 2, -7, 4, 5, -7});
  Tensor row_mask = Tensor::from({0, 1}, {2, 1});  // the second query row masked entirely
  Tensor p = softmax(masked_fill(masked_fill(scores, key_pad, -inf), row_mask, -inf));
  const float e = std::exp(1.0f);
  check_close(vec(p), {1 / (1 + e), e / (1 + e), 0, 0, 0, 0});
}

TEST_CASE("cross-entropy matches a hand computation and ignores rows", "[ops]") {
  Tensor logits = Tensor::from({1, 2, 3, 0, 0, 0, 5, -5, 0}, {3, 3}).set_requires_grad();
  // Row 0, target 2: log(e + e^2 + e^3) - 3. Row 1 ignored. Row 2, target 0: log(e^5 + e^-5 + 1) - 5.
  const double r0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0;
  const double r2 = std::log(std::exp(5.0) + std::exp(-5.0) + 1.0) - 5.0;
  Tensor loss = cross_entropy(logits, {2, -1, 0});
  CHECK(loss.item() == Approx((r0 + r2) / 2).epsilon(1e-5));
  loss.backward();
  const std::vector<float> g = logits.grad_vector();
  // d/dlogits = (softmax - onehot) / 2 on counted rows, 0 on the ignored row.
  const double z0 = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  CHECK(g[0] == Approx(std::exp(1.0) / z0 / 2));
  CHECK(g[2] == Approx((std::exp(3.0) / z0 - 1) / 2));
  CHECK(g[3] == 0.0f);
  CHECK(g[4] == 0.0f);
  CHECK(g[5] == 0.0f);
  // Uniform logits: loss = log C.
  CHECK(cross_entropy(Tensor::zeros({4, 7}), {0, 1, 2, 3}).item() == Approx(std::log(7.0)));
  // Every row ignored: loss 0 and zero gradient.
  Tensor l2 = Tensor::from({1, 2, 3, 4}, {2, 2}).set_requires_grad();
  Tensor z = cross_entropy(l2, {-100, -100}, -100);
  CHECK(z.item() == 0.0f);
  z.backward();
  CHECK(l2.grad_vector() == std::vector<float>(4, 0.0f));
}

TEST_CASE("embedding gathers rows and scatter-adds repeated ids", "[ops]") {
  Tensor W = Tensor::from({0, 1, 10, 11, 20, 21}, {3, 2}).set_requires_grad();
  Tensor e = embedding(W, {2, 0, 2, 2}, {2, 2});
  CHECK(e.shape() == Shape{2, 2, 2});
  check_close(vec(e), {20, 21, 0, 1, 20, 21, 20, 21});
  sum_all(e).backward();
  check_close(W.grad_vector(), {1, 1, 0, 0, 3, 3});
}

TEST_CASE("dropout is seeded, inverted, and keeps about 1-p", "[ops]") {
  Tensor x = Tensor::full({200, 500}, 2.0f);
  const float p = 0.3f;
  Rng r1(11), r2(11), r3(12);
  const std::vector<float> a = vec(dropout(x, p, r1, true));
  const std::vector<float> b = vec(dropout(x, p, r2, true));
  const std::vector<float> c = vec(dropout(x, p, r3, true));
  CHECK(a == b);
  CHECK(a != c);
  int64_t kept = 0;
  for (float v : a) {
    REQUIRE((v == 0.0f || v == Approx(2.0f / (1 - p))));
    kept += v != 0.0f;
  }
  const double frac = (double)kept / (double)a.size();
  CHECK(frac == Approx(1 - p).margin(0.01));  // ~7 standard deviations for 100k draws
  // The next call draws a fresh mask from the advanced generator.
  CHECK(vec(dropout(x, p, r1, true)) != a);
  // Evaluation and p = 0: the identity, with no draws.
  Rng r4(11);
  CHECK(dropout(x, p, r4, false).data() == x.data());
  CHECK(dropout(x, 0.0f, r4, true).data() == x.data());
  CHECK(r4.state() == Rng(11).state());
  // Backward passes the gradient through the kept elements, scaled.
  Tensor y = randn({50}, 3);
  Rng r5(4);
  Tensor d = dropout(y, 0.5f, r5, true);
  sum_all(d).backward();
  const std::vector<float> g = y.grad_vector(), dv = vec(d);
  for (size_t i = 0; i < g.size(); ++i) CHECK(g[i] == (dv[i] == 0.0f ? 0.0f : 2.0f));
}
