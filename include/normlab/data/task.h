// data/task.h — tasks: where examples come from, and how they become padded batches.
//
// What it is: every task (generated from the seed, or read from files) yields a
// TaskData: a vocabulary size, a class count, the head it needs, a training set and
// several evaluation sets, each a length range (some longer than anything in training).
// Token id 0 is always PAD; real tokens are 1..vocab-1.
// What it is not: the model. Batches carry ints and a keep mask, nothing learned.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "normlab/config/config.h"
#include "normlab/core/rng.h"
#include "normlab/core/tensor.h"

namespace nl {

constexpr int kPad = 0;
// A tag label that no loss or accuracy counts (the <bos> position of histogram). Batches
// use it for pads too; export writes it as "_" and import reads "_" back.
constexpr int kIgnoreLabel = -1;

// head: "classify" -> labels has 1 entry; "tag" -> one label per token;
// "lm" -> labels[t] is the token to predict after tokens[0..t] (so labels = next tokens).
struct Example {
  std::vector<int> tokens;
  std::vector<int> labels;
};

struct Dataset {
  std::vector<Example> examples;
};

struct EvalSplit {
  std::string name;          // e.g. "len_17_32"
  LengthRange lengths;
  bool seen_in_training;     // range inside the training range
  Dataset data;
};

struct TaskData {
  std::string task;          // task name
  std::string head;          // classify | tag | lm
  int vocab = 0;             // including PAD (id 0)
  int n_classes = 0;         // output size of the head (vocab for lm)
  std::vector<std::string> token_names;  // optional: id -> text, for export
  std::vector<std::string> class_names;  // optional
  Dataset train;
  std::vector<EvalSplit> evals;
};

// Build the task's data, deterministic in (cfg, seed). Throws UserError for bad files.
TaskData make_task(const TaskConfig& cfg, uint64_t seed);
// Tokens a task puts before the `length` real symbols of every example (1 for the
// counting tasks histogram and parity, which start with <bos>; else 0).
int task_prefix_tokens(const std::string& task);
std::vector<std::string> task_names();

// A padded batch. tokens [B*T] (PAD at pads); keep [B,T] float 1/0 (no grad);
// targets: classify [B]; tag and lm [B*T] with -1 at pads (cross_entropy ignores -1).
struct Batch {
  int B = 0, T = 0;
  std::vector<int> tokens;
  Tensor keep;
  std::vector<int> targets;
  int n_real = 0;            // real tokens = sum(keep)
  // Data parallel: this batch is shard `shard` of `shards` of a global batch (shard_batch);
  // dropout then draws what one process draws for these examples of the whole batch.
  int shard = 0, shards = 1;
};

Batch make_batch(const Dataset& data, const std::vector<int>& indices, const std::string& head);

// Shard `part` of `parts` of a batch for data-parallel training: its examples
// [part*B/parts, (part+1)*B/parts) (B % parts == 0), padded to the batch's own T, so that
// a norm that counts pads sees the same rows as in the whole batch. A shard of a shard is
// not supported (shards must be 1).
Batch shard_batch(const Batch& batch, int part, int parts);
// How many targets the loss averages over: B for classify, the real (not -1) targets of
// tag and lm.
int loss_targets(const Batch& batch);

// Yields training batches forever: shuffled each epoch from the seed; optionally
// bucketed by length (examples sorted by length into batches, batch order shuffled).
// Every batch has batch_size examples (the n % batch_size left over sit out that epoch).
// Its position is two numbers, saved in checkpoints so resume sees the same batches:
// state() = {epoch, index of the next batch in that epoch}.
class Batcher {
 public:
  Batcher(const Dataset& data, const std::string& head, int batch_size, bool bucket_by_length,
          uint64_t seed);
  Batch next();
  struct State { int64_t epoch = 0; int64_t cursor = 0; };
  State state() const { return state_; }
  void set_state(const State& s);   // UserError if the position cannot be in this data
  int64_t batches_per_epoch() const; // n / batch_size (1 when n <= batch_size)
  // Keeps a reference to `data`: the Dataset must outlive the Batcher.
 private:
  void build_epoch();
  const Dataset& data_;
  std::string head_;
  int batch_size_;
  bool bucket_;
  uint64_t seed_;
  State state_;
  std::vector<std::vector<int>> epoch_batches_;  // index lists, for the current epoch
  int64_t built_epoch_ = -1;
};

}  // namespace nl
