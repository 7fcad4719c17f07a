// graph.cpp — DOT output of the tape, forward and backward (see graph.h).
//
// What it is: a walk over the tensors reachable from the root (topological_order, plus
// the constant leaves it skips because they need no gradient), printed as Graphviz nodes
// and edges. Parameters of one layer ("layers.0.*") are drawn inside one dashed box. The
// backward drawing takes what traced_backward saw (Tensor::backward's watch) at each node.
// What it is not: part of training; nothing here changes the tape.
#include "normlab/core/graph.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>
#include <unordered_set>

#include "normlab/core/autograd.h"

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

// "{0.5704, 0.1076, ...}" then "min -1.614  max 1.675  mean 0.0123" (DOT line breaks).
std::string values_text(const ValueSummary& v) {
  std::ostringstream o;
  char buf[64];
  o << "{";
  for (size_t i = 0; i < v.head.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s%.4g", i ? ", " : "", v.head[i]);
    o << buf;
  }
  o << (v.count > (int64_t)v.head.size() ? ", ...}" : "}");
  std::snprintf(buf, sizeof buf, "\\nmin %.4g  max %.4g  mean %.4g", v.min, v.max, v.mean);
  return o.str() + buf;
}

// One node: what made the tensor (or its name) and its shape, then `more`; parameters are
// filled boxes.
std::string node_line(TensorImpl* t, int id, const std::string& prefix, const std::string& more) {
  const std::string kind = kind_of(t);
  std::ostringstream o;
  o << "t" << id << " [label=\"" << escape(prefix);
  if (kind == "parameter") o << escape(t->name.empty() ? "(unnamed parameter)" : t->name);
  else if (kind == "input" && !t->name.empty()) o << escape(t->name);
  else o << escape(kind);
  o << "\\n" << shape_str(t->shape) << more << "\"";
  if (kind == "parameter") o << ", shape=box, style=filled, fillcolor=\"#ffd479\"";
  else if (kind == "input") o << ", shape=ellipse, color=gray";
  else o << ", shape=box, style=rounded";
  o << "];\n";
  return o.str();
}

// The whole graph: nodes (parameters clustered by layer), then one edge per op input,
// input -> output (forward) or output -> input (backward: only the tensors that take a
// gradient, the constants are left out).
std::string draw(const Tensor& root, const std::string& title, bool backward,
                 const std::function<std::string(const TensorImpl*)>& prefix,
                 const std::function<std::string(const TensorImpl*)>& more) {
  std::vector<TensorImpl*> tensors = all_tensors(root);
  std::unordered_map<TensorImpl*, int> id;
  for (TensorImpl* t : tensors) {
    const int next = (int)id.size();
    id[t] = next;
  }
  std::ostringstream o;
  o << "digraph \"" << escape(title) << "\" {\n"
    << "  label=\"" << escape(title) << "\";\n  labelloc=t;\n"
    << "  rankdir=" << (backward ? "TB" : "BT") << ";\n  node [fontname=\"Helvetica\", fontsize=10];\n";
  if (backward) o << "  edge [color=\"#c0392b\"];\n";
  std::map<std::string, std::vector<TensorImpl*>> clusters;  // parameters by layer
  for (TensorImpl* t : tensors) {
    if (backward && !t->requires_grad) continue;  // constants take no gradient
    if (kind_of(t) == "parameter") clusters[group_of(t->name)].push_back(t);
    else o << "  " << node_line(t, id[t], prefix(t), more(t));
  }
  int c = 0;
  for (auto& [group, params] : clusters) {
    o << "  subgraph cluster_" << c++ << " {\n    label=\"" << escape(group)
      << "\"; style=dashed; color=gray;\n";
    for (TensorImpl* t : params) o << "    " << node_line(t, id[t], prefix(t), more(t));
    o << "  }\n";
  }
  for (TensorImpl* t : tensors)
    if (t->node)
      for (auto& in : t->node->inputs) {
        if (!backward) o << "  t" << id[in.get()] << " -> t" << id[t] << ";\n";
        else if (in->requires_grad) o << "  t" << id[t] << " -> t" << id[in.get()] << ";\n";
      }
  o << "}\n";
  return o.str();
}

}  // namespace

ValueSummary summarize(const float* v, int64_t n, int head) {
  ValueSummary s;
  s.count = n;
  for (int64_t i = 0; i < std::min<int64_t>(n, head); ++i) s.head.push_back(v[i]);
  if (n == 0) return s;
  double sum = 0, sq = 0;
  s.min = s.max = v[0];
  for (int64_t i = 0; i < n; ++i) {
    s.min = std::min(s.min, (double)v[i]);
    s.max = std::max(s.max, (double)v[i]);
    sum += v[i];
    sq += (double)v[i] * v[i];
  }
  s.mean = sum / (double)n;
  s.norm = std::sqrt(sq);
  return s;
}

BackwardTrace traced_backward(Tensor loss) {
  BackwardTrace trace;
  const BackwardWatch watch = [&](int order, const TensorImpl& out) {
    trace[&out] = GradRecord{order, summarize(out.grad->ptr, numel_of(out.shape))};
  };
  loss.backward(Tensor::full(loss.shape(), 1.0f), &watch);  // dL/dL = 1
  for (TensorImpl* t : topological_order(loss))
    if (!t->node && t->grad) trace[t] = GradRecord{0, summarize(t->grad->ptr, numel_of(t->shape))};
  return trace;
}

std::string autograd_dot(const Tensor& root, const std::string& title, bool values) {
  auto none = [](const TensorImpl*) { return std::string(); };
  auto vals = [](const TensorImpl* t) {
    return "\\n" + values_text(summarize(t->data->ptr + t->offset, numel_of(t->shape)));
  };
  return values ? draw(root, title, false, none, vals) : draw(root, title, false, none, none);
}

std::string backward_dot(const Tensor& root, const BackwardTrace& trace, const std::string& title) {
  auto order = [&](const TensorImpl* t) {
    auto it = trace.find(t);
    return it != trace.end() && it->second.order > 0 ? "#" + std::to_string(it->second.order) + " " : std::string();
  };
  auto grad = [&](const TensorImpl* t) {
    auto it = trace.find(t);
    if (it == trace.end()) return std::string(t->requires_grad ? "\\nno gradient" : "");
    char buf[64];
    std::snprintf(buf, sizeof buf, "\\n|grad| %.4g  ", it->second.grad.norm);
    return buf + values_text(it->second.grad);
  };
  return draw(root, title, true, order, grad);
}

std::map<std::string, int> op_histogram(const Tensor& root) {
  std::map<std::string, int> h;
  for (TensorImpl* t : all_tensors(root)) h[kind_of(t)]++;
  return h;
}

}  // namespace nl
