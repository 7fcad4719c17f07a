// test_autograd.cpp — the autograd contract: accumulation, fan-out, no_grad, no leaks or cycles.
//
// What it is not: a check of any op's gradient values (test_gradcheck.cpp runs those).
#include <catch2/catch.hpp>

#include <functional>
#include <memory>

#include "normlab/core/autograd.h"
#include "normlab/core/gradcheck.h"
#include "normlab/ops/ops.h"

using namespace nl;

TEST_CASE("a tensor feeding several ops gets the sum of their gradients (micrograd bug)", "[autograd]") {
  Tensor x = Tensor::from({-2.0f, 0.5f, 3.0f}, {3}).set_requires_grad();
  Tensor y = x * x + x;  // dy/dx = 2x + 1
  sum_all(y).backward();
  CHECK(x.grad_vector() == std::vector<float>{-3.0f, 2.0f, 7.0f});

  // The same input on both sides of one op, and a diamond through two branches.
  Tensor a = Tensor::from({1.5f}, {1}).set_requires_grad();
  Tensor b = a + a;                    // 2a
  Tensor z = mul(b, exp(a)) + b * a;   // 2a e^a + 2a^2
  z.backward();
  const float av = 1.5f;
  CHECK(a.grad()[0] == Approx(2 * std::exp(av) + 2 * av * std::exp(av) + 4 * av));
}

TEST_CASE("gradients accumulate across backward calls until zero_grad", "[autograd]") {
  Tensor x = Tensor::from({1.0f, -2.0f}, {2}).set_requires_grad();
  Tensor loss = sum_all(x * x);
  loss.backward();
  CHECK(x.grad_vector() == std::vector<float>{2.0f, -4.0f});
  loss.backward();  // the same graph again: leaves add the same amount again
  CHECK(x.grad_vector() == std::vector<float>{4.0f, -8.0f});
  x.zero_grad();
  CHECK(x.grad_vector() == std::vector<float>{0.0f, 0.0f});
  sum_all(mul_scalar(x, 3.0f)).backward();
  CHECK(x.grad_vector() == std::vector<float>{3.0f, 3.0f});
}

TEST_CASE("NoGrad records nothing", "[autograd]") {
  Tensor x = randn({2, 3}, 1);
  {
    NoGrad ng;
    CHECK_FALSE(grad_enabled());
    Tensor y = sum_all(relu(x) * x);
    CHECK_FALSE(y.requires_grad());
    CHECK(y.node() == nullptr);
    CHECK_THROWS_AS(y.backward(), std::invalid_argument);
  }
  CHECK(grad_enabled());
  Tensor y = sum_all(x * x);
  CHECK(y.requires_grad());
  CHECK(y.node() != nullptr);
  // Constants alone record nothing either.
  Tensor c = randn({2}, 2, 1.0f, false);
  CHECK(exp(c).node() == nullptr);
}

TEST_CASE("dropping the loss frees the whole graph (no cycles)", "[autograd]") {
  Tensor x = randn({3, 4}, 3);
  std::weak_ptr<TensorImpl> mid_w, loss_w;
  {
    Tensor mid = softmax(gelu(x * x), -1);
    mid_w = mid.impl_ptr();
    Tensor loss = mean_all(mid);
    loss_w = loss.impl_ptr();
    loss.backward();
    CHECK_FALSE(mid_w.expired());
  }
  CHECK(mid_w.expired());
  CHECK(loss_w.expired());
  CHECK(x.has_grad());  // the leaf keeps its gradient
}

TEST_CASE("no op's backward closure keeps its own output alive", "[autograd]") {
  Tensor a = randn({2, 3}, 4), b = randn({2, 3}, 5), pos = randn({2, 3}, 6);
  for (int64_t i = 0; i < pos.numel(); ++i) pos.data()[i] = 0.5f + std::fabs(pos.data()[i]);
  Tensor mask = Tensor::from({0, 1, 0}, {3});
  Rng rng(1);
  std::vector<std::pair<const char*, std::function<Tensor()>>> ops = {
      {"add", [&] { return add(a, b); }}, {"sub", [&] { return sub(a, b); }},
      {"mul", [&] { return mul(a, b); }}, {"div", [&] { return div(a, pos); }},
      {"add_scalar", [&] { return add_scalar(a, 1); }}, {"mul_scalar", [&] { return mul_scalar(a, 2); }},
      {"neg", [&] { return neg(a); }}, {"exp", [&] { return exp(a); }}, {"log", [&] { return log(pos); }},
      {"sqrt", [&] { return sqrt(pos); }}, {"pow", [&] { return pow(a, 2); }}, {"relu", [&] { return relu(a); }},
      {"gelu", [&] { return gelu(a); }}, {"tanh", [&] { return tanh(a); }},
      {"sum", [&] { return sum(a, {0}); }}, {"mean", [&] { return mean(a, {1}, true); }},
      {"sum_all", [&] { return sum_all(a); }}, {"mean_all", [&] { return mean_all(a); }},
      {"reshape", [&] { return reshape(a, {3, 2}); }}, {"transpose", [&] { return transpose(a, 0, 1); }},
      {"permute", [&] { return permute(a, {1, 0}); }}, {"slice", [&] { return slice(a, 1, 0, 2); }},
      {"concat", [&] { return concat({a, b}, 0); }}, {"softmax", [&] { return softmax(a); }},
      {"log_softmax", [&] { return log_softmax(a); }},
      {"cross_entropy", [&] { return cross_entropy(a, {0, 2}); }},
      {"embedding", [&] { return embedding(a, {1, 0, 1}, {3}); }},
      {"masked_fill", [&] { return masked_fill(a, mask, -1); }},
      {"dropout", [&] { return dropout(a, 0.5f, rng, true); }},
      {"matmul", [&] { return matmul(a, b, false, true); }},
  };
  for (auto& [name, f] : ops) {
    INFO(name);
    std::weak_ptr<TensorImpl> w;
    {
      Tensor out = f();
      REQUIRE(out.node() != nullptr);
      w = out.impl_ptr();
    }
    CHECK(w.expired());
  }
}

TEST_CASE("backward checks its seed and loss", "[autograd]") {
  Tensor x = randn({2, 2}, 7);
  Tensor y = x * x;
  CHECK_THROWS_WITH(y.backward(), "backward: needs a one-element loss, got [2,2]");
  CHECK_THROWS_WITH(y.backward(Tensor::zeros({4})), "backward: seed is [4] but the tensor is [2,2]");
  y.backward(Tensor::full({2, 2}, 1.0f));
  const std::vector<float> g = x.grad_vector();
  for (int i = 0; i < 4; ++i) CHECK(g[i] == Approx(2 * x.data()[i]));
}
