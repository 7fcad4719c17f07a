// tests/gdb/probe.cpp — a tiny program for the gdb pretty-printer test (test_gdb.cpp).
//
// What it is: one LayerNorm forward and backward on a 2x3x4 tensor whose values are
// easy to recognise in gdb's output (x = -3, -2.5, -2, ...). Built with -O0 -g (see
// CMakeLists.txt, target normlab_gdb_probe) so that main's tensors are in scope when gdb
// stops in nl::kernels::layernorm_forward / layernorm_backward and goes up to main.
// What it is not: a test by itself; it prints one line and exits 0.
#include <cstdio>
#include <vector>

#include "normlab/core/autograd.h"
#include "normlab/nn/norm.h"
#include "normlab/core/runtime.h"

// A probe-local op, out = 3 x, whose closure is compiled here (-O0 -g): test_gdb.cpp's
// `nlnext-op probe_triple` and `step` from the tape walk land on its first line.
nl::Tensor probe_triple(const nl::Tensor& x) {
  nl::Tensor out = nl::Tensor::empty(x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) out.data()[i] = 3.0f * x.data()[i];
  nl::record(out, "probe_triple", {x}, [x](nl::TensorImpl& o) mutable {
    float* dx = x.grad();  // the closure's first line
    for (int64_t i = 0; i < x.numel(); ++i) dx[i] += 3.0f * o.grad->ptr[i];
  });
  return out;
}

int main() {
  nl::set_num_threads(1);
  const int B = 2, T = 3, D = 4;
  std::vector<float> xs(B * T * D), dys(B * T * D);
  for (int i = 0; i < B * T * D; ++i) {
    xs[i] = -3.0f + 0.5f * (float)i;          // -3, -2.5, -2, ...
    dys[i] = (float)((i % 5) - 2);            // -2, -1, 0, 1, 2, -2, ...
  }
  nl::Tensor x = nl::Tensor::from(xs, {B, T, D});
  x.set_requires_grad(true);
  nl::Tensor keep = nl::Tensor::full({B, T}, 1.0f);
  nl::Tensor dy = nl::Tensor::from(dys, {B, T, D});

  nl::NormConfig cfg;
  cfg.type = "layernorm";
  std::unique_ptr<nl::Norm> norm = nl::make_norm(cfg, D, nl::KernelSet::fast);  // calls the kernels
  nl::Tensor y = norm->forward(x, keep);   // break nl::kernels::layernorm_forward
  y.backward(dy);                          // break nl::kernels::layernorm_backward

  nl::Tensor w = nl::Tensor::from(xs, {B, T, D});
  w.set_requires_grad(true);
  nl::Tensor w3 = probe_triple(w);
  w3.backward(dy);                         // nlnext-op probe_triple

  // Touch the fields the printer reads, so their types are in this file's debug info.
  nl::TensorImpl* impl = x.impl();
  std::printf("probe: y %s, dx[0] = %g, buffer of %zu floats\n", y.shape_str().c_str(),
              x.grad()[0], impl->data->n);
  return 0;
}
