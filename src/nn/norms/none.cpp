// nn/norms/none.cpp — no normalization: the identity, the baseline of every comparison.
//
// What it is: forward returns x itself (same tensor, so the gradient passes straight through).
#include "common.h"

namespace nl {

namespace {

class NoNorm final : public Norm {
 public:
  explicit NoNorm(int D) : D_(D) {}
  Tensor forward(const Tensor& x, const Tensor& keep) override {
    norms::check_input("none", x, keep, D_);
    return x;
  }
  std::string type() const override { return "none"; }

 private:
  int D_;
};

}  // namespace

std::unique_ptr<Norm> make_none(const NormConfig&, int D) { return std::make_unique<NoNorm>(D); }

static const norms::NormGradchecks gradchecks("none");

}  // namespace nl
