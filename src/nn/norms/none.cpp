// nn/norms/none.cpp — no normalization: the identity, the baseline of every comparison.
//
// No paper: this is the control, a Transformer layer with its norm taken out.
// What it is: forward returns x itself (same tensor, so the gradient passes straight through).
// What it is not: a recipe for training without norms (such as Fixup or ReZero, which
// rescale the residual branches); it only takes the norm out. x and keep are still
// checked like every norm's input; there are no parameters.
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
  bool reads_pad_rows() const override { return false; }  // per token (or masked)

 private:
  int D_;
};

}  // namespace

std::unique_ptr<Norm> make_none(const NormConfig&, int D) { return std::make_unique<NoNorm>(D); }

static const norms::NormGradchecks gradchecks("none");

}  // namespace nl
