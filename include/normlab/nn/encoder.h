// nn/encoder.h — the Transformer encoder of docs/math.md (Encoder), with the norm chosen by config.
//
// What it is: embedding (+ learned / sinusoidal / no positions) -> L layers of
// multi-head attention and FFN with post- or pre-norm -> a head (classify, tag, lm).
// Parameters are initialised from Rng::derive(seed, hash(name)), so two models with
// different norms but the same seed start from the same values for every parameter
// they share (what `normlab compare` relies on).
// What it is not: the training loop (train/), nor the norms (nn/norm.h).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "normlab/config/config.h"
#include "normlab/data/task.h"
#include "normlab/core/exec.h"
#include "normlab/nn/module.h"
#include "normlab/nn/norm.h"
#include "normlab/ops/ops.h"

namespace nl {

class MultiHeadAttention;  // nn/layers.h
class Comm;                // parallel/comm.h

class Encoder : public Module {
 public:
  // head: classify | tag | lm ; vocab includes PAD; n_out = classes (or vocab for lm).
  // exec: the kernel set every layer is built with, whether forward may pack the real
  // tokens (see encoder.cpp, "Packing"), and the data-parallel ranks this model is one
  // replica of (exec.comm: synced BatchNorm shares its statistics over them). Same
  // parameters either way.
  Encoder(const ModelConfig& cfg, const std::string& head, int vocab, int n_out, uint64_t seed,
          const ExecOptions& exec = {});
  ~Encoder() override;

  // Logits: classify [B, n_out]; tag and lm [B*T, n_out] (rows at pads are garbage,
  // their targets are -1).
  Tensor forward(const Batch& batch);
  // Mean cross-entropy over examples (classify) or real tokens (tag, lm).
  Tensor loss(const Tensor& logits, const Batch& batch) const;
  // Correct predictions and how many were counted (examples or real tokens).
  std::pair<int, int> accuracy(const Tensor& logits, const Batch& batch) const;

  void parameters(const std::string& prefix, std::vector<NamedTensor>& out) const override;
  void buffers(const std::string& prefix, std::vector<NamedTensor>& out) const override;
  void set_training(bool on) override;

  // Every norm layer, in order, with its name ("layers.0.norm1"), for diagnostics.
  std::vector<std::pair<std::string, const Norm*>> norms() const;
  // The same layers, to set their evaluation options (Norm::set_eval_batch_stats, ...).
  std::vector<std::pair<std::string, Norm*>> norms();
  const ModelConfig& config() const { return cfg_; }
  const std::string& head() const { return head_; }
  const ExecOptions& exec() const { return exec_; }

  // Dropout draws; saved in checkpoints.
  Rng& rng() { return rng_; }

 private:
  using Attend = std::function<Tensor(const MultiHeadAttention&, const Tensor&)>;
  Tensor layers_forward(Tensor x, const Tensor& keep, BatchShard shard, const Attend& attend);
  bool can_pack(const Batch& batch) const;       // see encoder.cpp, "Packing"
  Tensor forward_packed(const Batch& batch);     // the layers on real tokens only
  Tensor head_forward(const Tensor& x, const Tensor& keep);  // x [B,T,D] -> logits
  struct Impl;
  ModelConfig cfg_;
  std::string head_;
  ExecOptions exec_;
  enum class Head { classify, tag, lm } kind_ = Head::classify;  // head_, checked once
  Rng rng_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nl
