// autograd.cpp — the tape walk: topological sort, then each node's closure in reverse.
//
// What it is: micrograd's backward() for tensors. Leaves (parameters) accumulate
// gradients across backward calls until zero_grad(); intermediate tensors get fresh
// zeroed gradients on every walk, so walking the same graph twice adds the same
// amount to the leaves twice, as in PyTorch with retain_graph=True.
// What it is not: a graph optimiser or a scheduler; the walk is single-threaded and
// the kernels it calls parallelise themselves.
#include "normlab/core/autograd.h"

#include <cstring>
#include <stdexcept>
#include <unordered_set>

namespace nl {

namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }
NoGrad::NoGrad() : prev_(g_grad_enabled) { g_grad_enabled = false; }
NoGrad::~NoGrad() { g_grad_enabled = prev_; }

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

bool should_record(const std::vector<Tensor>& inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void attach_node(Tensor& out, const char* op, std::vector<Tensor> inputs, std::shared_ptr<Node> node,
                 OpFlops flops) {
  node->op = op;
  if (Profile* prof = active_profile()) {  // the op's forward ends here (profile.h)
    node->profile_slot = prof->slot(profile_part(), op);
    node->backward_flops = flops.backward;
    prof->lap(node->profile_slot, Phase::forward, flops.forward);
  }
  for (const Tensor& t : inputs)
    if (t.defined()) node->inputs.push_back(t.impl_ptr());
  out.impl()->node = std::move(node);
  out.impl()->requires_grad = true;
}

// One op's backward, the `order`-th of the walk: its closure adds into its inputs' gradients.
// A function of its own, never inlined and not file-local (so the compiler keeps its
// arguments as they are), so that gdb can break on every op's backward in any build:
// `nlnext-op` does, and reads `order` and `out` on entry.
[[gnu::noinline]] void run_closure([[maybe_unused]] int order, TensorImpl& out) { out.node->backward(out); }

std::vector<TensorImpl*> topological_order(const Tensor& root) {
  // Iterative post-order DFS (a deep model must not overflow the C++ stack).
  std::vector<TensorImpl*> order;
  std::unordered_set<TensorImpl*> seen;
  std::vector<std::pair<TensorImpl*, size_t>> stack;
  stack.push_back({root.impl(), 0});
  seen.insert(root.impl());
  while (!stack.empty()) {
    auto& [t, next] = stack.back();
    const size_t n_inputs = t->node ? t->node->inputs.size() : 0;
    if (next < n_inputs) {
      TensorImpl* in = t->node->inputs[next++].get();
      if (in->requires_grad && !seen.count(in)) {
        seen.insert(in);
        stack.push_back({in, 0});
      }
    } else {
      order.push_back(t);
      stack.pop_back();
    }
  }
  return order;  // inputs before the tensors computed from them
}

void Tensor::backward() {
  if (!defined()) throw std::logic_error("backward: undefined tensor");
  if (numel() != 1)
    throw std::invalid_argument("backward: needs a one-element loss, got " + shape_str());
  backward(Tensor::full(shape(), 1.0f));  // dL/dL = 1
}

void Tensor::backward(const Tensor& seed, const BackwardWatch* watch) {
  if (!defined()) throw std::logic_error("backward: undefined tensor");
  if (seed.shape() != shape())
    throw std::invalid_argument("backward: seed is " + seed.shape_str() + " but the tensor is " + shape_str());
  if (!requires_grad())
    throw std::invalid_argument("backward: the loss does not require grad (made under NoGrad, or from constants only?)");
  Profile* prof = active_profile();  // --profile: the walk's own work, then each closure
  if (prof) profile_lap(profile_part(), "other", Phase::forward);
  std::vector<TensorImpl*> order = topological_order(*this);
  // Gradients of intermediate tensors are made on first write (Tensor::grad() hands out a
  // zeroed buffer) and given back to the pool as soon as their op's backward has run, as
  // PyTorch does: at any moment only the gradients between the walk's frontier and the
  // inputs are alive, not one per activation. Leaves (parameters, inputs) keep theirs and
  // accumulate across backward calls.
  for (TensorImpl* t : order)
    if (t->node) t->grad.reset();  // a second backward through the same graph starts fresh
  float* g = grad();
  const float* s = seed.data();
  for (int64_t i = 0; i < numel(); ++i) g[i] += s[i];
  if (prof) profile_lap("autograd", "walk", Phase::backward);
  int ran = 0;  // ops whose closure has run (`nlnext-op` and `normlab graph` number them)
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    TensorImpl* t = *it;
    // A leaf has no op to undo. No consumer wrote a gradient: it is zero, and so is
    // everything its op would add.
    if (!t->node || !t->grad) continue;
    ++ran;
    if (watch) (*watch)(ran, *t);
    run_closure(ran, *t);  // gdb: `step` here lands in the op's closure
    if (t != impl()) t->grad.reset();
    if (prof) {
      const int slot = t->node->profile_slot >= 0 ? t->node->profile_slot : prof->slot("autograd", "unprofiled op");
      prof->lap(slot, Phase::backward, t->node->backward_flops);
    }
  }
}

}  // namespace nl
