// gradcheck.cpp — central differences against backward(), and the case registry.
//
// What it is: for every input element that requires grad, (L(x+h) - L(x-h)) / 2h next to
// the element's gradient from one backward(); an element fails when both its absolute and
// its relative error exceed the case's tolerances (gradcheck.h).
// What it is not: a test of the forward values — only that backward matches forward.
#include "normlab/core/gradcheck.h"

#include <cmath>
#include <cstdio>

#include "normlab/core/autograd.h"
#include "normlab/core/rng.h"

namespace nl {

Tensor randn(const Shape& shape, uint64_t seed, float std, bool requires_grad) {
  Rng rng(seed);
  Tensor t = Tensor::empty(shape);
  float* d = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) d[i] = std * rng.normal();
  t.set_requires_grad(requires_grad);
  return t;
}

// L = sum(y * R), in double so the difference quotient is not drowned by rounding.
static double weighted_sum(const Tensor& y, const std::vector<float>& R) {
  const float* d = y.data();
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) s += (double)d[i] * (double)R[(size_t)i];
  return s;
}

GradcheckResult gradcheck(const std::string& name, const GradFn& f, std::vector<Tensor> inputs,
                          const GradcheckOptions& opt) {
  GradcheckResult res;
  res.name = name;
  res.atol = opt.atol;
  res.rtol = opt.rtol;

  // Analytic: one backward of sum(y * R).
  for (Tensor& t : inputs) if (t.requires_grad()) t.zero_grad();
  Tensor y = f(inputs);
  std::vector<float> Rv((size_t)y.numel());
  Rng rng(opt.seed);
  for (float& r : Rv) r = rng.normal();
  y.backward(Tensor::from(Rv, y.shape()));  // dL/dy = R

  // Numeric: perturb each element of each input that requires grad.
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& t = inputs[k];
    if (!t.requires_grad()) continue;
    std::vector<float> analytic = t.grad_vector();
    float* x = t.data();
    for (int64_t i = 0; i < t.numel(); ++i) {
      const float x0 = x[i];
      double fp, fm;
      {
        NoGrad ng;
        x[i] = x0 + opt.h;
        fp = weighted_sum(f(inputs), Rv);
        x[i] = x0 - opt.h;
        fm = weighted_sum(f(inputs), Rv);
        x[i] = x0;
      }
      const double numeric = (fp - fm) / (2.0 * (double)opt.h);
      const double a = analytic[(size_t)i];
      const double abs_err = std::fabs(a - numeric);
      const double rel_err = abs_err / std::max(std::max(std::fabs(a), std::fabs(numeric)), 1e-6);
      if (abs_err > res.max_abs_err) res.max_abs_err = (float)abs_err;
      if (rel_err > res.max_rel_err && abs_err > 1e-6) res.max_rel_err = (float)rel_err;
      if (abs_err > opt.atol && rel_err > opt.rtol) {
        if (res.ok) {
          char buf[200];
          std::snprintf(buf, sizeof buf, "input %zu element %lld: analytic %.6g numeric %.6g", k,
                        (long long)i, a, numeric);
          res.detail = buf;
        }
        res.ok = false;
      }
    }
  }
  return res;
}

std::vector<GradcheckCase>& gradcheck_registry() {
  static std::vector<GradcheckCase> cases;
  return cases;
}

GradcheckRegistrar::GradcheckRegistrar(const std::string& name,
                                       std::function<GradcheckResult(KernelSet)> run) {
  gradcheck_registry().push_back({name, std::move(run)});
}

GradcheckRegistrar::GradcheckRegistrar(const std::string& name, std::function<GradcheckResult()> run) {
  gradcheck_registry().push_back({name, [run](KernelSet) { return run(); }});
}

}  // namespace nl
