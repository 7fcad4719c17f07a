// leak.cpp — causal BatchNorm leakage: the future-change probe and leak_gap (train/leak.h).
//
// What it is: forwards of a trained (or fresh) model that change nothing in it. A training
// forward of BatchNorm updates its running statistics (PowerNorm also its step counter) and
// dropout draws from the model's stream; Untouched saves all of that and puts it back, so a
// measurement at the end of training leaves the checkpoint and every later number as they were.
// What it is not: evaluation (evaluator.cpp evaluates the splits); the math is in docs/math.md,
// "Causal BatchNorm leakage".
#include "normlab/train/leak.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "normlab/core/autograd.h"

namespace nl {

namespace {

// Saves what a forward may change (buffers, dropout stream, mode); restores it on scope exit.
class Untouched {
 public:
  explicit Untouched(Encoder& m) : model_(m), rng_(m.rng().state()), training_(m.training()) {
    for (const NamedTensor& b : m.named_buffers()) saved_.push_back(b.tensor.to_vector());
  }
  // Before each forward: the buffers and the stream as they were, so every forward starts alike.
  void reset() {
    std::vector<NamedTensor> buffers = model_.named_buffers();
    for (size_t i = 0; i < buffers.size(); ++i)
      std::memcpy(buffers[i].tensor.data(), saved_[i].data(), saved_[i].size() * sizeof(float));
    model_.rng().set_state(rng_);
  }
  ~Untouched() {
    reset();
    model_.set_training(training_);
  }

 private:
  Encoder& model_;
  std::array<uint64_t, 4> rng_;
  bool training_;
  std::vector<std::vector<float>> saved_;
};

}  // namespace

Batch with_future_changed(const Batch& batch, int t, int vocab) {
  if (vocab < 3) throw std::invalid_argument("with_future_changed: vocab " + std::to_string(vocab) + " has no other token");
  Batch b = batch;
  for (int i = 0; i < b.B; ++i)
    for (int p = t + 1; p < b.T; ++p) {
      int& v = b.tokens[(size_t)i * b.T + p];
      if (v != kPad) v = v % (vocab - 1) + 1;  // 1..vocab-1, never v itself
    }
  return b;
}

double future_leak(Encoder& model, const Batch& batch, int t, int vocab, bool training) {
  if (model.head() == "classify")
    throw std::invalid_argument("future_leak: needs a per-token head (tag or lm), not classify");
  NoGrad no_grad;
  Untouched keep(model);
  model.set_training(training);
  const Batch changed = with_future_changed(batch, t, vocab);
  keep.reset();
  const Tensor a = model.forward(batch);
  keep.reset();
  const Tensor b = model.forward(changed);
  const int n_out = (int)a.shape().back();
  const float* keep_bt = batch.keep.data();
  double worst = 0;
  for (int i = 0; i < batch.B; ++i)
    for (int p = 0; p <= t && p < batch.T; ++p) {
      const size_t row = (size_t)i * batch.T + p;
      if (keep_bt[row] == 0) continue;
      for (int c = 0; c < n_out; ++c)
        worst = std::max(worst, (double)std::fabs(a.data()[row * n_out + c] - b.data()[row * n_out + c]));
    }
  return worst;
}

nlohmann::json LeakGap::to_json() const {
  return {{"batches", batches}, {"loss_train_stats", loss_train}, {"loss_running_stats", loss_running}, {"gap", gap()}};
}

LeakGap measure_leak_gap(Encoder& model, const Dataset& train, int batch_size, bool bucket_by_length,
                         uint64_t seed, int max_batches) {
  NoGrad no_grad;
  Untouched keep(model);
  Batcher batcher(train, model.head(), batch_size, bucket_by_length, seed);
  LeakGap g;
  g.batches = (int)std::min<int64_t>(max_batches, batcher.batches_per_epoch());
  for (int i = 0; i < g.batches; ++i) {
    const Batch batch = batcher.next();
    keep.reset();
    model.set_training(true);
    g.loss_train += model.loss(model.forward(batch), batch).item();
    keep.reset();
    model.set_training(false);
    g.loss_running += model.loss(model.forward(batch), batch).item();
  }
  if (g.batches > 0) g.loss_train /= g.batches, g.loss_running /= g.batches;
  return g;
}

}  // namespace nl
