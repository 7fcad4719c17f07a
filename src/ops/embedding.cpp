// ops/embedding.cpp — embedding lookup: rows of a table by id; backward scatter-adds.
//
// What it is: embedding(W, ids, ids_shape) -> [ids_shape..., D]: checks that W is [V,D] and
// every id is in [0,V), gathers with kernels::embedding_forward, records the scatter-add.
// The ids are plain ints, not a tensor: only W gets a gradient.
// What it is not: the loops (kernels/embedding.cpp), nor the model's token and position
// tables, their initialisation and their sum (nn/encoder.cpp).
#include <stdexcept>

#include "normlab/core/autograd.h"
#include "normlab/core/gradcheck.h"
#include "normlab/kernels/embedding.h"
#include "normlab/ops/ops.h"

namespace nl {

Tensor embedding(const Tensor& weight, const std::vector<int>& ids, const Shape& ids_shape) {
  if (weight.ndim() != 2)
    throw std::invalid_argument("embedding: weight is " + weight.shape_str() + ", expected [V,D]");
  if (numel_of(ids_shape) != (int64_t)ids.size())
    throw std::invalid_argument("embedding: " + std::to_string(ids.size()) + " ids do not fill ids_shape " +
                                shape_str(ids_shape));
  const int V = weight.dim(0), D = weight.dim(1);
  for (size_t n = 0; n < ids.size(); ++n)
    if (ids[n] < 0 || ids[n] >= V)
      throw std::invalid_argument("embedding: id " + std::to_string(ids[n]) + " at position " + std::to_string(n) +
                                  " is outside [0," + std::to_string(V) + ") for weight " + weight.shape_str());
  Shape out_shape = ids_shape;
  out_shape.push_back(D);
  const int64_t N = (int64_t)ids.size();
  Tensor out = Tensor::empty(out_shape);
  kernels::embedding_forward(out.data(), weight.data(), ids.data(), N, D);  // out[n,:] = W[ids[n],:]
  record(out, "embedding", {weight}, [weight, ids, N, D](TensorImpl& o) mutable {
    // forward: out[n,:] = W[ids[n],:]  =>  dW[ids[n],:] += dout[n,:]
    kernels::embedding_backward(weight.grad(), o.grad->ptr, ids.data(), N, D);
  });
  return out;
}

// ---- gradient checks -------------------------------------------------------------------
NL_GRADCHECK_CASE("embedding/repeated_ids", [] {
  return gradcheck("embedding/repeated_ids",
                   [](const std::vector<Tensor>& in) { return embedding(in[0], {1, 3, 1, 0, 3, 3}, {2, 3}); },
                   {randn({5, 4}, 121)});
});
NL_GRADCHECK_CASE("embedding/wide_rows", [] {
  // D = 37 spans several 16-column blocks of the backward kernel.
  return gradcheck("embedding/wide_rows",
                   [](const std::vector<Tensor>& in) { return embedding(in[0], {2, 0, 2}, {3}); },
                   {randn({3, 37}, 122)});
});

}  // namespace nl
