// graph.cpp — DOT output of the tape (see graph.h).
#include "normlab/graph.h"

#include <sstream>
#include <unordered_map>

#include "normlab/autograd.h"

namespace nl {

namespace {

std::string kind_of(const TensorImpl* t) {
  if (t->node) return t->node->op;
  return t->name.empty() ? "input" : "parameter";
}

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

// Every tensor of the graph, including leaves that do not require grad.
std::vector<TensorImpl*> all_tensors(const Tensor& root) {
  std::vector<TensorImpl*> order = topological_order(root);
  std::vector<TensorImpl*> out;
  std::unordered_map<TensorImpl*, bool> seen;
  for (TensorImpl* t : order) seen[t] = true;
  for (TensorImpl* t : order) {
    if (t->node)
      for (auto& in : t->node->inputs)
        if (!seen[in.get()]) {
          seen[in.get()] = true;
          out.push_back(in.get());
        }
    out.push_back(t);
  }
  return out;
}

}  // namespace

std::string autograd_dot(const Tensor& root, const std::string& title) {
  std::vector<TensorImpl*> tensors = all_tensors(root);
  std::unordered_map<TensorImpl*, int> id;
  for (TensorImpl* t : tensors) id[t] = (int)id.size();
  std::ostringstream o;
  o << "digraph \"" << escape(title) << "\" {\n"
    << "  rankdir=BT;\n  node [fontname=\"Helvetica\", fontsize=10];\n";
  for (TensorImpl* t : tensors) {
    const std::string kind = kind_of(t);
    o << "  t" << id[t] << " [label=\"";
    if (kind == "parameter") o << escape(t->name) << "\\n";
    else o << escape(kind) << "\\n";
    o << shape_str(t->shape) << "\"";
    if (kind == "parameter") o << ", shape=box, style=filled, fillcolor=\"#ffd479\"";
    else if (kind == "input") o << ", shape=ellipse, color=gray";
    else o << ", shape=box, style=rounded";
    o << "];\n";
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
