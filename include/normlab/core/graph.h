// graph.h — the autograd tape of one computation as Graphviz DOT, forward and backward.
//
// What it is: every tensor reachable from `root` through the tape becomes a node
// labelled with the op that made it (or the parameter's name) and its shape; an edge
// runs from each input to the op's output. Parameters are boxes filled in colour,
// other leaves (constants) are plain ellipses; the parameters of one layer ("layers.0.*")
// sit in one dashed cluster. With values, each node also shows its first values and
// min / max / mean. The backward drawing is the same nodes with the edges reversed (the
// way gradients flow), each op numbered in the order its closure ran (#1 is the loss's
// op) with its gradient's L2 norm and first values, as `nlnext-op` in gdb prints them.
// `dot -Tsvg forward.dot -o forward.svg`.
// What it is not: a profiler; nothing is timed.
#pragma once
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "normlab/core/tensor.h"

namespace nl {

// What a drawing shows of a float array: its first values and its statistics.
struct ValueSummary {
  std::vector<float> head;  // the first few values
  int64_t count = 0;
  double min = 0, max = 0, mean = 0, norm = 0;  // norm: L2, sqrt(sum of squares)
};
ValueSummary summarize(const float* v, int64_t n, int head = 4);

// What one backward walk did at a tensor: for an op's output, its number in the order the
// closures ran (1 = first); 0 for a leaf. The gradient is the complete dL/d(tensor): for an
// op's output as it was when its closure ran, for a leaf as the walk left it.
struct GradRecord {
  int order = 0;
  ValueSummary grad;
};
using BackwardTrace = std::unordered_map<const TensorImpl*, GradRecord>;

// Runs loss.backward() (dL/dL = 1) and records every gradient on the way, including those
// of intermediate tensors, which the walk frees as soon as their op's closure has run.
BackwardTrace traced_backward(Tensor loss);

// The forward tape: op (or name) and shape per node; with `values`, also the first values
// and min / max / mean of each tensor.
std::string autograd_dot(const Tensor& root, const std::string& title = "normlab", bool values = false);

// The backward tape of the same nodes: edges from each op's output to its inputs that
// take a gradient, ops labelled "#k op" in the order of `trace`, every gradient's norm.
std::string backward_dot(const Tensor& root, const BackwardTrace& trace, const std::string& title = "normlab");

// How many tape nodes each op type has in the graph of `root` ("matmul" -> 12, ...);
// leaves count under "parameter" (requires grad) or "input" (constants).
std::map<std::string, int> op_histogram(const Tensor& root);

}  // namespace nl
