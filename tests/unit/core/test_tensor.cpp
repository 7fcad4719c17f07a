// test_tensor.cpp — Tensor basics, the Rng, and the buffer pool.
//
// What it is not: a test of ops or autograd (test_ops.cpp, test_autograd.cpp).
#include <catch2/catch.hpp>

#include <set>

#include "normlab/core/gradcheck.h"
#include "normlab/ops/ops.h"
#include "normlab/core/rng.h"
#include "normlab/core/runtime.h"
#include "normlab/core/tensor.h"

using namespace nl;

TEST_CASE("tensors are shared handles with row-major data", "[tensor]") {
  Tensor a = Tensor::from({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(a.shape() == Shape{2, 3});
  CHECK(a.numel() == 6);
  CHECK(a.dim(-1) == 3);
  CHECK(a.shape_str() == "[2,3]");
  Tensor b = a;  // a handle, not a copy
  b.data()[4] = 50;
  CHECK(a.data()[4] == 50);
  Tensor c = a.clone();
  c.data()[0] = -1;
  CHECK(a.data()[0] == 1);
  CHECK_THROWS_WITH(Tensor::from({1, 2, 3}, {2, 2}), "tensor: 3 values do not fill shape [2,2]");
  CHECK_THROWS_WITH(a.dim(2), "tensor: axis 2 out of range for [2,3]");
  CHECK_THROWS_WITH(a.item(), "item: tensor is [2,3], not one value");
}

TEST_CASE("reshape and first-axis slice are views of the same storage", "[tensor]") {
  Tensor a = Tensor::from({0, 1, 2, 3, 4, 5, 6, 7}, {4, 2});
  Tensor r = reshape(a, {2, -1});
  CHECK(r.shape() == Shape{2, 4});
  CHECK(r.data() == a.data());
  Tensor s = slice(a, 0, 1, 3);
  CHECK(s.shape() == Shape{2, 2});
  CHECK(s.data() == a.data() + 2);
  CHECK(s.to_vector() == std::vector<float>{2, 3, 4, 5});
  // A slice of a view of a slice still lands on the right element.
  Tensor ss = slice(reshape(s, {4}), 0, 3, 4);
  CHECK(ss.item() == 5);
  CHECK_THROWS_WITH(reshape(a, {3, -1}), "reshape: cannot view [4,2] as [3,-1]");
}

TEST_CASE("Rng is deterministic, resumable and in range", "[tensor]") {
  Rng a(42), b(42), c(43);
  std::vector<uint64_t> va, vb, vc;
  for (int i = 0; i < 100; ++i) { va.push_back(a.next_u64()); vb.push_back(b.next_u64()); vc.push_back(c.next_u64()); }
  CHECK(va == vb);
  CHECK(va != vc);
  // Saving the state and restoring it replays the same stream.
  auto st = a.state();
  std::vector<float> u1, u2;
  for (int i = 0; i < 50; ++i) u1.push_back(a.normal());
  a.set_state(st);
  for (int i = 0; i < 50; ++i) u2.push_back(a.normal());
  CHECK(u1 == u2);
  // derive: same (seed, tag) -> same stream; different tag -> different stream.
  CHECK(Rng::derive(5, 1).next_u64() == Rng::derive(5, 1).next_u64());
  CHECK(Rng::derive(5, 1).next_u64() != Rng::derive(5, 2).next_u64());
  Rng r(7);
  double sum = 0;
  std::set<int> seen;
  for (int i = 0; i < 20000; ++i) {
    const float u = r.uniform();
    REQUIRE(u >= 0.0f);
    REQUIRE(u < 1.0f);
    sum += u;
    const int k = r.randint(-2, 2);
    REQUIRE(k >= -2);
    REQUIRE(k <= 2);
    seen.insert(k);
  }
  CHECK(sum / 20000 == Approx(0.5).margin(0.02));
  CHECK(seen.size() == 5);
}

TEST_CASE("buffer pool: a repeated same-shape computation stops allocating", "[tensor]") {
#if defined(__SANITIZE_ADDRESS__)
  SUCCEED("the pool does not cache under AddressSanitizer (frees at once to catch use-after-free)");
#else
  Tensor W = randn({16, 8}, 1);
  Tensor x = randn({4, 8}, 2, 1.0f, false);
  auto step = [&] {
    W.zero_grad();
    Tensor loss = mean_all(gelu(linear(x, W, Tensor())));
    loss.backward();
  };
  step();  // warm-up: the pool learns the sizes
  const long long before = pool_stats().system_allocs;
  for (int i = 0; i < 3; ++i) step();
  const PoolStats after = pool_stats();
  CHECK(after.system_allocs == before);
  CHECK(after.reuses > 0);
#endif
}
