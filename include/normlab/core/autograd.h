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
#include <memory>
#include <utility>
#include <vector>

#include "normlab/core/profile.h"
#include "normlab/core/tensor.h"

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

// The tape node of one op: the Node (op name, inputs) and the op's own closure, made in
// one allocation. A class per closure type rather than a std::function, so the tape walk
// calls normlab code only: from the walk, gdb's `step` comes through this one line into
// the op's lambda (the hook-stop of scripts/gdb/normlab_printers.py steps on through it, so
// `step` lands on the lambda's first line).
template <class F>
struct OpNode final : Node {
  explicit OpNode(F f) : closure(std::move(f)) {}
  void backward(TensorImpl& out) override { closure(out); }
  F closure;
};

// Whether an op with these inputs goes on the tape: recording is on and some input
// requires grad.
bool should_record(const std::vector<Tensor>& inputs);

// Give `out` its tape node (already holding the closure) with op name and inputs. While
// profiling (profile.h), this ends the op's forward lap and notes its FLOPs.
void attach_node(Tensor& out, const char* op, std::vector<Tensor> inputs, std::shared_ptr<Node> node,
                 OpFlops flops = {});

// Attach a tape node to `out`. `backward(TensorImpl& out)` runs once per backward() walk,
// after every consumer of `out` has added its share into out's gradient. It is only called
// when out.requires_grad(); inside, call `in.requires_grad()` before writing `in.grad()`.
// Does nothing when recording is off or no input requires grad. `flops`: what the op
// computes, for `--profile`'s GFLOP/s (ops with matrix products say; the rest leave it 0).
template <class F>
void record(Tensor& out, const char* op, std::vector<Tensor> inputs, F backward, OpFlops flops = {}) {
  if (!should_record(inputs)) return;
  attach_node(out, op, std::move(inputs), std::make_shared<OpNode<F>>(std::move(backward)), flops);
}

// Every tensor reachable from `root` through the tape, inputs before consumers.
std::vector<TensorImpl*> topological_order(const Tensor& root);

}  // namespace nl
