// graph.h — the autograd tape of one computation as Graphviz DOT.
//
// What it is: every tensor reachable from `root` through the tape becomes a node
// labelled with the op that made it (or the parameter's name) and its shape; an edge
// runs from each input to the op's output. Parameters are boxes filled in colour,
// other leaves (constants) are plain ellipses; the parameters of one layer ("layers.0.*")
// sit in one dashed cluster. `dot -Tpng graph.dot -o graph.png`.
// What it is not: a profiler; nothing is timed.
#pragma once
#include <map>
#include <string>

#include "normlab/tensor.h"

namespace nl {

std::string autograd_dot(const Tensor& root, const std::string& title = "normlab");

// How many tape nodes each op type has in the graph of `root` ("matmul" -> 12, ...);
// leaves count under "parameter" (requires grad) or "input" (constants).
std::map<std::string, int> op_histogram(const Tensor& root);

}  // namespace nl
