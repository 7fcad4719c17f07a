// autograd.h — how an op records itself on the tape, and the no_grad scope.
//
// The whole contract (micrograd's, in C++): an op computes its output, then calls
// record(out, "name", {inputs}, closure). The closure reads out's gradient and adds
// (+=) into its inputs' gradients. Tensor::backward() sorts the tape topologically
// and runs the closures in reverse. Closures capture inputs by value (a Tensor is a
// shared handle) and the output only as a raw TensorImpl*, so there are no cycles:
// the output owns its Node, the Node owns the inputs, nothing owns the output back.
// What it is not: the ops (ops.h) nor the walk's code (src/core/autograd.cpp).
#pragma once
#include <functional>
#include <vector>

#include "normlab/tensor.h"

namespace nl {

// Whether ops record onto the tape right now (false inside a NoGrad scope).
bool grad_enabled();

// Evaluation scope: ops inside it record nothing and keep nothing for backward.
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;
 private:
  bool prev_;
};

// True if any input requires grad and recording is on: the op should record.
bool needs_grad(std::initializer_list<const Tensor*> inputs);

// Attach a tape node to `out`. `backward` runs once per backward() walk, after every
// consumer of `out` has added its share into out's gradient. It is only called when
// out.requires_grad(); inside, call `in.requires_grad()` before writing `in.grad()`.
// Does nothing when recording is off or no input requires grad.
void record(Tensor& out, const char* op, std::vector<Tensor> inputs,
            std::function<void(TensorImpl& out)> backward);

// Every tensor reachable from `root` through the tape, inputs before consumers.
std::vector<TensorImpl*> topological_order(const Tensor& root);

}  // namespace nl
