// graph.cpp — DOT output of the tape (see graph.h).
//
// What it is: a walk over the tensors reachable from the root (topological_order, plus
// the constant leaves it skips because they need no gradient), printed as Graphviz nodes
// and edges. Parameters of one layer ("layers.0.*") are drawn inside one dashed box.
// What it is not: part of training; nothing here changes the tape.
#include "normlab/graph.h"

#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "normlab/autograd.h"

namespace nl {

namespace {

// "matmul", "layernorm", ... for op outputs; leaves are "parameter" (they require grad:
// the optimizer updates them) or "input" (constants: masks, targets, detached values).
std::string kind_of(const TensorImpl* t) {
  if (t->node) return t->node->op;
  return t->requires_grad ? "parameter" : "input";
}

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

// Every tensor of the graph, inputs before the tensors computed from them, including
// the leaves that do not require grad (topological_order leaves those out).
std::vector<TensorImpl*> all_tensors(const Tensor& root) {
  std::vector<TensorImpl*> out;
  std::unordered_set<TensorImpl*> seen;
  for (TensorImpl* t : topological_order(root)) {
    if (t->node)
      for (auto& in : t->node->inputs)
        if (!in->requires_grad && seen.insert(in.get()).second) out.push_back(in.get());
    if (seen.insert(t).second) out.push_back(t);
  }
  return out;
}

// The layer a parameter belongs to, for clustering: "layers.0" for "layers.0.attn.q.weight",
// else the first component ("embed", "head", "final_norm").
std::string group_of(const std::string& name) {
  size_t dot = name.find('.');
  if (name.compare(0, dot, "layers") == 0 && dot != std::string::npos)
    return name.substr(0, name.find('.', dot + 1));
  return name.substr(0, dot);
}

// One node: what made the tensor (or its name) and its shape; parameters filled boxes.
std::string node_line(TensorImpl* t, int id) {
  const std::string kind = kind_of(t);
  std::ostringstream o;
  o << "t" << id << " [label=\"";
  if (kind == "parameter") o << escape(t->name.empty() ? "(unnamed parameter)" : t->name);
  else if (kind == "input" && !t->name.empty()) o << escape(t->name);
  else o << escape(kind);
  o << "\\n" << shape_str(t->shape) << "\"";
  if (kind == "parameter") o << ", shape=box, style=filled, fillcolor=\"#ffd479\"";
  else if (kind == "input") o << ", shape=ellipse, color=gray";
  else o << ", shape=box, style=rounded";
  o << "];\n";
  return o.str();
}

}  // namespace

std::string autograd_dot(const Tensor& root, const std::string& title) {
  std::vector<TensorImpl*> tensors = all_tensors(root);
  std::unordered_map<TensorImpl*, int> id;
  for (TensorImpl* t : tensors) {
    const int next = (int)id.size();
    id[t] = next;
  }
  std::ostringstream o;
  o << "digraph \"" << escape(title) << "\" {\n"
    << "  label=\"" << escape(title) << "\";\n  labelloc=t;\n"
    << "  rankdir=BT;\n  node [fontname=\"Helvetica\", fontsize=10];\n";
  std::map<std::string, std::vector<TensorImpl*>> clusters;  // parameters by layer
  for (TensorImpl* t : tensors) {
    if (kind_of(t) == "parameter") clusters[group_of(t->name)].push_back(t);
    else o << "  " << node_line(t, id[t]);
  }
  int c = 0;
  for (auto& [group, params] : clusters) {
    o << "  subgraph cluster_" << c++ << " {\n    label=\"" << escape(group)
      << "\"; style=dashed; color=gray;\n";
    for (TensorImpl* t : params) o << "    " << node_line(t, id[t]);
    o << "  }\n";
  }
  for (TensorImpl* t : tensors)
    if (t->node)
      for (auto& in : t->node->inputs) o << "  t" << id[in.get()] << " -> t" << id[t] << ";\n";
  o << "}\n";
  return o.str();
}

std::map<std::string, int> op_histogram(const Tensor& root) {
  std::map<std::string, int> h;
  for (TensorImpl* t : all_tensors(root)) h[kind_of(t)]++;
  return h;
}

}  // namespace nl
