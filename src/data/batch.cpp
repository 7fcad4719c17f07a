// batch.cpp — from examples to padded batches, and the Batcher that feeds training.
//
// What it is: make_batch pads a list of examples to the longest one (PAD = 0) and builds
// the keep mask [B,T] (1 real token, 0 pad) that attention, pooling, masked BatchNorm and
// the losses use; the Batcher walks the training set epoch after epoch in an order that
// is a pure function of (seed, epoch), so its position is just {epoch, cursor} and a
// checkpoint can restore it exactly.
// What it is not: a data loader with threads or prefetching; building a batch is cheap
// next to a training step.
//
// Epochs. Every batch has exactly batch_size examples (a training set smaller than that is
// one batch of all of it), so every step sees the same B (it matters for BatchNorm): the
// n % batch_size examples left over are skipped in that epoch, a different random few each
// epoch.
//  - plain: shuffle the indices (a stream of its own per (seed, epoch)), cut into batches.
//  - bucket_by_length: shuffle, then stable-sort by length (equal lengths stay in random
//    order), skip a random number (0..leftover) of examples at the start and cut into
//    batches: each batch holds examples of nearly the same length, so few pads. Then the
//    batch order is shuffled, so lengths do not rise steadily through the epoch.
#include <algorithm>
#include <stdexcept>

#include "normlab/core/error.h"
#include "task_parts.h"

namespace nl {

Batch make_batch(const Dataset& data, const std::vector<int>& indices, const std::string& head) {
  if (indices.empty()) throw std::invalid_argument("make_batch: no indices");
  const bool classify = head == "classify";
  if (!classify && head != "tag" && head != "lm")
    throw std::invalid_argument("make_batch: head '" + head + "' is not classify, tag or lm");
  Batch b;
  b.B = (int)indices.size();
  for (int i : indices) {
    if (i < 0 || i >= (int)data.examples.size())
      throw std::invalid_argument("make_batch: index " + std::to_string(i) + " is outside a dataset of " +
                                  std::to_string(data.examples.size()));
    const Example& e = data.examples[i];
    if (e.tokens.empty()) throw std::invalid_argument("make_batch: example " + std::to_string(i) + " is empty");
    size_t want = classify ? 1 : e.tokens.size();
    if (e.labels.size() != want)
      throw std::invalid_argument("make_batch: example " + std::to_string(i) + " has " +
                                  std::to_string(e.labels.size()) + " labels for " + std::to_string(e.tokens.size()) +
                                  " tokens (head " + head + " needs " + std::to_string(want) + ")");
    b.T = std::max(b.T, (int)e.tokens.size());
  }
  const int B = b.B, T = b.T;
  b.tokens.assign((size_t)B * T, kPad);
  b.targets.assign(classify ? (size_t)B : (size_t)B * T, -1);
  b.keep = Tensor::zeros({B, T});
  float* keep = b.keep.data();
  for (int bi = 0; bi < B; ++bi) {
    const Example& e = data.examples[indices[bi]];
    const int L = (int)e.tokens.size();
    for (int t = 0; t < L; ++t) {
      b.tokens[(size_t)bi * T + t] = e.tokens[t];
      keep[(size_t)bi * T + t] = 1.0f;
      if (!classify) b.targets[(size_t)bi * T + t] = e.labels[t];
    }
    if (classify) b.targets[bi] = e.labels[0];
    b.n_real += L;
  }
  return b;
}

Batch shard_batch(const Batch& batch, int part, int parts) {
  if (batch.shards != 1)
    throw std::invalid_argument("shard_batch: the batch is already shard " + std::to_string(batch.shard) + " of " +
                                std::to_string(batch.shards));
  if (parts < 1 || part < 0 || part >= parts || batch.B % parts != 0)
    throw std::invalid_argument("shard_batch: a batch of " + std::to_string(batch.B) + " examples has no shard " +
                                std::to_string(part) + " of " + std::to_string(parts) + " equal shards");
  const int Bs = batch.B / parts, T = batch.T, first = part * Bs;
  // tag, lm: one target per position [B*T]; classify: one per example [B] (same if T == 1)
  const bool per_token = (int64_t)batch.targets.size() == (int64_t)batch.B * T;
  Batch s;
  s.B = Bs;
  s.T = T;
  s.shard = part;
  s.shards = parts;
  s.tokens.assign(batch.tokens.begin() + (size_t)first * T, batch.tokens.begin() + (size_t)(first + Bs) * T);
  if (per_token)
    s.targets.assign(batch.targets.begin() + (size_t)first * T, batch.targets.begin() + (size_t)(first + Bs) * T);
  else
    s.targets.assign(batch.targets.begin() + first, batch.targets.begin() + first + Bs);
  s.keep = Tensor::zeros({Bs, T});
  const float* k = batch.keep.data() + (size_t)first * T;
  for (int i = 0; i < Bs * T; ++i) {
    s.keep.data()[i] = k[i];
    s.n_real += k[i] != 0.0f ? 1 : 0;
  }
  return s;
}

int loss_targets(const Batch& batch) {
  int n = 0;
  for (int t : batch.targets) n += t != kIgnoreLabel ? 1 : 0;
  return n;
}

Batcher::Batcher(const Dataset& data, const std::string& head, int batch_size, bool bucket_by_length,
                 uint64_t seed)
    : data_(data), head_(head), batch_size_(batch_size), bucket_(bucket_by_length), seed_(seed) {
  if (batch_size < 1) throw std::invalid_argument("Batcher: batch_size " + std::to_string(batch_size) + " < 1");
  if (data.examples.empty()) throw std::invalid_argument("Batcher: empty dataset");
}

int64_t Batcher::batches_per_epoch() const {
  const int64_t n = (int64_t)data_.examples.size();
  return n <= batch_size_ ? 1 : n / batch_size_;
}

void Batcher::build_epoch() {
  const int n = (int)data_.examples.size();
  const int bs = std::min(batch_size_, n);
  const int nb = (int)batches_per_epoch();
  const int leftover = n - nb * bs;
  Rng rng = data::split_rng(seed_, "batcher", "epoch/" + std::to_string(state_.epoch));
  std::vector<int> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  data::shuffle(order, rng);
  int start = 0;
  if (bucket_) {
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return data_.examples[a].tokens.size() < data_.examples[b].tokens.size();
    });
    start = rng.randint(0, leftover);  // which of the shortest/longest sit this epoch out
  }
  epoch_batches_.assign(nb, {});
  for (int k = 0; k < nb; ++k)
    epoch_batches_[k].assign(order.begin() + start + (size_t)k * bs, order.begin() + start + (size_t)(k + 1) * bs);
  if (bucket_) {
    std::vector<int> perm(nb);
    for (int k = 0; k < nb; ++k) perm[k] = k;
    data::shuffle(perm, rng);
    std::vector<std::vector<int>> shuffled(nb);
    for (int k = 0; k < nb; ++k) shuffled[k] = std::move(epoch_batches_[perm[k]]);
    epoch_batches_ = std::move(shuffled);
  }
  built_epoch_ = state_.epoch;
}

Batch Batcher::next() {
  if (state_.cursor >= batches_per_epoch()) {
    ++state_.epoch;
    state_.cursor = 0;
  }
  if (built_epoch_ != state_.epoch) build_epoch();
  return make_batch(data_, epoch_batches_[state_.cursor++], head_);
}

void Batcher::set_state(const State& s) {
  if (s.epoch < 0 || s.cursor < 0 || s.cursor > batches_per_epoch())
    throw UserError("data position (epoch " + std::to_string(s.epoch) + ", batch " + std::to_string(s.cursor) +
                    ") does not fit an epoch of " + std::to_string(batches_per_epoch()) +
                    " batches: was it saved with another task, data size or batch size?");
  state_ = s;
}

}  // namespace nl
