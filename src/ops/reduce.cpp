// ops/reduce.cpp — sum and mean over axes (keepdim or not), sum_all, mean_all.
//
// What it is: one function, reduce(), behind all four: axis checks, one sum_axes call
// forward, one expand_axes_add call backward (mean is the sum with scale = 1/count).
// What it is not: max, variance or any other reduction (there are none; the norms' plain
// twins build their variance from mean), nor the loops (kernels/reduce.cpp).
// forward:  out[kept] = scale * sum over the reduced axes of x   (scale = 1 or 1/count)
// backward: dx[...]  += scale * dout[kept]                       (a broadcast back)
// Reducing every axis without keepdim gives shape [1], like sum_all.
#include <stdexcept>

#include "normlab/core/autograd.h"
#include "normlab/core/gradcheck.h"
#include "normlab/kernels/reduce.h"
#include "normlab/ops/ops.h"

namespace nl {

namespace {

Tensor reduce(const char* name, const Tensor& x, const std::vector<int>& axes, bool keepdim,
              bool is_mean) {
  const int R = x.ndim();
  std::vector<bool> red((size_t)R, false);
  for (int a : axes) {
    const int d = a < 0 ? a + R : a;
    if (d < 0 || d >= R)
      throw std::invalid_argument(std::string(name) + ": axis " + std::to_string(a) +
                                  " out of range for " + x.shape_str());
    if (red[d])
      throw std::invalid_argument(std::string(name) + ": axis " + std::to_string(a) +
                                  " given twice for " + x.shape_str());
    red[d] = true;
  }
  Shape out_shape;
  int64_t count = 1;
  for (int d = 0; d < R; ++d) {
    if (red[d]) {
      count *= x.shape()[d];
      if (keepdim) out_shape.push_back(1);
    } else {
      out_shape.push_back(x.shape()[d]);
    }
  }
  if (out_shape.empty()) out_shape.push_back(1);
  const float scale = is_mean ? (count > 0 ? 1.0f / (float)count : 0.0f) : 1.0f;

  Tensor out = Tensor::empty(out_shape);
  const Shape in_shape = x.shape();
  kernels::sum_axes_fast(out.data(), x.data(), in_shape, red, scale, false);  // out = scale * sum x
  record(out, name, {x}, [x, in_shape, red, scale](TensorImpl& o) mutable {
    // forward: out = scale * sum_reduced x  =>  dx += scale * dout (broadcast back)
    kernels::expand_axes_add(x.grad(), o.grad->ptr, in_shape, red, scale);
  });
  return out;
}

std::vector<int> all_axes(const Tensor& x) {
  std::vector<int> axes;
  for (int d = 0; d < x.ndim(); ++d) axes.push_back(d);
  return axes;
}

}  // namespace

Tensor sum(const Tensor& x, std::vector<int> axes, bool keepdim) {
  return reduce("sum", x, axes, keepdim, false);
}
Tensor mean(const Tensor& x, std::vector<int> axes, bool keepdim) {
  return reduce("mean", x, axes, keepdim, true);
}
Tensor sum_all(const Tensor& x) { return reduce("sum_all", x, all_axes(x), false, false); }
Tensor mean_all(const Tensor& x) { return reduce("mean_all", x, all_axes(x), false, true); }

// ---- gradient checks -------------------------------------------------------------------
#define NL_REDUCE_CASE(NAME, EXPR, SHAPE, SEED)                                             \
  NL_GRADCHECK_CASE(NAME, [] {                                                              \
    return gradcheck(NAME, [](const std::vector<Tensor>& in) { const Tensor& x = in[0]; return EXPR; }, \
                     {randn(SHAPE, SEED)});                                                 \
  })

NL_REDUCE_CASE("sum/last_axis", sum(x, {-1}), Shape({3, 4}), 61);
NL_REDUCE_CASE("sum/first_axis_keepdim", sum(x, {0}, true), Shape({3, 4}), 62);
NL_REDUCE_CASE("sum/axes_0_1_of_3d", sum(x, {0, 1}), Shape({2, 3, 4}), 63);
NL_REDUCE_CASE("sum/axes_0_2_of_3d_keepdim", sum(x, {0, 2}, true), Shape({2, 3, 4}), 64);
NL_REDUCE_CASE("sum/size1_axes", sum(x, {1, 2}), Shape({3, 1, 1, 2}), 65);
NL_REDUCE_CASE("mean/last_axis_keepdim", mean(x, {-1}, true), Shape({2, 3, 5}), 66);
NL_REDUCE_CASE("mean/middle_axis", mean(x, {1}), Shape({2, 3, 4}), 67);
NL_REDUCE_CASE("mean/all_axes", mean(x, {0, 1, 2}), Shape({2, 2, 3}), 68);
NL_REDUCE_CASE("sum_all", sum_all(x), Shape({3, 5}), 69);
NL_REDUCE_CASE("mean_all", mean_all(x), Shape({4, 1, 3}), 70);

}  // namespace nl
