// ops/shape.cpp — reshape (a view), transpose, permute, slice, concat.
#include <stdexcept>

#include "normlab/autograd.h"
#include "normlab/ops.h"

namespace nl {

Tensor reshape(const Tensor& x, const Shape& shape) {
  Shape s = shape;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      if (infer >= 0) throw std::invalid_argument("reshape: more than one -1 in " + shape_str(shape));
      infer = (int)i;
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0 && known > 0) s[infer] = (int)(x.numel() / known);
  if (numel_of(s) != x.numel())
    throw std::invalid_argument("reshape: cannot view " + x.shape_str() + " as " + shape_str(shape));
  // A view: same storage and offset, new shape.
  auto p = std::make_shared<TensorImpl>();
  p->shape = s;
  p->data = x.impl()->data;
  p->offset = x.impl()->offset;
  Tensor out(std::move(p));
  record(out, "reshape", {x}, [x](TensorImpl& o) mutable {
    // forward: out is x with another shape  =>  dx += dout, element for element
    const float* dout = o.grad->ptr;
    float* dx = x.grad();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) dx[i] += dout[i];
  });
  return out;
}

}  // namespace nl
