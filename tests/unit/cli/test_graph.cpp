// test_graph.cpp — `normlab graph`: the DOT of one training step of a tiny model matches its
// architecture.
//
// What it is not: a test of gradients: the step's tape is drawn, never differentiated.
#include <catch2/catch.hpp>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "normlab/config/config.h"
#include "normlab/core/graph.h"
#include "normlab/core/runtime.h"
#include "normlab/train/step_tape.h"
#include "normlab/train/trainer.h"
#include "testutil/process.h"
#include "testutil/runs.h"

namespace fs = std::filesystem;

namespace {

nl::Config graph_config(int layers, const std::string& kernels) {
  nl::Config c = nl::load_config(std::string(NORMLAB_SOURCE_DIR) + "/configs/tiny.json");
  c.model.layers = layers;         // tiny.json: positions none, post-LN, classify head
  c.train.threads = 1;
  REQUIRE(nl::from_name(kernels, c.train.kernels));
  c.train.batch_size = 8;
  return c;
}

int count(const std::map<std::string, int>& h, const std::string& k) {
  auto it = h.find(k);
  return it == h.end() ? 0 : it->second;
}

struct Dot {
  std::map<int, std::string> nodes;   // id -> the rest of the line
  std::vector<std::pair<int, int>> edges;
};

// "t<digits>" at s[i...]: the id, and i moved past it; -1 if it is not there.
int read_id(const std::string& s, size_t& i) {
  if (i >= s.size() || s[i] != 't') return -1;
  size_t j = i + 1;
  while (j < s.size() && std::isdigit((unsigned char)s[j])) ++j;
  if (j == i + 1) return -1;
  const int id = std::stoi(s.substr(i + 1, j - i - 1));
  i = j;
  return id;
}

// Node lines "  t12 [label=...];" and edge lines "  t3 -> t12;"; anything else is skipped.
Dot parse_dot(const std::string& text) {
  Dot d;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t i = line.find_first_not_of(' ');
    if (i == std::string::npos) continue;
    const int a = read_id(line, i);
    if (a < 0) continue;
    const std::string rest = line.substr(i);
    if (rest.size() >= 3 && rest.compare(0, 2, " [") == 0 && rest.compare(rest.size() - 2, 2, "];") == 0) {
      REQUIRE(d.nodes.count(a) == 0);  // declared once
      d.nodes[a] = rest.substr(2, rest.size() - 4);
    } else if (rest.compare(0, 4, " -> ") == 0) {
      size_t k = i + 4;
      const int b = read_id(line, k);
      if (b >= 0 && line.substr(k) == ";") d.edges.push_back({a, b});
    }
  }
  return d;
}

}  // namespace

TEST_CASE("graph: op counts of one training step follow the architecture", "[graph]") {
  for (int L : {1, 2}) {
    INFO("layers = " << L);
    nl::StepTape s = nl::first_training_step(graph_config(L, "fast"));
    const auto h = nl::op_histogram(s.loss);
    // Per layer: q, k, v, o, fc1, fc2 (each one fused linear op) and one fused attention
    // core (scores, mask, softmax, weighted sum); then the head's linear.
    CHECK(count(h, "linear") == 6 * L + 1);
    CHECK(count(h, "matmul") == 0);
    CHECK(count(h, "bias_add") == 0);
    CHECK(count(h, "attention") == L);
    CHECK(count(h, "softmax") == 0);
    CHECK(count(h, "gelu") == L);
    CHECK(count(h, "layernorm") == 2 * L);    // post-LN: norm1 and norm2
    CHECK(count(h, "embedding") == 1);        // tokens only (positions none)
    CHECK(count(h, "cross_entropy") == 1);
    CHECK(count(h, "dropout") == 0);          // dropout 0: identity, not recorded
    CHECK(count(h, "parameter") == (int)s.model->named_parameters().size());
  }
}

TEST_CASE("graph: with reference kernels the norm is drawn as the ops it is made of", "[graph]") {
  nl::StepTape s = nl::first_training_step(graph_config(1, "reference"));
  const auto h = nl::op_histogram(s.loss);
  CHECK(count(h, "layernorm") == 0);
  CHECK(count(h, "sqrt") == 2);               // sigma = sqrt(var + eps), once per norm
  CHECK(count(h, "matmul") == 9);             // 6 linears, q k^T, attn v, the head
  CHECK(count(h, "softmax") == 1);            // attention as its composed ops
  CHECK(count(h, "attention") == 0);
  CHECK(count(h, "parameter") == (int)s.model->named_parameters().size());
}

TEST_CASE("graph: the DOT declares every node once, edges join declared nodes, parameters are marked",
          "[graph]") {
  nl::StepTape s = nl::first_training_step(graph_config(2, "fast"));
  const std::string text = nl::autograd_dot(s.loss, "test");
  REQUIRE(text.rfind("digraph \"test\" {", 0) == 0);
  REQUIRE(text.substr(text.size() - 2) == "}\n");
  const Dot d = parse_dot(text);

  int total = 0;
  for (auto& [op, n] : nl::op_histogram(s.loss)) total += n;
  CHECK((int)d.nodes.size() == total);

  std::set<int> has_input;
  for (auto [from, to] : d.edges) {
    CHECK(d.nodes.count(from) == 1);
    CHECK(d.nodes.count(to) == 1);
    has_input.insert(to);
  }
  // Every parameter is a filled box named after it, and is a leaf (no incoming edge).
  int filled = 0;
  for (auto& [id, attrs] : d.nodes)
    if (attrs.find("fillcolor") != std::string::npos) {
      ++filled;
      CHECK(has_input.count(id) == 0);
    }
  const auto params = s.model->named_parameters();
  CHECK(filled == (int)params.size());
  for (const nl::NamedTensor& p : params) {
    INFO(p.name);
    CHECK(text.find("label=\"" + p.name + "\\n" + p.tensor.shape_str() + "\"") != std::string::npos);
  }
  CHECK(text.find("subgraph cluster_") != std::string::npos);  // parameters grouped by layer
  // The loss is the one node nothing consumes: a cross_entropy [1] box.
  std::set<int> consumed;
  for (auto [from, to] : d.edges) consumed.insert(from);
  int sinks = 0;
  for (auto& [id, attrs] : d.nodes)
    if (!consumed.count(id)) {
      ++sinks;
      CHECK(attrs.find("label=\"cross_entropy\\n[1]\"") != std::string::npos);
    }
  CHECK(sinks == 1);
}

TEST_CASE("graph: the drawn step is train()'s first step (same loss)", "[graph]") {
  nl::Config c = graph_config(1, "fast");
  c.train.steps = 1;
  c.train.log_every = 1;
  c.train.eval_every = 0;
  c.task.eval_size = 8;
  const fs::path dir = testutil::unique_temp("graph_first_step");
  const testutil::Metrics m = testutil::train_and_read_metrics(c, dir);
  REQUIRE(m.rows.size() == 1);
  const double logged = m.at(0, "loss");
  nl::StepTape s = nl::first_training_step(c);
  CHECK(s.loss.item() == Approx(logged).epsilon(1e-5));
  fs::remove_all(dir);
}

TEST_CASE("graph: the backward tape numbers every op in the order its closure ran, with gradients",
          "[graph]") {
  nl::StepTape s = nl::first_training_step(graph_config(1, "fast"));
  for (const nl::NamedTensor& p : s.model->named_parameters()) p.tensor.zero_grad();
  const nl::BackwardTrace trace = nl::traced_backward(s.loss);
  const std::string text = nl::backward_dot(s.loss, trace, "test");
  const Dot d = parse_dot(text);

  // Orders are 1..K, once each, K = the ops of the tape; #1 is the loss's own op.
  int ops = 0;
  for (auto& [op, n] : nl::op_histogram(s.loss)) ops += op == "parameter" || op == "input" ? 0 : n;
  std::map<int, int> order_of;  // node id -> order
  std::set<int> orders;
  for (auto& [id, attrs] : d.nodes) {
    const size_t hash = attrs.find("label=\"#");
    if (hash == std::string::npos) continue;
    const int k = std::stoi(attrs.substr(hash + 8));
    CHECK(orders.insert(k).second);
    order_of[id] = k;
    if (k == 1) CHECK(attrs.find("label=\"#1 cross_entropy\\n[1]\\n|grad| 1  {1}") != std::string::npos);
  }
  CHECK((int)orders.size() == ops);
  CHECK(*orders.begin() == 1);
  CHECK(*orders.rbegin() == ops);
  // Edges run the way gradients flow, output -> input; an op runs before the ops of its inputs.
  for (auto [from, to] : d.edges) {
    REQUIRE(order_of.count(from));
    if (order_of.count(to)) CHECK(order_of[from] < order_of[to]);
  }
  // A parameter's label carries the norm of the gradient backward left in it.
  for (const nl::NamedTensor& p : s.model->named_parameters()) {
    double sq = 0;
    for (float g : p.tensor.grad_vector()) sq += (double)g * g;
    char norm[32];
    std::snprintf(norm, sizeof norm, "|grad| %.4g ", std::sqrt(sq));
    INFO(p.name << " " << norm);
    CHECK(text.find("label=\"" + p.name + "\\n" + p.tensor.shape_str() + "\\n" + norm) != std::string::npos);
  }
}

TEST_CASE("graph: the forward tape with values shows each tensor's first values and statistics", "[graph]") {
  nl::StepTape s = nl::first_training_step(graph_config(1, "fast"));
  const std::string text = nl::autograd_dot(s.loss, "test", true);
  char loss[96];
  std::snprintf(loss, sizeof loss, "cross_entropy\\n[1]\\n{%.4g}\\nmin %.4g  max %.4g  mean %.4g\"", s.loss.item(),
                s.loss.item(), s.loss.item(), s.loss.item());
  CHECK(text.find(loss) != std::string::npos);
  const nl::ValueSummary v = nl::summarize(std::vector<float>{3, -1, 2, 0, 5}.data(), 5, 2);
  CHECK(v.head == std::vector<float>{3, -1});
  CHECK(v.min == -1);
  CHECK(v.max == 5);
  CHECK(v.mean == Approx(1.8));
  CHECK(v.norm == Approx(std::sqrt(39.0)));
  CHECK((int)parse_dot(text).nodes.size() == (int)parse_dot(nl::autograd_dot(s.loss, "test")).nodes.size());
}

TEST_CASE("graph: `normlab graph --out DIR` writes both tapes there and nothing elsewhere", "[graph][cli]") {
  testutil::TempDir dir("graph_cli");
  const fs::path out = dir / "g";
  const fs::path cwd = dir / "cwd";
  fs::create_directories(cwd);
  const std::string cmd = "cd " + cwd.string() + " && " + std::string(NORMLAB_BINARY) + " --threads 1 graph " +
                          std::string(NORMLAB_SOURCE_DIR) + "/configs/tiny.json --set model.layers=1 --out " + out.string() +
                          " >" + (dir / "stdout").string() + " 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const std::string said = testutil::slurp(dir / "stdout");
  INFO(said);
  CHECK(fs::is_empty(cwd));  // nothing in the folder it ran from
  const std::string fwd = testutil::slurp(out / "forward.dot"), bwd = testutil::slurp(out / "backward.dot");
  CHECK(fwd.find("forward\" {") != std::string::npos);
  CHECK(fwd.find("\\nmin ") != std::string::npos);
  CHECK(bwd.find("backward\" {") != std::string::npos);
  CHECK(bwd.find("label=\"#1 cross_entropy") != std::string::npos);
  CHECK(bwd.find("|grad| ") != std::string::npos);
  // With Graphviz installed the pictures are there; without it the command says how to render.
  if (std::system("command -v dot >/dev/null 2>&1") == 0) {
    CHECK(said.find("rendered ") != std::string::npos);
    CHECK(testutil::slurp(out / "backward.svg").find("<svg") != std::string::npos);
    CHECK(testutil::slurp(out / "forward.svg").find("<svg") != std::string::npos);
  } else {
    CHECK(said.find("render with:  dot -Tsvg " + out.string() + "/forward.dot") != std::string::npos);
  }
}
