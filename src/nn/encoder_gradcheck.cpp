// nn/encoder_gradcheck.cpp — whole-model gradient checks: "model/<head>/<norm>".
//
// What it is: a tiny encoder (D=8, H=2, F=16, B=2, lengths 5 and 3, so one sequence
// is padded) whose loss is checked by central differences against backward(), with
// respect to every parameter.
// What it is not: a check of a norm's own backward (nn/norms/ has those). Some norms
// differentiate something other than their forward on purpose (Norm::exact_gradient()),
// so finite differences cannot check every parameter through them:
//   adanorm:    sg(y) in C(1 - k sg(y)) y; checked with k = 0 (the settings it names as
//               exact, norm_exact_gradient_settings), where the sg factor is constant;
//   detachnorm: sg(mu), sg(sigma); only the head (after the last norm) is checked.
// The cases iterate norm_types(): a new norm gets its model checks with no edit here.
//
// Each head gets its own layout so that together the cases
// cover post and pre norm, the three kinds of positions, mean and first-token pooling,
// and the causal mask:
//   classify: post-norm, learned positions, GELU, mean pool, 2 layers
//   tag:      pre-norm (final norm), sinusoidal positions, GELU, 1 layer
//   lm:       pre-norm (final norm), no positions, GELU, causal, 2 layers
//   classify_first: post-norm, first-token pool, 1 layer (the standard norm, LayerNorm, only)
// All use GELU: a whole model has hundreds of ReLU inputs, and a finite-difference step
// that carries one across its kink gives a wrong "numeric" gradient; ReLU is checked in
// the FFN-layer cases (nn/layers.cpp) and by the relu op's own cases.
// The step is h = 3e-3: with init_std 0.5 the loss is curved enough that h = 1e-2 leaves
// a truncation error (O(h^2)) of ~5e-3, while 3e-3 keeps it and rounding below 1e-3.
// Each case runs single-threaded: a model this small only pays for thread start-up.
#include <memory>

#include "normlab/data/task.h"
#include "normlab/core/gradcheck.h"
#include "normlab/nn/encoder.h"
#include "normlab/core/runtime.h"

namespace nl {

namespace {

// A padded batch built by hand (what make_batch does, without depending on data/).
Batch tiny_batch(const std::string& head, int n_classes) {
  const std::vector<std::vector<int>> seqs = {{1, 4, 2, 5, 3}, {3, 1, 4}};
  Batch b;
  b.B = 2;
  b.T = 5;
  b.tokens.assign(b.B * b.T, kPad);
  std::vector<float> keep(b.B * b.T, 0.0f);
  if (head == "classify") b.targets = {1, n_classes - 1};
  else b.targets.assign(b.B * b.T, -1);
  for (int i = 0; i < b.B; ++i)
    for (size_t t = 0; t < seqs[i].size(); ++t) {
      const int r = i * b.T + (int)t;
      b.tokens[r] = seqs[i][t];
      keep[r] = 1.0f;
      ++b.n_real;
      if (head == "tag") b.targets[r] = (seqs[i][t] + (int)t) % n_classes;
      // lm: the next token; the last real token predicts token 1 ("end", say).
      if (head == "lm") b.targets[r] = t + 1 < seqs[i].size() ? seqs[i][t + 1] : 1;
    }
  b.keep = Tensor::from(keep, {b.B, b.T});
  return b;
}

struct Layout {
  std::string head;
  NormPosition position;
  Positions positions;
  Activation activation;
  Pool pool;
  int layers;
};

GradcheckResult check_model(const std::string& name, const Layout& l, const std::string& norm,
                            KernelSet ks) {
  ModelConfig cfg;
  cfg.d_model = 8;
  cfg.heads = 2;
  cfg.d_ff = 16;
  cfg.layers = l.layers;
  cfg.positions = l.positions;
  cfg.max_len = 6;
  cfg.activation = l.activation;
  cfg.pool = l.pool;
  cfg.init_std = 0.5f;  // large enough that attention is far from uniform
  cfg.norm.type = norm;
  cfg.norm.position = l.position;
  cfg.norm.settings = norm_exact_gradient_settings(norm);  // adanorm: k = 0, a constant sg factor
  const int V = 6, n_out = l.head == "lm" ? V : 3;
  ExecOptions exec;
  exec.kernels = ks;
  auto model = std::make_shared<Encoder>(cfg, l.head, V, n_out, 3, exec);
  auto batch = std::make_shared<Batch>(tiny_batch(l.head, n_out));

  // The inputs are the model's own parameter tensors: gradcheck perturbs them in place.
  // Behind a norm whose backward is not its forward's derivative (it says so), only the
  // head is checked.
  bool exact = true, stateful = false;
  for (const auto& [where, n] : model->norms()) {
    exact = exact && n->exact_gradient();
    stateful = stateful || n->stateful_training_forward();
  }
  // A forward that updates what it reads (PowerNorm) is checked in evaluation mode, where
  // it normalises with fixed running statistics and its backward is exact.
  if (stateful) {
    model->set_training(false);
    exact = true;
  }
  std::vector<Tensor> inputs;
  for (const NamedTensor& p : model->named_parameters())
    if (exact || p.name.rfind("head.", 0) == 0) inputs.push_back(p.tensor);
  GradcheckOptions opt;
  opt.h = 3e-3f;
  const int threads = num_threads();
  set_num_threads(1);
  GradcheckResult r = gradcheck(name, [model, batch](const std::vector<Tensor>&) {
    return model->loss(model->forward(*batch), *batch);
  }, inputs, opt);
  set_num_threads(threads);
  return r;
}

const Layout kClassify{"classify", NormPosition::post, Positions::learned, Activation::gelu, Pool::mean, 2};
const Layout kTag{"tag", NormPosition::pre, Positions::sinusoidal, Activation::gelu, Pool::mean, 1};
const Layout kLm{"lm", NormPosition::pre, Positions::none, Activation::gelu, Pool::mean, 2};
const Layout kClassifyFirst{"classify", NormPosition::post, Positions::learned, Activation::gelu, Pool::first, 1};

// Every registered norm, for every head.
struct Register {
  Register() {
    for (const Layout* l : {&kClassify, &kTag, &kLm})
      for (const std::string& norm : norm_types()) {
        const std::string name = "model/" + l->head + "/" + norm;
        const Layout layout = *l;
        const std::string n = norm;
        GradcheckRegistrar(name, [name, layout, n](KernelSet ks) { return check_model(name, layout, n, ks); });
      }
    const std::string standard = norm_for_role("standard");
    const std::string name = "model/classify_first/" + standard;
    GradcheckRegistrar(name, [name, standard](KernelSet ks) { return check_model(name, kClassifyFirst, standard, ks); });
  }
};
const Register register_model_cases;

}  // namespace

}  // namespace nl
