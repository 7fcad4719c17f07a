// kernels/reduce.cpp — sum over axes: a plain walk, and a fast [outer, R, inner] path.
//
// What it is: sum_axes (out = or += scale * the sum over the reduced axes) and its adjoint
// expand_axes_add (the sum's backward: a broadcast back).
// What it is not: the ops sum/mean/sum_all/mean_all (ops/reduce.cpp), nor the broadcast
// backward of add/sub/mul/div (ops/elementwise.cpp); both call these kernels.
// Adjacent axes that are all kept or all reduced merge, so most reductions become
// [outer, R, inner]: sum over the last axis is [N, D, 1], BatchNorm statistics over
// (B,T) of [B,T,D] are [1, B*T, D], sum_all is [1, n, 1].
#include "normlab/kernels/reduce.h"

#include <cstddef>

#include "normlab/core/parallel.h"

namespace nl::kernels {

namespace {

// Merged axes: sizes and whether each group is reduced. Axes of size 1 are dropped.
struct Groups {
  std::vector<int64_t> size;
  std::vector<bool> red;
};

Groups merge(const std::vector<int>& shape, const std::vector<bool>& reduce) {
  Groups g;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!g.size.empty() && g.red.back() == reduce[d]) {
      g.size.back() *= shape[d];
    } else {
      g.size.push_back(shape[d]);
      g.red.push_back(reduce[d]);
    }
  }
  return g;
}

// Strides of x for the kept axes (in output order) and for the reduced axes.
struct Walk {
  std::vector<int64_t> kept_size, kept_stride, red_size, red_stride;
  int64_t n_out = 1, n_red = 1;
};

Walk make_walk(const std::vector<int>& shape_in, const std::vector<bool>& reduce_in) {
  // Walk the merged axes: fewer divisions per element, same order.
  const Groups g = merge(shape_in, reduce_in);
  const std::vector<int64_t>& shape = g.size;
  const std::vector<bool>& reduce = g.red;
  Walk w;
  int64_t stride = 1;
  std::vector<int64_t> strides(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= shape[d];
  }
  for (size_t d = 0; d < shape.size(); ++d) {
    if (reduce[d]) {
      w.red_size.push_back(shape[d]);
      w.red_stride.push_back(strides[d]);
      w.n_red *= shape[d];
    } else {
      w.kept_size.push_back(shape[d]);
      w.kept_stride.push_back(strides[d]);
      w.n_out *= shape[d];
    }
  }
  return w;
}

inline int64_t offset_of(int64_t i, const std::vector<int64_t>& size,
                         const std::vector<int64_t>& stride) {
  int64_t off = 0;
  for (size_t d = size.size(); d-- > 0;) {
    off += (i % size[d]) * stride[d];
    i /= size[d];
  }
  return off;
}

inline void store(float* out, float acc, float scale, bool accumulate) {
  *out = accumulate ? *out + scale * acc : scale * acc;
}

}  // namespace

// Plain twin: for every output element, walk its reduced elements in order.
void sum_axes_reference(float* out, const float* x, const std::vector<int>& shape,
                        const std::vector<bool>& reduce, float scale, bool accumulate) {
  const Walk w = make_walk(shape, reduce);
  for (int64_t o = 0; o < w.n_out; ++o) {
    const int64_t base = offset_of(o, w.kept_size, w.kept_stride);
    float acc = 0.0f;
    for (int64_t r = 0; r < w.n_red; ++r) acc += x[base + offset_of(r, w.red_size, w.red_stride)];
    store(&out[o], acc, scale, accumulate);
  }
}

void sum_axes_fast(float* out, const float* x, const std::vector<int>& shape,
                   const std::vector<bool>& reduce, float scale, bool accumulate) {
  const Groups g = merge(shape, reduce);
  // Read the merged groups as [outer, R, inner]; anything else takes the general walk.
  int64_t outer = 1, R = 1, inner = 1;
  size_t k = 0;
  if (k < g.size.size() && !g.red[k]) outer = g.size[k++];
  if (k < g.size.size() && g.red[k]) R = g.size[k++];
  if (k < g.size.size() && !g.red[k]) inner = g.size[k++];
  if (k != g.size.size()) {
    // General case (e.g. reduce axes 0 and 2 of 3): parallel over outputs, walk in order.
    const Walk w = make_walk(shape, reduce);
#pragma omp parallel for schedule(static) if (parallel_worth(w.n_out * w.n_red * kCostCheap))
    for (int64_t o = 0; o < w.n_out; ++o) {
      const int64_t base = offset_of(o, w.kept_size, w.kept_stride);
      float acc = 0.0f;
      for (int64_t r = 0; r < w.n_red; ++r) acc += x[base + offset_of(r, w.red_size, w.red_stride)];
      store(&out[o], acc, scale, accumulate);
    }
    return;
  }
  if (outer == 1 && inner == 1) {
    // One value: kSumChunks partials (fixed split), then their sum in order.
    float partial[kSumChunks];
    const int64_t chunk = (R + kSumChunks - 1) / kSumChunks;
#pragma omp parallel for schedule(static) if (parallel_worth(R * kCostCheap))
    for (int c = 0; c < kSumChunks; ++c) {
      float acc = 0.0f;
      const int64_t lo = c * chunk, hi = (c + 1) * chunk < R ? (c + 1) * chunk : R;
      for (int64_t r = lo; r < hi; ++r) acc += x[r];
      partial[c] = acc;
    }
    float acc = 0.0f;
    for (int c = 0; c < kSumChunks; ++c) acc += partial[c];
    store(out, acc, scale, accumulate);
    return;
  }
  if (inner == 1) {
    // Contiguous rows: out[o] = sum_r x[o, r].
#pragma omp parallel for schedule(static) if (parallel_worth(outer * R * kCostCheap))
    for (int64_t o = 0; o < outer; ++o) {
      const float* x_o = x + o * R;
      float acc = 0.0f;
      for (int64_t r = 0; r < R; ++r) acc += x_o[r];
      store(&out[o], acc, scale, accumulate);
    }
    return;
  }
  // out[o, i] = sum_r x[o, r, i]: blocks of 64 columns, rows added in order.
  constexpr int64_t BLK = 64;
  const int64_t nblk = (inner + BLK - 1) / BLK;
#pragma omp parallel for schedule(static) if (parallel_worth(outer * R * inner * kCostCheap))
  for (int64_t ob = 0; ob < outer * nblk; ++ob) {
    const int64_t o = ob / nblk, i0 = (ob % nblk) * BLK;
    const int64_t len = inner - i0 < BLK ? inner - i0 : BLK;
    float acc[BLK];
    for (int64_t i = 0; i < len; ++i) acc[i] = 0.0f;
    for (int64_t r = 0; r < R; ++r) {
      const float* x_or = x + (o * R + r) * inner + i0;
      for (int64_t i = 0; i < len; ++i) acc[i] += x_or[i];
    }
    for (int64_t i = 0; i < len; ++i) store(&out[o * inner + i0 + i], acc[i], scale, accumulate);
  }
}

// forward: out[o] = scale * sum_r x[o, r]  =>  dx[o, r] += scale * dout[o].
// Every dx element is written by exactly one iteration, so the loop is race-free.
void expand_axes_add(float* dx, const float* dout, const std::vector<int>& shape,
                     const std::vector<bool>& reduce, float scale) {
  // [outer, R, inner] (the mean pool's sum over T of [B,T,D]; any sum over one block of
  // adjacent axes): contiguous loops, each dx element gets the same `+= scale * dout[o]`
  // as in the general walk below, so the two agree bit for bit.
  const Groups gr = merge(shape, reduce);
  size_t k = 0;
  int64_t outer = 1, R = 1, inner = 1;
  if (k < gr.size.size() && !gr.red[k]) outer = gr.size[k++];
  if (k < gr.size.size() && gr.red[k]) R = gr.size[k++];
  if (k < gr.size.size() && !gr.red[k]) inner = gr.size[k++];
  // (g is computed in a loop of its own, as the walk computes it before its inner loop: a
  // product and a sum in one loop would be contracted into one FMA, rounded once, not twice.)
  if (k == gr.size.size()) {
    constexpr int64_t BLK = 64;
    const int64_t nblk = (inner + BLK - 1) / BLK;
#pragma omp parallel for schedule(static) if (parallel_worth(outer * R * inner * kCostCheap))
    for (int64_t ob = 0; ob < outer * nblk; ++ob) {
      const int64_t o = ob / nblk, i0 = (ob % nblk) * BLK;
      const int64_t len = inner - i0 < BLK ? inner - i0 : BLK;
      float g[BLK];
      for (int64_t i = 0; i < len; ++i) g[i] = scale * dout[o * inner + i0 + i];
      for (int64_t r = 0; r < R; ++r) {
        float* dx_or = dx + (o * R + r) * inner + i0;
        for (int64_t i = 0; i < len; ++i) dx_or[i] += g[i];
      }
    }
    return;
  }
  const Walk w = make_walk(shape, reduce);
  // Output-major: for each kept index, its reduced elements.
#pragma omp parallel for schedule(static) if (parallel_worth(w.n_out * w.n_red * kCostCheap))
  for (int64_t o = 0; o < w.n_out; ++o) {
    const int64_t base = offset_of(o, w.kept_size, w.kept_stride);
    const float g = scale * dout[o];
    for (int64_t r = 0; r < w.n_red; ++r) dx[base + offset_of(r, w.red_size, w.red_stride)] += g;
  }
}

}  // namespace nl::kernels
