// test_encoder.cpp — the encoder: whole-model gradient checks, padding invariance, pads never
// attended, causality, initialisation shared across norms, parameter names and counts, losses.
//
// What it is not: a test of each norm or op on its own (test_norms*.cpp, test_ops*.cpp),
// nor of learning a task to a bound (test_train.cpp).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "normlab/core/autograd.h"
#include "normlab/data/task.h"
#include "normlab/core/gradcheck.h"
#include "normlab/nn/encoder.h"
#include "normlab/nn/layers.h"
#include "normlab/core/runtime.h"

using namespace nl;

namespace {

// Pad `seqs` to length T (>= the longest; 0 means the longest) the way make_batch does:
// PAD tokens, keep 0, target -1 at pads. labels: one per sequence for classify, one per
// token for tag; lm takes the next token (the last real token predicts token 1).
Batch pad_batch(const std::string& head, const std::vector<std::vector<int>>& seqs,
                const std::vector<std::vector<int>>& labels = {}, int T = 0) {
  Batch b;
  b.B = (int)seqs.size();
  for (const auto& s : seqs) T = std::max(T, (int)s.size());
  b.T = T;
  b.tokens.assign((size_t)b.B * T, kPad);
  std::vector<float> keep((size_t)b.B * T, 0.0f);
  b.targets.assign(head == "classify" ? b.B : b.B * T, -1);
  for (int i = 0; i < b.B; ++i) {
    if (head == "classify") b.targets[i] = labels.empty() ? i % 2 : labels[i][0];
    for (size_t t = 0; t < seqs[i].size(); ++t) {
      const int r = i * T + (int)t;
      b.tokens[r] = seqs[i][t];
      keep[r] = 1.0f;
      ++b.n_real;
      if (head == "tag") b.targets[r] = labels.empty() ? seqs[i][t] % 3 : labels[i][t];
      if (head == "lm") b.targets[r] = t + 1 < seqs[i].size() ? seqs[i][t + 1] : 1;
    }
  }
  b.keep = Tensor::from(keep, {b.B, T});
  return b;
}

ModelConfig small_config(const std::string& norm = "layernorm", const std::string& position = "post") {
  ModelConfig cfg;
  cfg.d_model = 16;
  cfg.heads = 4;
  cfg.d_ff = 32;
  cfg.layers = 2;
  cfg.max_len = 16;
  cfg.init_std = 0.3f;  // large enough that attention is far from uniform
  cfg.norm.type = norm;
  REQUIRE(nl::from_name(position, cfg.norm.position));
  return cfg;
}

// Row r of a [rows, C] tensor.
std::vector<float> row(const Tensor& t, int r) {
  const int C = t.dim(1);
  return std::vector<float>(t.data() + (size_t)r * C, t.data() + (size_t)(r + 1) * C);
}

float max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

std::map<std::string, std::vector<float>> values(const Encoder& m) {
  std::map<std::string, std::vector<float>> v;
  for (const NamedTensor& p : m.named_parameters()) v[p.name] = p.tensor.to_vector();
  return v;
}

// Tiny models only pay for thread start-up: run their many forwards on one thread.
struct OneThread {
  int prev = num_threads();
  OneThread() { set_num_threads(1); }
  ~OneThread() { set_num_threads(prev); }
};

const std::vector<std::string> kNorms = nl::norm_types();

}  // namespace

TEST_CASE("whole-model and attention gradient checks pass", "[encoder]") {
  int n = 0;
  for (const GradcheckCase& c : gradcheck_registry()) {
    const bool ours = c.name.rfind("model/", 0) == 0 || c.name.rfind("attention/", 0) == 0 ||
                      c.name.rfind("ffn/", 0) == 0;
    if (!ours) continue;
    ++n;
    GradcheckResult r = c.run(KernelSet::fast);
    INFO(c.name << ": max abs " << r.max_abs_err << ", max rel " << r.max_rel_err << " " << r.detail);
    CHECK(r.ok);
  }
  CHECK(n == 3 * (int)kNorms.size() + 1 + 2 + 2);  // 3 heads x every norm, classify_first, attention, ffn
}

TEST_CASE("the whole-model check can fail: detachnorm's backward is not its forward's derivative", "[encoder]") {
  // DetachNorm treats mu and sigma as constants in backward on purpose, so central
  // differences through it disagree with backward(): the check is not blind.
  ModelConfig cfg = small_config("detachnorm");
  cfg.d_model = 8;
  cfg.heads = 2;
  cfg.d_ff = 16;
  cfg.layers = 1;
  cfg.init_std = 0.5f;
  auto model = std::make_shared<Encoder>(cfg, "classify", 6, 3, 3);
  Batch b = pad_batch("classify", {{1, 4, 2, 5, 3}, {3, 1, 4}});
  std::vector<Tensor> inputs;
  for (const NamedTensor& p : model->named_parameters())
    if (p.name.rfind("layers.0.attn.v.", 0) == 0) inputs.push_back(p.tensor);
  OneThread one;
  GradcheckResult r = gradcheck("detachnorm_through", [&](const std::vector<Tensor>&) {
    return model->loss(model->forward(b), b);
  }, inputs);
  CHECK_FALSE(r.ok);
}

TEST_CASE("padding invariance: a sequence's logits ignore extra padding and other sequences", "[encoder]") {
  const std::vector<int> A = {2, 5, 3, 1, 6};
  for (const std::string position : {"post", "pre"}) {
    for (const std::string positions : {"learned", "sinusoidal", "none"}) {
      INFO(position << " / " << positions);
      ModelConfig cfg = small_config("layernorm", position);
      REQUIRE(nl::from_name(positions, cfg.positions));
      Encoder model(cfg, "classify", 8, 3, 11);
      Encoder tagger(cfg, "tag", 8, 3, 11);

      Batch alone = pad_batch("classify", {A});
      Batch padded = pad_batch("classify", {A, {7, 7, 1}}, {}, 12);              // 7 more pads
      Batch other = pad_batch("classify", {{4, 4, 4, 4, 4, 4, 4, 4, 4}, A});      // A second
      const auto ref = row(model.forward(alone), 0);
      CHECK(max_diff(ref, row(model.forward(padded), 0)) < 1e-5f);
      CHECK(max_diff(ref, row(model.forward(other), 1)) < 1e-5f);

      // Per token too (tag head): A's rows are unchanged wherever A sits.
      Tensor t_alone = tagger.forward(pad_batch("tag", {A}));
      Tensor t_other = tagger.forward(pad_batch("tag", {{4, 4, 4, 4, 4, 4, 4, 4, 4}, A}, {}, 11));
      for (int t = 0; t < (int)A.size(); ++t)
        CHECK(max_diff(row(t_alone, t), row(t_other, 11 + t)) < 1e-5f);
    }
  }
}

TEST_CASE("attention never attends to pads: token ids at pad positions change nothing", "[encoder]") {
  auto run = [](const std::string& norm, const std::string& head) {
    ModelConfig cfg = small_config(norm);
    Encoder model(cfg, head, 8, head == "lm" ? 8 : 3, 5);
    Batch b = pad_batch(head, {{1, 2, 3, 4, 5, 6}, {6, 5, 4}, {3, 3}});
    Tensor y0 = model.forward(b);
    for (size_t i = 0; i < b.tokens.size(); ++i)
      if (b.keep.data()[i] == 0.0f) b.tokens[i] = 1 + (int)(i % 7);   // garbage at pads
    Tensor y1 = model.forward(b);
    float worst = 0;
    for (int r = 0; r < y0.dim(0); ++r) {
      const bool real = head == "classify" || b.keep.data()[r] != 0.0f;
      if (real) worst = std::max(worst, max_diff(row(y0, r), row(y1, r)));
    }
    return worst;
  };
  for (const std::string norm : {"layernorm", "rmsnorm", "batchnorm", "none"}) {
    for (const std::string head : {"classify", "tag", "lm"}) {
      INFO(norm << " / " << head);
      CHECK(run(norm, head) < 1e-6f);
    }
  }
  // batchnorm_padded takes statistics over pads too: what pads hold leaks into every token.
  CHECK(run("batchnorm_padded", "tag") > 1e-3f);
}

TEST_CASE("causal: a later token never changes earlier outputs of the lm head", "[encoder]") {
  for (const std::string position : {"post", "pre"}) {
    INFO(position);
    ModelConfig cfg = small_config("layernorm", position);
    Encoder lm(cfg, "lm", 8, 8, 2);
    Batch b = pad_batch("lm", {{1, 2, 3, 4, 5, 6}});
    Tensor y0 = lm.forward(b);
    b.tokens[3] = 7;
    Tensor y1 = lm.forward(b);
    for (int t = 0; t < 3; ++t) CHECK(max_diff(row(y0, t), row(y1, t)) < 1e-6f);
    for (int t = 3; t < 6; ++t) CHECK(max_diff(row(y0, t), row(y1, t)) > 1e-4f);

    // Without the causal mask (tag head, model.causal off) earlier tokens do see it.
    Encoder tagger(cfg, "tag", 8, 8, 2);
    Batch c = pad_batch("tag", {{1, 2, 3, 4, 5, 6}});
    Tensor z0 = tagger.forward(c);
    c.tokens[3] = 7;
    CHECK(max_diff(row(z0, 0), row(tagger.forward(c), 0)) > 1e-4f);
    // ... and with model.causal on, a tag head is causal too.
    cfg.causal = true;
    Encoder causal_tagger(cfg, "tag", 8, 8, 2);
    Batch d = pad_batch("tag", {{1, 2, 3, 4, 5, 6}});
    Tensor w0 = causal_tagger.forward(d);
    d.tokens[3] = 7;
    CHECK(max_diff(row(w0, 0), row(causal_tagger.forward(d), 0)) < 1e-6f);
  }
}

TEST_CASE("models differing only in norm type start identical on every shared parameter", "[encoder]") {
  for (const std::string position : {"post", "pre"}) {
    const auto ref = values(Encoder(small_config("layernorm", position), "classify", 8, 3, 42));
    for (const std::string& norm : kNorms) {
      INFO(position << " / " << norm);
      const auto v = values(Encoder(small_config(norm, position), "classify", 8, 3, 42));
      int shared = 0;
      for (const auto& [name, x] : v) {
        auto it = ref.find(name);
        if (it == ref.end()) continue;
        ++shared;
        CHECK(it->second == x);
      }
      CHECK(shared >= 2 + 2 * 8 + 2);  // embeddings, 8 attention + 4 FFN tensors per layer, head
    }
  }
  // Post and pre share every non-norm parameter too; another seed changes them all.
  const auto post = values(Encoder(small_config("layernorm", "post"), "classify", 8, 3, 42));
  const auto pre = values(Encoder(small_config("layernorm", "pre"), "classify", 8, 3, 42));
  const auto other = values(Encoder(small_config("layernorm", "post"), "classify", 8, 3, 43));
  CHECK(post.at("layers.1.ffn.fc2.weight") == pre.at("layers.1.ffn.fc2.weight"));
  CHECK(post.at("embed.tokens.weight") != other.at("embed.tokens.weight"));
  CHECK(post.at("layers.0.attn.q.weight") != other.at("layers.0.attn.q.weight"));
  // Every weight has its own stream: q and k of one layer differ.
  CHECK(post.at("layers.0.attn.q.weight") != post.at("layers.0.attn.k.weight"));
}

TEST_CASE("init: weights normal(0, init_std), biases 0, norm params as the norm sets them", "[encoder]") {
  ModelConfig cfg = small_config();
  cfg.init_std = 0.02f;
  Encoder model(cfg, "classify", 8, 3, 1);
  for (const NamedTensor& p : model.named_parameters()) {
    INFO(p.name);
    const auto v = p.tensor.to_vector();
    const bool is_norm = p.name.find("norm") != std::string::npos;
    const bool is_bias = p.name.size() >= 5 && p.name.compare(p.name.size() - 5, 5, ".bias") == 0;
    if (is_norm && !is_bias) {
      for (float x : v) CHECK(x == 1.0f);  // layernorm gain
    } else if (is_bias) {
      for (float x : v) CHECK(x == 0.0f);
    } else {
      double s = 0, s2 = 0;
      for (float x : v) { s += x; s2 += (double)x * x; }
      const double mean = s / v.size(), sd = std::sqrt(s2 / v.size() - mean * mean);
      CHECK(std::fabs(mean) < 0.01);
      CHECK(sd == Approx(0.02).epsilon(0.25));
    }
    CHECK(p.tensor.requires_grad());
    CHECK(p.tensor.name() == p.name);
  }
}

TEST_CASE("parameter names, no_decay flags and the parameter count formula", "[encoder]") {
  struct Case { std::string norm, position, positions, head; int layers, norm_params; };
  // norm_params: parameters of one norm of width D (2D for gain+bias, D for gain only).
  const int D = 16, F = 32, V = 8, max_len = 16;
  for (const Case& c : std::vector<Case>{{"layernorm", "post", "learned", "classify", 2, 2 * D},
                                         {"layernorm", "pre", "sinusoidal", "tag", 3, 2 * D},
                                         {"rmsnorm", "pre", "none", "lm", 1, D},
                                         {"batchnorm", "post", "learned", "tag", 2, 2 * D},
                                         {"none", "pre", "learned", "classify", 2, 0},
                                         {"layernorm_simple", "post", "none", "lm", 0, 0}}) {
    INFO(c.norm << " " << c.position << " " << c.positions << " " << c.head << " L=" << c.layers);
    ModelConfig cfg = small_config(c.norm, c.position);
    REQUIRE(nl::from_name(c.positions, cfg.positions));
    cfg.layers = c.layers;
    const int n_out = c.head == "lm" ? V : 3;
    Encoder model(cfg, c.head, V, n_out, 1);

    const int64_t L = c.layers, pre = c.position == "pre";
    const int64_t expected = (int64_t)V * D + (c.positions == "learned" ? max_len * D : 0) +
                             L * (4 * (D * D + D) + (D * F + F) + (F * D + D) + 2 * c.norm_params) +
                             pre * c.norm_params + (D * n_out + n_out);
    int64_t total = 0;
    std::set<std::string> names;
    for (const NamedTensor& p : model.named_parameters()) {
      total += p.tensor.numel();
      names.insert(p.name);
      const bool is_bias = p.name.compare(p.name.size() - 5, 5, ".bias") == 0;
      const bool is_norm = p.name.find("norm") != std::string::npos;
      CHECK(p.no_decay == (is_bias || is_norm));
    }
    CHECK(total == expected);

    std::set<std::string> want = {"embed.tokens.weight", "head.weight", "head.bias"};
    if (c.positions == "learned") want.insert("embed.positions.weight");
    for (int i = 0; i < c.layers; ++i) {
      const std::string p = "layers." + std::to_string(i);
      for (const char* proj : {"q", "k", "v", "o"})
        for (const char* w : {"weight", "bias"}) want.insert(p + ".attn." + proj + "." + w);
      for (const char* fc : {"fc1", "fc2"})
        for (const char* w : {"weight", "bias"}) want.insert(p + ".ffn." + fc + "." + w);
    }
    std::set<std::string> non_norm;
    for (const std::string& n : names)
      if (n.find("norm") == std::string::npos) non_norm.insert(n);
    CHECK(non_norm == want);
    for (const std::string& n : names)
      if (n.find("norm") != std::string::npos) {
        const bool ok = n.rfind("final_norm.", 0) == 0 || n.find(".norm1.") != std::string::npos ||
                        n.find(".norm2.") != std::string::npos;
        CHECK(ok);
      }
  }
}

TEST_CASE("pre-norm has one final norm after the stack; post-norm has none", "[encoder]") {
  Encoder post(small_config("layernorm", "post"), "classify", 8, 3, 1);
  Encoder pre(small_config("layernorm", "pre"), "classify", 8, 3, 1);
  std::vector<std::string> post_names, pre_names;
  for (const auto& [name, norm] : post.norms()) { post_names.push_back(name); CHECK(norm->type() == "layernorm"); }
  for (const auto& [name, norm] : pre.norms()) pre_names.push_back(name);
  const std::vector<std::string> layer_norms = {"layers.0.norm1", "layers.0.norm2", "layers.1.norm1",
                                                "layers.1.norm2"};
  CHECK(post_names == layer_norms);
  std::vector<std::string> with_final = layer_norms;
  with_final.push_back("final_norm");
  CHECK(pre_names == with_final);
  auto has = [](const Encoder& m, const std::string& name) {
    for (const NamedTensor& p : m.named_parameters())
      if (p.name == name) return true;
    return false;
  };
  CHECK(has(pre, "final_norm.weight"));
  CHECK_FALSE(has(post, "final_norm.weight"));

  // The final norm does act: with layernorm, every real token of a pre-norm model's last
  // hidden state is normalised, so scaling the final gain by 2 doubles (head logits - bias).
  Batch b = pad_batch("tag", {{1, 2, 3}});
  Encoder tag(small_config("layernorm", "pre"), "tag", 8, 3, 1);
  Tensor y0 = tag.forward(b);
  Tensor gain, head_bias;
  for (const NamedTensor& p : tag.named_parameters()) {
    if (p.name == "final_norm.weight") gain = p.tensor;
    if (p.name == "head.bias") head_bias = p.tensor;
  }
  REQUIRE(gain.defined());
  for (int64_t i = 0; i < gain.numel(); ++i) gain.data()[i] = 2.0f;
  for (int64_t i = 0; i < head_bias.numel(); ++i) head_bias.data()[i] = 0.0f;
  Tensor y1 = tag.forward(b);
  for (int64_t i = 0; i < y0.numel(); ++i) CHECK(y1.data()[i] == Approx(2 * y0.data()[i]).margin(1e-6));
}

TEST_CASE("loss averages over examples (classify) or real tokens (tag, lm); accuracy counts them", "[encoder]") {
  for (const std::string head : {"classify", "tag", "lm"}) {
    INFO(head);
    Encoder model(small_config(), head, 8, head == "lm" ? 8 : 3, 9);
    Batch b = pad_batch(head, {{1, 2, 3, 4, 5}, {6, 5}, {3, 3, 7}});
    Tensor logits = model.forward(b);
    Tensor loss = model.loss(logits, b);
    // By hand, in double: mean over counted rows of logsumexp(z) - z[target].
    const int C = logits.dim(1);
    double total = 0;
    int counted = 0, correct = 0;
    for (int r = 0; r < logits.dim(0); ++r) {
      if (b.targets[r] < 0) continue;
      const float* z = logits.data() + (size_t)r * C;
      double mx = z[0], se = 0;
      int best = 0;
      for (int c = 0; c < C; ++c) { mx = std::max(mx, (double)z[c]); if (z[c] > z[best]) best = c; }
      for (int c = 0; c < C; ++c) se += std::exp(z[c] - mx);
      total += mx + std::log(se) - z[b.targets[r]];
      ++counted;
      correct += best == b.targets[r];
    }
    CHECK(counted == (head == "classify" ? b.B : b.n_real));
    CHECK(loss.item() == Approx(total / counted).epsilon(1e-5));
    const auto [acc_correct, acc_counted] = model.accuracy(logits, b);
    CHECK(acc_counted == counted);
    CHECK(acc_correct == correct);
  }
}

TEST_CASE("training a few steps lowers the loss (the gradients point downhill)", "[encoder]") {
  Encoder model(small_config("layernorm", "pre"), "tag", 8, 3, 4);
  Batch b = pad_batch("tag", {{1, 2, 3, 4, 5}, {6, 5}, {3, 3, 7}});
  float first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    auto params = model.named_parameters();
    for (auto& p : params) p.tensor.zero_grad();
    Tensor loss = model.loss(model.forward(b), b);
    loss.backward();
    if (step == 0) first = loss.item();
    last = loss.item();
    for (auto& p : params) {
      float* w = p.tensor.data();
      const float* g = p.tensor.grad();
      for (int64_t i = 0; i < p.tensor.numel(); ++i) w[i] -= 0.1f * g[i];
    }
  }
  CHECK(last < 0.5f * first);
}

TEST_CASE("set_training reaches the norms; buffers come from the norms", "[encoder]") {
  Encoder bn(small_config("batchnorm", "pre"), "tag", 8, 3, 1);
  Encoder ln(small_config("layernorm", "pre"), "tag", 8, 3, 1);
  CHECK(ln.named_buffers().empty());
  const auto bufs = bn.named_buffers();
  CHECK(bufs.size() == 2 * 5);  // running mean and var of 4 layer norms + the final norm
  for (const NamedTensor& buf : bufs) {
    const bool from_norm = buf.name.find(".norm1.") != std::string::npos ||
                           buf.name.find(".norm2.") != std::string::npos ||
                           buf.name.rfind("final_norm.", 0) == 0;
    CHECK(from_norm);
  }
  Batch b = pad_batch("tag", {{1, 2, 3, 4}, {5, 6}});
  Tensor train_out = bn.forward(b);
  bn.set_training(false);
  CHECK_FALSE(bn.training());
  for (const auto& [name, norm] : bn.norms()) CHECK_FALSE(norm->training());
  Tensor eval_out = bn.forward(b);  // running statistics now, not the batch's
  CHECK(max_diff(train_out.to_vector(), eval_out.to_vector()) > 1e-3f);
  bn.set_training(true);
  for (const auto& [name, norm] : bn.norms()) CHECK(norm->training());
}

TEST_CASE("dropout draws from the model's rng in training and is off in eval", "[encoder]") {
  ModelConfig cfg = small_config();
  cfg.dropout = 0.3f;
  Encoder model(cfg, "classify", 8, 3, 1);
  Batch b = pad_batch("classify", {{1, 2, 3, 4}, {5, 6}});
  const auto s0 = model.rng().state();
  Tensor a = model.forward(b);
  CHECK(model.rng().state() != s0);
  Tensor c = model.forward(b);
  CHECK(max_diff(a.to_vector(), c.to_vector()) > 1e-4f);
  // Same rng state, same masks: the draw is reproducible.
  model.rng().set_state(s0);
  CHECK(max_diff(a.to_vector(), model.forward(b).to_vector()) == 0.0f);
  model.set_training(false);
  Tensor e1 = model.forward(b), e2 = model.forward(b);
  CHECK(max_diff(e1.to_vector(), e2.to_vector()) == 0.0f);
}

TEST_CASE("sinusoidal table and attention mask", "[encoder]") {
  Tensor pe = sinusoidal_positions(5, 4);
  for (int t = 0; t < 5; ++t) {
    CHECK(pe.data()[t * 4 + 0] == Approx(std::sin(t)));
    CHECK(pe.data()[t * 4 + 1] == Approx(std::cos(t)));
    CHECK(pe.data()[t * 4 + 2] == Approx(std::sin(t / 100.0)));
    CHECK(pe.data()[t * 4 + 3] == Approx(std::cos(t / 100.0)));
  }
  Tensor keep = Tensor::from({1, 1, 0}, {1, 3});
  CHECK(attention_mask(keep, false).to_vector() == std::vector<float>{0, 0, 1, 0, 0, 1, 0, 0, 1});
  CHECK(attention_mask(keep, true).to_vector() == std::vector<float>{0, 1, 1, 0, 0, 1, 0, 0, 1});
}

TEST_CASE("encoder errors name the problem", "[encoder]") {
  ModelConfig cfg = small_config();
  auto msg = [](auto&& f) {
    try { f(); } catch (const std::invalid_argument& e) { return std::string(e.what()); }
    return std::string("no error");
  };
  CHECK(msg([&] { Encoder(cfg, "regress", 8, 3, 1); }).rfind("encoder: head 'regress'", 0) == 0);
  // (model.positions, model.pool, model.norm.position are enums: the config rejects other
  // names, e.g. tests/configs/broken/bad_positions.json.)
  ModelConfig odd = cfg;
  odd.d_model = 15;
  odd.heads = 3;
  odd.positions = nl::Positions::sinusoidal;
  CHECK(msg([&] { Encoder(odd, "tag", 8, 3, 1); }).find("even d_model") != std::string::npos);
  ModelConfig bad_heads = cfg;
  bad_heads.heads = 3;
  CHECK(msg([&] { Encoder(bad_heads, "tag", 8, 3, 1); }).find("divisible") != std::string::npos);
  Encoder model(cfg, "tag", 8, 3, 1);
  std::vector<int> longer(cfg.max_len + 1, 1);
  CHECK(msg([&] { model.forward(pad_batch("tag", {longer})); }).find("max_len") != std::string::npos);
  CHECK(msg([&] { model.forward(pad_batch("tag", {{1, 9}})); }).find("token id 9") != std::string::npos);
}
