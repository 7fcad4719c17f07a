// gradcheck.h — central-difference gradient checking, reusable for any op or layer.
//
// What it is: given a function of some input tensors, compare the gradient that
// backward() computes against (f(x+h) - f(x-h)) / 2h for every element of every
// input that requires grad. The scalar checked is L = sum(f(inputs) * R) with a fixed
// random R, so that every output element matters with its own weight.
// Cases register themselves (NL_GRADCHECK_CASE) and `normlab gradcheck` and the test
// suite run them all.
// What it is not: a proof. Float32 central differences are good to ~1e-3; each
// case sets its tolerance (ggml does the same).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "normlab/core/exec.h"
#include "normlab/core/tensor.h"

namespace nl {

struct GradcheckOptions {
  float h = 1e-2f;        // finite-difference step
  float atol = 2e-3f;     // an element passes if abs err <= atol ...
  float rtol = 2e-2f;     // ... or rel err <= rtol
  uint64_t seed = 1234;   // for R
};

struct GradcheckResult {
  std::string name;
  float max_abs_err = 0;
  float max_rel_err = 0;
  bool ok = true;
  std::string detail;     // where the worst element was, for FAIL lines
  float atol = 0, rtol = 0;  // the case's tolerances (GradcheckOptions), for the report
};

using GradFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Check f at `inputs` (those with requires_grad are perturbed). The inputs' values
// are restored afterwards.
GradcheckResult gradcheck(const std::string& name, const GradFn& f,
                          std::vector<Tensor> inputs, const GradcheckOptions& opt = {});

// A named case; `run` builds inputs and calls gradcheck. Cases of layers and ops with a
// plain twin build them with the kernel set they are given (`normlab --kernels reference
// gradcheck` checks the twins); the others ignore it.
struct GradcheckCase {
  std::string name;
  std::function<GradcheckResult(KernelSet)> run;
};
std::vector<GradcheckCase>& gradcheck_registry();
struct GradcheckRegistrar {
  GradcheckRegistrar(const std::string& name, std::function<GradcheckResult(KernelSet)> run);
  GradcheckRegistrar(const std::string& name, std::function<GradcheckResult()> run);  // no twin
};
#define NL_CAT2(a, b) a##b
#define NL_CAT(a, b) NL_CAT2(a, b)
// NL_GRADCHECK_CASE("exp", [] { ... return gradcheck(...); });
// NL_GRADCHECK_CASE("matmul/2d", [](KernelSet ks) { ... matmul(a, b, false, false, ks) ... });
#define NL_GRADCHECK_CASE(name, ...) \
  static ::nl::GradcheckRegistrar NL_CAT(nl_gradcheck_case_, __COUNTER__)(name, __VA_ARGS__)

// Random tensors for checks: normal(0, std), seeded.
Tensor randn(const Shape& shape, uint64_t seed, float std = 1.0f, bool requires_grad = true);

}  // namespace nl
