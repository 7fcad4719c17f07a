// train_step.cpp — one training step (see train/train_step.h).
//
// What it is: the Trainer's setup and the step, in the order they run. Data parallel (K
// ranks, `mpirun -np K normlab train`; K = 1 is the same code with nothing exchanged): every
// rank builds the same global batch and trains on its contiguous shard (shard_batch). The
// loss each rank differentiates is its shard's mean times n_shard / n_global (n = examples
// for classify, counted target tokens for tag and lm), so the SUM of the ranks' losses is
// exactly the single-process loss of the global batch (not a mean of per-rank means), and
// the sum of their gradients (sum_gradients, one flat buffer added in rank order) is its
// gradient. Every rank then clips and steps identically. A stop (SIGINT/SIGTERM) is decided
// together: the step's loss sum carries each rank's "signal seen" flag, so every rank stops
// after the same step (a rank that stopped alone would leave the others waiting in the next
// step's collectives).
// What it is not: the loop (trainer.cpp), the model or the optimizer (nn/, optim/).
#include "normlab/train/train_step.h"

#include <cmath>

#include "normlab/core/error.h"
#include "normlab/core/profile.h"
#include "normlab/core/signals.h"
#include "normlab/train/data_parallel.h"
#include "normlab/train/metrics.h"

namespace nl {

namespace {

ExecOptions exec_on(const Config& cfg, Comm& comm) {
  ExecOptions exec = exec_options(cfg.train);
  exec.comm = &comm;
  return exec;
}

bool all_finite(const std::vector<NamedTensor>& params) {
  for (const NamedTensor& p : params) {
    if (!p.tensor.has_grad()) continue;
    const float* g = p.tensor.grad();
    for (int64_t i = 0; i < p.tensor.numel(); ++i)
      if (!std::isfinite(g[i])) return false;
  }
  return true;
}

// Sum of squared gradients per layer group (metrics.h: group_of), then sqrt. Before clipping.
std::map<std::string, double> group_grad_norms(const std::vector<NamedTensor>& params) {
  std::map<std::string, double> sq;
  for (const NamedTensor& p : params) {
    double s = 0;
    if (p.tensor.has_grad()) {
      const float* g = p.tensor.grad();
      for (int64_t i = 0; i < p.tensor.numel(); ++i) s += (double)g[i] * g[i];
    }
    sq[group_of(p.name)] += s;
  }
  for (auto& kv : sq) kv.second = std::sqrt(kv.second);
  return sq;
}

}  // namespace

Trainer::Trainer(const Config& c, Comm& ranks)
    : cfg(c), comm(ranks), run(make_run(c, exec_on(c, ranks))),
      params(run.model->named_parameters()), buffers(run.model->named_buffers()),
      optimizer(make_optimizer(c.optim, params)),
      batcher(run.task.train, run.task.head, c.train.batch_size, c.train.bucket_by_length, run.data_seed) {
  const int K = comm.size();
  const int global_batch = std::min<int>(c.train.batch_size, (int)run.task.train.examples.size());
  if (global_batch % K != 0)
    throw UserError("train.batch_size: the global batch of " + std::to_string(global_batch) +
                        " examples does not split into " + std::to_string(K) +
                        " equal shards (one per rank); use a multiple of " + std::to_string(K),
                    2);
}

std::vector<NamedTensor> Trainer::checkpointed() const {
  std::vector<NamedTensor> saved = params;
  saved.insert(saved.end(), buffers.begin(), buffers.end());
  for (const NamedTensor& s : optimizer->state()) saved.push_back(s);
  return saved;
}

StepForward step_forward(Encoder& model, const Batch& shard, const Batch& global, int ranks) {
  StepForward f;
  f.logits = model.forward(shard);
  f.loss = model.loss(f.logits, shard);
  if (ranks > 1)  // this shard's share of the global batch's loss: mean * n_shard / n_global
    f.loss = f.loss * (float)((double)loss_targets(shard) / std::max(1, loss_targets(global)));
  return f;
}

StepResult train_step(Trainer& t, int step, bool with_group_norms) {
  const int K = t.comm.size();
  StepResult r;
  const Batch global = t.batcher.next();
  const Batch batch = K > 1 ? shard_batch(global, t.comm.rank(), K) : global;
  r.n_real = global.n_real;
  profile_lap("data", "batch", Phase::other);  // `--profile` (profile.h): work outside the tape
  t.optimizer->zero_grad();
  profile_lap("optimizer", "zero_grad", Phase::other);
  Tensor loss = step_forward(t.model(), batch, global, K).loss;
  r.loss = loss.item();
  if (K > 1) {  // the global loss, and whether any rank was asked to stop (and by what)
    const int sig = stop_signal();
    double sum[3] = {loss.item(), sig != 0 ? 1.0 : 0.0, (double)sig};  // loss, ranks stopped, their signals
    t.comm.sum(sum, 3);
    r.loss = (float)sum[0];
    if (sum[1] > 0) r.stop_signal = sig != 0 ? sig : (int)std::lround(sum[2] / sum[1]);
  }
  if (!std::isfinite(r.loss)) {
    r.not_finite = std::string("loss is ") + (std::isnan(r.loss) ? "nan" : r.loss > 0 ? "inf" : "-inf");
    return r;
  }
  loss.backward();
  sum_gradients(t.params, t.comm, t.grad_buffer);  // K > 1: every rank now holds the global gradient
  if (!all_finite(t.params)) {
    r.not_finite = "a gradient is nan or inf";
    return r;
  }
  if (with_group_norms) r.group_norms = group_grad_norms(t.params);
  r.grad_norm = clip_grad_norm(t.params, t.cfg.optim.clip_grad_norm);
  r.lr = learning_rate(t.cfg.optim, step, t.cfg.train.steps);
  profile_lap("optimizer", "grad sum, check, clip", Phase::other);
  t.optimizer->step(r.lr);
  profile_lap("optimizer", "step", Phase::other);
  // Unsynced BatchNorm: each rank's running statistics saw its own shard; keep rank 0's on
  // every rank (PyTorch DDP's broadcast_buffers), so evaluation agrees across ranks.
  if (K > 1 && !t.cfg.model.norm.sync && !t.buffers.empty()) broadcast_tensors(t.buffers, t.comm, 0);
  return r;
}

}  // namespace nl
