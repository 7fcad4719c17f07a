// ops/loss.cpp — cross-entropy with an ignore index (padding / unlabelled positions).
//
// What it is: cross_entropy(logits [N,C], targets) -> [1], one fused op:
// loss = (1/count) sum over counted rows n of -log softmax(logits[n])[t_n]
//      = (1/count) sum_n (lse_n - logits[n, t_n])
// Rows whose target is ignore_index do not count; if none count, the loss is 0 and
// no gradient flows. Forward keeps lse (one float per row) for backward, like llm.c.
// What it is not: log_softmax followed by a pick (the fused kernel pair in
// kernels/softmax.cpp never builds the probabilities in forward), nor label smoothing
// or class weights.
#include <stdexcept>

#include "normlab/core/autograd.h"
#include "normlab/core/gradcheck.h"
#include "normlab/kernels/softmax.h"
#include "normlab/ops/ops.h"

namespace nl {

Tensor cross_entropy(const Tensor& logits, const std::vector<int>& targets, int ignore_index) {
  if (logits.ndim() != 2 || (int64_t)targets.size() != logits.dim(0))
    throw std::invalid_argument("cross_entropy: logits are " + logits.shape_str() + " but there are " +
                                std::to_string(targets.size()) + " targets (expected [N,C] with N targets)");
  const int N = logits.dim(0), C = logits.dim(1);
  for (int n = 0; n < N; ++n)
    if (targets[n] != ignore_index && (targets[n] < 0 || targets[n] >= C))
      throw std::invalid_argument("cross_entropy: target " + std::to_string(targets[n]) + " at row " +
                                  std::to_string(n) + " is outside [0," + std::to_string(C) + ") for logits " +
                                  logits.shape_str());
  Tensor lse = Tensor::empty({N});
  Tensor row_loss = Tensor::empty({N});
  int count = 0;
  Tensor out = Tensor::empty({1});
  out.data()[0] = kernels::cross_entropy_forward(row_loss.data(), lse.data(), &count, logits.data(),
                                                 targets.data(), N, C, ignore_index);
  record(out, "cross_entropy", {logits}, [logits, lse, targets, N, C, ignore_index, count](TensorImpl& o) mutable {
    // forward: loss = (1/count) sum_n (lse_n - logits[n, t_n])
    //   =>  dlogits[n, c] += dloss / count * (softmax(logits[n])_c - [c == t_n])
    kernels::cross_entropy_backward(logits.grad(), o.grad->ptr[0], logits.data(), lse.data(), targets.data(),
                                    N, C, ignore_index, count);
  });
  return out;
}

// ---- gradient checks -------------------------------------------------------------------
NL_GRADCHECK_CASE("cross_entropy/plain", [] {
  return gradcheck("cross_entropy/plain",
                   [](const std::vector<Tensor>& in) { return cross_entropy(in[0], {2, 0, 4, 1}); },
                   {randn({4, 5}, 111)});
});
NL_GRADCHECK_CASE("cross_entropy/some_ignored", [] {
  return gradcheck("cross_entropy/some_ignored",
                   [](const std::vector<Tensor>& in) { return cross_entropy(in[0], {-1, 2, -1, 0, 1}); },
                   {randn({5, 3}, 112)});
});
NL_GRADCHECK_CASE("cross_entropy/all_ignored", [] {
  return gradcheck("cross_entropy/all_ignored",
                   [](const std::vector<Tensor>& in) { return cross_entropy(in[0], {7, 7, 7}, 7); },
                   {randn({3, 4}, 113)});
});
NL_GRADCHECK_CASE("cross_entropy/one_class_one_row", [] {
  return gradcheck("cross_entropy/one_class_one_row",
                   [](const std::vector<Tensor>& in) { return cross_entropy(in[0], {0}); },
                   {randn({1, 1}, 114)});
});
NL_GRADCHECK_CASE("cross_entropy/after_log_softmax_chain", [] {
  // Composed with other ops, so the upstream gradient is not 1.
  return gradcheck("cross_entropy/after_log_softmax_chain",
                   [](const std::vector<Tensor>& in) { return mul_scalar(cross_entropy(mul(in[0], in[0]), {1, 0}), 3.0f); },
                   {randn({2, 3}, 115)});
});

}  // namespace nl
