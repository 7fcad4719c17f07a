// ops/shape.cpp — reshape (a view), transpose, permute, slice, concat.
//
// What it is: the five ops that move values without changing them, with their checks
// (errors name the op and the shape) and their backward closures.
// What it is not: a strided-view system: apart from reshape and a contiguous slice,
// every op here writes a new tensor with the loops of kernels/shape.cpp.
// Tensors are always contiguous, so only reshape and a slice whose result is one
// contiguous block (every axis before the sliced one has size 1) share storage; the
// others write a new tensor through kernels/shape.h. Backward of every op here moves
// the gradient back to where the value came from.
#include <numeric>
#include <stdexcept>

#include "normlab/core/autograd.h"
#include "normlab/core/gradcheck.h"
#include "normlab/kernels/shape.h"
#include "normlab/ops/ops.h"

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

Tensor permute(const Tensor& x, const std::vector<int>& perm) {
  const int R = x.ndim();
  std::vector<int> p(perm.size());
  std::vector<bool> used((size_t)R, false);
  bool ok = (int)perm.size() == R;
  for (size_t j = 0; ok && j < perm.size(); ++j) {
    p[j] = perm[j] < 0 ? perm[j] + R : perm[j];
    ok = p[j] >= 0 && p[j] < R && !used[p[j]];
    if (ok) used[p[j]] = true;
  }
  if (!ok)
    throw std::invalid_argument("permute: " + shape_str(perm) + " is not a permutation of the axes of " +
                                x.shape_str());
  Shape out_shape((size_t)R);
  for (int j = 0; j < R; ++j) out_shape[j] = x.shape()[p[j]];
  Tensor out = Tensor::empty(out_shape);
  const Shape in_shape = x.shape();
  kernels::permute_forward(out.data(), x.data(), in_shape, p);  // out axis j = x axis p[j]
  record(out, "permute", {x}, [x, in_shape, p](TensorImpl& o) mutable {
    // forward: out axis j = x axis p[j], i.e. out[o] = x[ix] for one ix per o
    //   =>  dx[ix] += dout[o]: dout moved back through the same index map
    kernels::permute_backward(x.grad(), o.grad->ptr, in_shape, p);
  });
  return out;
}

Tensor transpose(const Tensor& x, int axis0, int axis1) {
  const int R = x.ndim();
  const int a0 = axis0 < 0 ? axis0 + R : axis0, a1 = axis1 < 0 ? axis1 + R : axis1;
  if (a0 < 0 || a0 >= R || a1 < 0 || a1 >= R)
    throw std::invalid_argument("transpose: axes " + std::to_string(axis0) + "," + std::to_string(axis1) +
                                " out of range for " + x.shape_str());
  std::vector<int> perm((size_t)R);
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[a0], perm[a1]);
  return permute(x, perm);
}

// x viewed as [outer, n, inner] around `axis`.
static void split_at(const Shape& s, int axis, int64_t& outer, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int d = 0; d < axis; ++d) outer *= s[d];
  for (size_t d = (size_t)axis + 1; d < s.size(); ++d) inner *= s[d];
}

Tensor slice(const Tensor& x, int axis, int start, int end) {
  const int R = x.ndim();
  const int a = axis < 0 ? axis + R : axis;
  if (a < 0 || a >= R)
    throw std::invalid_argument("slice: axis " + std::to_string(axis) + " out of range for " + x.shape_str());
  const int n = x.shape()[a];
  if (start < 0) start += n;
  if (end < 0) end += n;
  if (start < 0 || end > n || start > end)
    throw std::invalid_argument("slice: [" + std::to_string(start) + "," + std::to_string(end) +
                                ") out of range for axis " + std::to_string(axis) + " of " + x.shape_str());
  Shape out_shape = x.shape();
  out_shape[a] = end - start;
  int64_t outer, inner;
  split_at(x.shape(), a, outer, inner);
  const int len = end - start;

  Tensor out;
  if (outer == 1) {
    // One contiguous block: a view into x's storage, no copy.
    auto p = std::make_shared<TensorImpl>();
    p->shape = out_shape;
    p->data = x.impl()->data;
    p->offset = x.impl()->offset + (size_t)start * inner;
    out = Tensor(std::move(p));
  } else {
    out = Tensor::empty(out_shape);
    // out[o, :, :] = x[o, start:end, :]
    kernels::copy_rows(out.data(), len * inner, x.data() + start * inner, n * inner, outer, len * inner, false);
  }
  record(out, "slice", {x}, [x, n, start, len, outer, inner](TensorImpl& o) mutable {
    // forward: out[o, :, :] = x[o, start:end, :]  =>  dx[o, start:end, :] += dout[o, :, :]
    kernels::copy_rows(x.grad() + start * inner, n * inner, o.grad->ptr, len * inner, outer, len * inner, true);
  });
  return out;
}

Tensor concat(const std::vector<Tensor>& xs, int axis) {
  if (xs.empty()) throw std::invalid_argument("concat: no tensors");
  const int R = xs[0].ndim();
  const int a = axis < 0 ? axis + R : axis;
  if (a < 0 || a >= R)
    throw std::invalid_argument("concat: axis " + std::to_string(axis) + " out of range for " + xs[0].shape_str());
  Shape out_shape = xs[0].shape();
  out_shape[a] = 0;
  for (const Tensor& t : xs) {
    bool ok = t.ndim() == R;
    for (int d = 0; ok && d < R; ++d) ok = d == a || t.shape()[d] == xs[0].shape()[d];
    if (!ok)
      throw std::invalid_argument("concat: " + t.shape_str() + " does not match " + xs[0].shape_str() +
                                  " outside axis " + std::to_string(axis));
    out_shape[a] += t.shape()[a];
  }
  int64_t outer, inner;
  split_at(out_shape, a, outer, inner);
  const int64_t out_row = (int64_t)out_shape[a] * inner;
  Tensor out = Tensor::empty(out_shape);
  std::vector<int64_t> starts;  // where each input's window begins in an out row
  int64_t at = 0;
  for (const Tensor& t : xs) {
    const int64_t row = (int64_t)t.shape()[a] * inner;
    starts.push_back(at);
    // out[o, at:at+row] = t[o, :]
    kernels::copy_rows(out.data() + at, out_row, t.data(), row, outer, row, false);
    at += row;
  }
  record(out, "concat", xs, [xs, starts, a, outer, inner, out_row](TensorImpl& o) mutable {
    // forward: out[o, at:at+row] = t[o, :]  =>  dt[o, :] += dout[o, at:at+row]
    for (size_t k = 0; k < xs.size(); ++k) {
      if (!xs[k].requires_grad()) continue;
      const int64_t row = (int64_t)xs[k].shape()[a] * inner;
      kernels::copy_rows(xs[k].grad(), row, o.grad->ptr + starts[k], out_row, outer, row, true);
    }
  });
  return out;
}

// ---- gradient checks -------------------------------------------------------------------
NL_GRADCHECK_CASE("reshape/infer_axis", [] {
  return gradcheck("reshape/infer_axis", [](const std::vector<Tensor>& in) { return reshape(in[0], {3, -1}); },
                   {randn({2, 3, 2}, 81)});
});
NL_GRADCHECK_CASE("transpose/last_two", [] {
  return gradcheck("transpose/last_two", [](const std::vector<Tensor>& in) { return transpose(in[0], -1, -2); },
                   {randn({2, 3, 4}, 82)});
});
NL_GRADCHECK_CASE("transpose/size1_axis", [] {
  return gradcheck("transpose/size1_axis", [](const std::vector<Tensor>& in) { return transpose(in[0], 0, 2); },
                   {randn({1, 3, 2}, 83)});
});
NL_GRADCHECK_CASE("permute/heads_BTHd_to_BHTd", [] {
  return gradcheck("permute/heads_BTHd_to_BHTd",
                   [](const std::vector<Tensor>& in) { return permute(in[0], {0, 2, 1, 3}); },
                   {randn({2, 3, 2, 4}, 84)});
});
NL_GRADCHECK_CASE("permute/cycle", [] {
  return gradcheck("permute/cycle", [](const std::vector<Tensor>& in) { return permute(in[0], {2, 0, 1}); },
                   {randn({2, 3, 4}, 85)});
});
NL_GRADCHECK_CASE("slice/first_axis_view", [] {
  return gradcheck("slice/first_axis_view", [](const std::vector<Tensor>& in) { return slice(in[0], 0, 1, 3); },
                   {randn({4, 3}, 86)});
});
NL_GRADCHECK_CASE("slice/middle_axis_copy", [] {
  return gradcheck("slice/middle_axis_copy", [](const std::vector<Tensor>& in) { return slice(in[0], 1, 1, 2); },
                   {randn({2, 3, 4}, 87)});
});
NL_GRADCHECK_CASE("slice/last_axis_negative", [] {
  return gradcheck("slice/last_axis_negative", [](const std::vector<Tensor>& in) { return slice(in[0], -1, -3, -1); },
                   {randn({3, 5}, 88)});
});
NL_GRADCHECK_CASE("concat/last_axis_three", [] {
  return gradcheck("concat/last_axis_three",
                   [](const std::vector<Tensor>& in) { return concat({in[0], in[1], in[2]}, -1); },
                   {randn({2, 3}, 89), randn({2, 1}, 90), randn({2, 4}, 91)});
});
NL_GRADCHECK_CASE("concat/first_axis_one_constant", [] {
  return gradcheck("concat/first_axis_one_constant",
                   [](const std::vector<Tensor>& in) { return concat({in[0], in[1]}, 0); },
                   {randn({1, 3}, 92), randn({2, 3}, 93, 1.0f, false)});
});
NL_GRADCHECK_CASE("concat/same_input_twice", [] {
  return gradcheck("concat/same_input_twice",
                   [](const std::vector<Tensor>& in) { return concat({in[0], in[0]}, 1); },
                   {randn({2, 2, 2}, 94)});
});

}  // namespace nl
