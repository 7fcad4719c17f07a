// test_gradcheck.cpp — every registered gradient check (ops, norms, layers, whole models) must
// pass.
//
// What it is not: where the checks are written: each op, norm and layer registers its own
// beside its code (NL_GRADCHECK_CASE, norms::NormGradchecks).
#include <catch2/catch.hpp>

#include "normlab/core/autograd.h"
#include "normlab/core/gradcheck.h"

TEST_CASE("every registered gradient check passes", "[gradcheck]") {
  auto& cases = nl::gradcheck_registry();
  REQUIRE(cases.size() > 0);
  for (const auto& c : cases) {
    nl::GradcheckResult r = c.run(nl::KernelSet::fast);
    INFO(c.name << ": max abs " << r.max_abs_err << ", max rel " << r.max_rel_err << " " << r.detail);
    CHECK(r.ok);
  }
}

TEST_CASE("gradcheck catches a wrong backward", "[gradcheck]") {
  // A deliberately broken op: forward y = 2x, backward claims dy/dx = 3.
  auto broken = [](const std::vector<nl::Tensor>& in) {
    nl::Tensor x = in[0];
    nl::Tensor y = nl::Tensor::empty(x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) y.data()[i] = 2 * x.data()[i];
    nl::record(y, "broken", {x}, [x](nl::TensorImpl& o) mutable {
      for (int64_t i = 0; i < x.numel(); ++i) x.grad()[i] += 3 * o.grad->ptr[i];
    });
    return y;
  };
  nl::GradcheckResult r = nl::gradcheck("broken", broken, {nl::randn({3}, 1)});
  CHECK_FALSE(r.ok);
  CHECK(r.max_abs_err > 0.5f);
}
