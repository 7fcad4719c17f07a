// nn/norms/common.h — what every norm file in this folder shares (not a public interface).
//
// What it is: the input check every Norm::forward starts with, parameter helpers, the
// gradient-check registration every norm file ends with, and the factories of the two
// families that several registered names share (LayerNorm with/without affine and with
// detached statistics; BatchNorm masked or counting pads).
// What it is not: the math (include/normlab/kernels/norm.h) or the name -> factory table
// (registry.cpp).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "normlab/config/config.h"
#include "normlab/nn/norm.h"
#include "normlab/core/tensor.h"

namespace nl::norms {

// x must be [..., D] with at least two axes ([B,T,D]); keep must have x's leading shape
// ([B,T]) or be undefined (every token real). Returns N, the number of rows (B*T).
// Throws std::invalid_argument starting with `type`.
int check_input(const char* type, const Tensor& x, const Tensor& keep, int D);

// cfg.eps, or the type's default when cfg.eps < 0.
inline float eps_or(const NormConfig& cfg, float default_eps) {
  return cfg.eps < 0 ? default_eps : cfg.eps;
}

// A learnable [D] vector filled with `value`.
Tensor make_param(const std::string& name, int D, float value);
// Appends weight (g) and bias (b) if defined, marked no_decay (AdamW does not decay norm gains).
void push_affine(const std::string& prefix, std::vector<NamedTensor>& out, const Tensor& g,
                 const Tensor& b);

// Pointers for kernels: null for an undefined tensor / one that wants no gradient.
inline const float* data_or_null(const Tensor& t) { return t.defined() ? t.data() : nullptr; }
inline float* grad_or_null(const Tensor& t) {
  return t.defined() && t.requires_grad() ? t.grad() : nullptr;
}

// ---- gradient checks ---------------------------------------------------------------------
// For norms whose backward deliberately stops a gradient (sg() in docs/math.md, Notation), the reference function
// whose derivative at x0 the backward must equal: the forward with the stopped parts frozen
// at their values at x0. `in` is {x, then the layer's parameters in named_parameters order};
// keep is the check's mask. Returns values only (no history). Used by the training checks;
// the eval checks compare with the layer's own forward.
using FrozenReference =
    std::function<Tensor(const std::vector<Tensor>& in, const Tensor& x0, const Tensor& keep)>;

// Registers gradient checks of `type`'s input and parameters (parameters moved away from
// their init) in the gradcheck registry: "norm/<type>/dense" and "norm/<type>/padded", and
// with eval_too also "norm/<type>/eval_dense" and "norm/<type>/eval_padded". The layer is
// built from `cfg` (its type set to `type`): the defaults unless a norm needs other settings.
struct NormGradchecks {
  explicit NormGradchecks(const std::string& type, bool eval_too = false,
                          FrozenReference frozen = nullptr, NormConfig cfg = NormConfig());
};

// ---- families ----------------------------------------------------------------------------
// layernorm (affine), layernorm_simple (no affine), detachnorm (no affine, stats detached).
std::unique_ptr<Norm> make_layernorm_family(const char* type, int D, float eps, bool affine,
                                            bool detach_stats);
// batchnorm (statistics over real tokens) and batchnorm_padded (over every position);
// comm: the ranks a synced BatchNorm shares its statistics with (nullptr: this batch alone).
std::unique_ptr<Norm> make_batchnorm_family(const char* type, int D, float eps, float momentum,
                                            bool count_pads, Comm* comm);

}  // namespace nl::norms
