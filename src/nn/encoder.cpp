// nn/encoder.cpp — the Transformer encoder of docs/math.md (Encoder): embedding, L layers of attention
// and FFN with the configured norm in post or pre position, and a head.
//
// What it is: wiring. Each layer is written as the two lines of docs/math.md it implements,
//   post (Vaswani et al. 2017):        h = N1(x + Attn(x)),   out = N2(h + FFN(h))
//   pre  (Xiong et al. 2020, https://arxiv.org/abs/2002.04745):
//                                      h = x + Attn(N1(x)),   out = h + FFN(N2(h))
// with one final norm after a pre-norm stack. Every norm comes from make_norm() and is
// called with the batch's keep mask, so the encoder never knows which norm it holds.
// The execution options (exec.h) it is built with go to every layer: the kernel set at
// construction, and packing decides which of the two forwards below runs.
// What it is not: the math of any layer (ops/, kernels/, nn/norms/), nor the loop that
// trains it (train/).
//
// Choices as PyTorch's nn.TransformerEncoderLayer makes them (docs/math.md, Encoder):
//  - token embeddings are not scaled by sqrt(D);
//  - dropout (model.dropout, default 0) is applied to the embedding sum, the attention
//    weights, the FFN hidden activation, and each residual branch before it is added; a
//    shard of a data-parallel batch (batch.shard of batch.shards, see shard_batch) draws
//    the masks one process draws for those examples of the whole batch (ops.h, dropout);
//  - the lm head is always causal; other heads are causal only if model.causal.
#include "normlab/nn/encoder.h"

#include <stdexcept>

#include "normlab/kernels/softmax.h"
#include "normlab/nn/layers.h"
#include "normlab/core/profile.h"
#include "normlab/ops/ops.h"

namespace nl {

namespace {

[[noreturn]] void bad(const std::string& msg) { throw std::invalid_argument("encoder: " + msg); }

// Parameters of a norm are never weight-decayed (AdamW's default), whatever the norm says.
void norm_parameters(const Norm& n, const std::string& prefix, std::vector<NamedTensor>& out) {
  const size_t first = out.size();
  n.parameters(prefix, out);
  for (size_t i = first; i < out.size(); ++i) out[i].no_decay = true;
}

}  // namespace

// One encoder layer: attention and FFN, each with its norm.
struct EncoderLayer {
  EncoderLayer(const ModelConfig& cfg, KernelSet ks, Comm* comm)
      : attn(cfg.d_model, cfg.heads, cfg.dropout, ks),
        ffn(cfg.d_model, cfg.d_ff, cfg.activation, cfg.dropout, ks),
        norm1(make_norm(cfg.norm, cfg.d_model, ks, comm)),
        norm2(make_norm(cfg.norm, cfg.d_model, ks, comm)) {}
  MultiHeadAttention attn;
  FeedForward ffn;
  std::unique_ptr<Norm> norm1, norm2;
};

struct Encoder::Impl {
  int V = 0, n_out = 0;
  bool pre = false, causal = false;
  Tensor tokens;     // [V, D]        "embed.tokens.weight"
  Tensor positions;  // [max_len, D]  "embed.positions.weight" (learned positions only)
  std::vector<std::unique_ptr<EncoderLayer>> layers;
  std::unique_ptr<Norm> final_norm;  // pre-norm only
  std::unique_ptr<Linear> head;      // D -> n_out
};

Encoder::Encoder(const ModelConfig& cfg, const std::string& head, int vocab, int n_out, uint64_t seed,
                 const ExecOptions& exec)
    : cfg_(cfg), head_(head), exec_(exec), rng_(Rng::derive(seed, fnv1a_hash("dropout"))),
      impl_(std::make_unique<Impl>()) {
  // The config's keys are enums checked by config_from_json; the head comes from the task.
  if (head == "classify") kind_ = Head::classify;
  else if (head == "tag") kind_ = Head::tag;
  else if (head == "lm") kind_ = Head::lm;
  else bad("head '" + head + "' is not one of classify, tag, lm");
  if (vocab <= 0 || n_out <= 0)
    bad("vocab " + std::to_string(vocab) + " and n_out " + std::to_string(n_out) + " must be positive");
  if (cfg.d_model <= 0 || cfg.d_ff <= 0 || cfg.layers < 0 || cfg.max_len <= 0)
    bad("d_model, d_ff, max_len must be positive and layers >= 0");
  if (cfg.positions == Positions::sinusoidal && cfg.d_model % 2 != 0)
    bad("sinusoidal positions need an even d_model, got " + std::to_string(cfg.d_model));

  Impl& m = *impl_;
  const int D = cfg.d_model;
  m.V = vocab;
  m.n_out = n_out;
  m.pre = cfg.norm.position == NormPosition::pre;
  m.causal = cfg.causal || kind_ == Head::lm;

  // Build every layer, then initialise each parameter from its own named stream. Norm
  // parameters are left as the norm set them (gains 1, biases 0).
  m.tokens = Tensor::zeros({vocab, D}).set_requires_grad(true);
  init_normal(m.tokens, "embed.tokens.weight", seed, cfg.init_std);
  if (cfg.positions == Positions::learned) {
    m.positions = Tensor::zeros({cfg.max_len, D}).set_requires_grad(true);
    init_normal(m.positions, "embed.positions.weight", seed, cfg.init_std);
  }
  for (int i = 0; i < cfg.layers; ++i) {
    auto layer = std::make_unique<EncoderLayer>(cfg, exec.kernels, exec.comm);
    const std::string p = "layers." + std::to_string(i);
    layer->attn.init(p + ".attn", seed, cfg.init_std);
    layer->ffn.init(p + ".ffn", seed, cfg.init_std);
    m.layers.push_back(std::move(layer));
  }
  if (m.pre) m.final_norm = make_norm(cfg.norm, D, exec.kernels, exec.comm);
  m.head = std::make_unique<Linear>(D, n_out, exec.kernels);
  m.head->init("head", seed, cfg.init_std);

  // Tensors carry their full dotted name (the norms named theirs "weight", "bias", ...).
  for (NamedTensor& p : named_parameters()) p.tensor.set_name(p.name);
  for (NamedTensor& b : named_buffers()) b.tensor.set_name(b.name);
}

Encoder::~Encoder() = default;

Tensor Encoder::forward(const Batch& batch) {
  Impl& m = *impl_;
  const int B = batch.B, T = batch.T, D = cfg_.d_model;
  if (B <= 0 || T <= 0 || (int64_t)batch.tokens.size() != (int64_t)B * T)
    bad("batch has B=" + std::to_string(B) + " T=" + std::to_string(T) + " but " +
        std::to_string(batch.tokens.size()) + " tokens");
  if (!batch.keep.defined() || batch.keep.shape() != Shape{B, T})
    bad("batch keep is " + (batch.keep.defined() ? batch.keep.shape_str() : std::string("undefined")) +
        ", expected " + shape_str({B, T}));
  for (int id : batch.tokens)
    if (id < 0 || id >= m.V) bad("token id " + std::to_string(id) + " outside vocab [0," + std::to_string(m.V) + ")");
  if (m.positions.defined() && T > cfg_.max_len)
    bad("batch length T=" + std::to_string(T) + " exceeds model.max_len=" + std::to_string(cfg_.max_len));

  if (can_pack(batch)) return forward_packed(batch);

  // ---- embedding: tokens + positions ----
  ProfilePart part("embed");  // `--profile` (profile.h); layers and head name their own parts
  Tensor x = embedding(m.tokens, batch.tokens, {B, T});          // [B,T,D]
  if (cfg_.positions == Positions::learned) {
    std::vector<int> pos(T);
    for (int t = 0; t < T; ++t) pos[t] = t;
    x = x + embedding(m.positions, pos, {T});                     // [T,D] broadcast over B
  } else if (cfg_.positions == Positions::sinusoidal) {
    x = x + sinusoidal_positions(T, D);
  }
  const BatchShard shard{batch.shard, batch.shards};  // which block of the whole batch's draws
  x = dropout(x, cfg_.dropout, rng_, training_, shard);

  // ---- layers ----
  const Tensor& keep = batch.keep;
  const Tensor mask = attention_mask(keep, m.causal);           // [B,1,T,T]
  x = layers_forward(x, keep, shard, [&](const MultiHeadAttention& attn, const Tensor& h) {
    return attn.forward(h, mask, rng_, shard);
  });
  return head_forward(x, keep);
}

// The layer stack and the final norm, on the padded grid or on packed tokens: only how
// attention sees the sequences differs (`attend`).
Tensor Encoder::layers_forward(Tensor x, const Tensor& keep, BatchShard s, const Attend& attend) {
  Impl& m = *impl_;
  const float p = cfg_.dropout;
  ProfilePart part("layers");  // `--profile`: norms and residual adds (attention, ffn: their own)
  for (auto& L : m.layers) {
    if (!m.pre) {
      // post: h = N1(x + Attn(x)),  out = N2(h + FFN(h))
      Tensor h = L->norm1->forward(x + dropout(attend(L->attn, x), p, rng_, training_, s), keep);
      x = L->norm2->forward(h + dropout(L->ffn.forward(h, rng_, s), p, rng_, training_, s), keep);
    } else {
      // pre: h = x + Attn(N1(x)),  out = h + FFN(N2(h))
      Tensor h = x + dropout(attend(L->attn, L->norm1->forward(x, keep)), p, rng_, training_, s);
      x = h + dropout(L->ffn.forward(L->norm2->forward(h, keep), rng_, s), p, rng_, training_, s);
    }
  }
  if (m.final_norm) x = m.final_norm->forward(x, keep);
  return x;
}

// Packing (the fast path's way of not computing pads): when every sequence's real tokens
// come first and nothing in the model reads a pad row, the pads can be left out entirely.
// The layers then run on [1,N,D], N = the real tokens of the batch one sequence after
// another, attention within each sequence; the result is scattered back into the padded
// [B,T,D] grid (zeros at pads) for the head. The numbers at real tokens are the padded
// path's: attention never attends to pads, and every other layer works token by token
// (or, for masked BatchNorm, over real tokens only). Off when the options say so
// (train.pack = false), under reference kernels (packed attention is a fused kernel),
// with dropout (its draws would land on other elements), and for batchnorm_padded,
// whose statistics include the pads.
bool Encoder::can_pack(const Batch& batch) const {
  const Impl& m = *impl_;
  if (!exec_.pack || exec_.kernels != KernelSet::fast || cfg_.dropout > 0.0f) return false;
  for (const auto& L : m.layers)
    if (L->norm1->reads_pad_rows() || L->norm2->reads_pad_rows()) return false;
  if (m.final_norm && m.final_norm->reads_pad_rows()) return false;
  const float* keep = batch.keep.data();
  for (int b = 0; b < batch.B; ++b) {  // real tokens first, then pads, and at least one
    if (keep[(size_t)b * batch.T] == 0.0f) return false;
    for (int t = 1; t < batch.T; ++t)
      if (keep[(size_t)b * batch.T + t] != 0.0f && keep[(size_t)b * batch.T + t - 1] == 0.0f) return false;
  }
  return true;
}

Tensor Encoder::forward_packed(const Batch& batch) {
  Impl& m = *impl_;
  const int B = batch.B, T = batch.T, D = cfg_.d_model;
  std::vector<int> lengths(B, 0), ids, pos, rows;  // rows: where each packed token sits in [B*T]
  const float* kp = batch.keep.data();
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      if (kp[(size_t)b * T + t] != 0.0f) {
        ++lengths[b];
        ids.push_back(batch.tokens[(size_t)b * T + t]);
        pos.push_back(t);
        rows.push_back(b * T + t);
      }
  const int N = (int)ids.size();

  // ---- embedding: tokens + positions, real tokens only ----
  ProfilePart part("embed");  // `--profile` (profile.h); layers and head name their own parts
  Tensor x = embedding(m.tokens, ids, {1, N});                   // [1,N,D]
  if (cfg_.positions == Positions::learned) {
    x = x + embedding(m.positions, pos, {1, N});
  } else if (cfg_.positions == Positions::sinusoidal) {
    x = x + embedding(sinusoidal_positions(T, D), pos, {1, N});  // rows of a constant table
  }

  // ---- layers: every token is real, so the norms see keep = 1 everywhere ----
  // (no dropout here: can_pack() packs only without it)
  x = layers_forward(x, Tensor::full({1, N}, 1.0f), BatchShard{}, [&](const MultiHeadAttention& attn, const Tensor& h) {
    return attn.forward_packed(h, lengths, m.causal);
  });

  // ---- back into the padded grid (zeros at pads), then the head ----
  ProfilePart head_part("head");
  x = reshape(scatter_rows(reshape(x, {N, D}), rows, B * T), {B, T, D});
  return head_forward(x, batch.keep);
}

Tensor Encoder::head_forward(const Tensor& x, const Tensor& keep) {
  Impl& m = *impl_;
  const int B = x.dim(0), T = x.dim(1), D = x.dim(2);
  ProfilePart part("head");  // `--profile` (profile.h)
  // ---- head ----
  if (kind_ == Head::classify) {
    Tensor pooled;
    if (cfg_.pool == Pool::mean) {
      // mean over real tokens: sum_t keep[b,t] x[b,t,:] / sum_t keep[b,t]
      Tensor keep3 = reshape(keep, {B, T, 1});
      pooled = sum(x * keep3, {1}) / sum(keep3, {1});             // [B,D] / [B,1]
    } else {
      pooled = reshape(slice(x, 1, 0, 1), {B, D});                // the first token
    }
    return m.head->forward(pooled);                               // [B, n_out]
  }
  return m.head->forward(reshape(x, {B * T, D}));                 // [B*T, n_out]
}

Tensor Encoder::loss(const Tensor& logits, const Batch& batch) const {
  const int rows = kind_ == Head::classify ? batch.B : batch.B * batch.T;
  if (logits.ndim() != 2 || logits.dim(0) != rows || logits.dim(1) != impl_->n_out ||
      (int)batch.targets.size() != rows)
    bad("loss: logits are " + logits.shape_str() + " and there are " +
        std::to_string(batch.targets.size()) + " targets, expected " +
        shape_str({rows, impl_->n_out}) + " and " + std::to_string(rows));
  // classify: every example counts; tag and lm: pads carry target -1 and are ignored.
  ProfilePart part("loss");  // `--profile` (profile.h)
  return cross_entropy(logits, batch.targets, -1);
}

std::pair<int, int> Encoder::accuracy(const Tensor& logits, const Batch& batch) const {
  if (logits.ndim() != 2 || logits.dim(0) != (int)batch.targets.size())
    bad("accuracy: logits are " + logits.shape_str() + " but there are " +
        std::to_string(batch.targets.size()) + " targets");
  const int rows = logits.dim(0), C = logits.dim(1);
  const float* z = logits.data();
  int correct = 0, counted = 0;
  for (int r = 0; r < rows; ++r) {
    const int target = batch.targets[r];
    if (target < 0) continue;  // a pad
    correct += kernels::argmax(z + (size_t)r * C, C) == target ? 1 : 0;
    ++counted;
  }
  return {correct, counted};
}

void Encoder::parameters(const std::string& prefix, std::vector<NamedTensor>& out) const {
  const Impl& m = *impl_;
  out.push_back({join_name(prefix, "embed.tokens.weight"), m.tokens, false});
  if (m.positions.defined()) out.push_back({join_name(prefix, "embed.positions.weight"), m.positions, false});
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const EncoderLayer& L = *m.layers[i];
    const std::string p = join_name(prefix, "layers." + std::to_string(i));
    L.attn.parameters(p + ".attn", out);
    L.ffn.parameters(p + ".ffn", out);
    norm_parameters(*L.norm1, p + ".norm1", out);
    norm_parameters(*L.norm2, p + ".norm2", out);
  }
  if (m.final_norm) norm_parameters(*m.final_norm, join_name(prefix, "final_norm"), out);
  m.head->parameters(join_name(prefix, "head"), out);
}

void Encoder::buffers(const std::string& prefix, std::vector<NamedTensor>& out) const {
  for (const auto& [name, norm] : norms()) norm->buffers(join_name(prefix, name), out);
}

void Encoder::set_training(bool on) {
  training_ = on;
  Impl& m = *impl_;
  for (auto& L : m.layers) {
    L->attn.set_training(on);
    L->ffn.set_training(on);
    L->norm1->set_training(on);
    L->norm2->set_training(on);
  }
  if (m.final_norm) m.final_norm->set_training(on);
}

std::vector<std::pair<std::string, const Norm*>> Encoder::norms() const {
  std::vector<std::pair<std::string, const Norm*>> v;
  for (size_t i = 0; i < impl_->layers.size(); ++i) {
    const std::string p = "layers." + std::to_string(i);
    v.push_back({p + ".norm1", impl_->layers[i]->norm1.get()});
    v.push_back({p + ".norm2", impl_->layers[i]->norm2.get()});
  }
  if (impl_->final_norm) v.push_back({"final_norm", impl_->final_norm.get()});
  return v;
}

std::vector<std::pair<std::string, Norm*>> Encoder::norms() {
  std::vector<std::pair<std::string, Norm*>> v;
  for (auto& [name, norm] : static_cast<const Encoder&>(*this).norms())
    v.push_back({name, const_cast<Norm*>(norm)});  // this Encoder is not const: neither are its layers
  return v;
}

}  // namespace nl
