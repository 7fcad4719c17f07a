// trainer.cpp — `normlab train` as a function: the loop around train_step().
//
// What it is: train() reads top to bottom as the run goes:
//   folder      RunFolder: the lock, and a resume's checkpoint must exist (run_folder.h)
//   trainer     Trainer: data, model, optimizer, batcher (train_step.h)
//   state       TrainState: from the checkpoint on --resume (train_state.h, resume.h)
//   finished?   a resume of a finished run runs nothing
//   loop        train_step(); every log_every steps a metrics row (RunLog), every
//               eval_every an evaluation (evaluator.h), every checkpoint_every a checkpoint;
//               SIGINT/SIGTERM stop after the step in progress, with a checkpoint
//   end         the last checkpoint and result.json (written last: the run finished)
// Everything a step depends on (weights, BatchNorm buffers, optimizer moments, the dropout
// RNG, the data position, the loss window) is in the checkpoint, so `--resume` continues
// bit-identically. On K ranks (mpirun; K = 1 is the same code with nothing exchanged) every
// rank runs this loop on its shard (train_step.cpp says how the ranks add up); evaluation
// deals the batches out over the ranks; only rank 0 writes the run folder, and the
// checkpoint holds nothing rank-specific, so --resume works with any K.
// What it is not: the step (train_step.cpp), the model, the data or the optimizer (nn/,
// data/, optim/).
#include "normlab/train/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "normlab/core/error.h"
#include "normlab/core/signals.h"
#include "normlab/train/checkpoint.h"
#include "normlab/train/leak.h"
#include "normlab/train/metrics.h"
#include "normlab/train/metrics_schema.h"
#include "normlab/train/progress.h"
#include "normlab/train/resume.h"
#include "normlab/train/run_folder.h"
#include "normlab/train/saved_model.h"
#include "normlab/train/train_state.h"
#include "normlab/train/train_step.h"

namespace nl {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void check_ranks(const TrainConfig& tc, int K) {
  if (tc.ranks > 0 && tc.ranks != K)
    throw UserError("train.ranks: " + std::to_string(tc.ranks) + " but this run has " + std::to_string(K) +
                        " process(es); start it with mpirun -np " + std::to_string(tc.ranks) +
                        " (or set train.ranks to 0: as launched)",
                    2);
}

// result.json: written last, so its presence (with steps == train.steps) means finished.
std::string result_json(const TrainResult& r) {
  nlohmann::json j{{"steps", r.steps},
                   {"final_train_loss", r.final_train_loss},
                   {"seconds", r.seconds},
                   {"eval", eval_to_json(r.evals)},
                   {"bn_jitter", r.bn_jitter},
                   {"leak_gap", r.leak_gap}};
  return j.dump(2);
}

nlohmann::json jitter_json(const TrainState& s) {
  return s.jitter_complete ? s.jitter.to_json() : nlohmann::json(nullptr);
}

// Weights, buffers, optimizer state, and as metadata the training state, the config it was
// trained with and the model card (vocabulary, classes, head: runs without the data).
void save_checkpoint(const RunFolder& folder, Trainer& t, TrainState& state, const std::string& config_text) {
  state.rng = t.model().rng().state();
  state.data = t.batcher.state();
  std::map<std::string, std::string> meta = state.to_metadata();
  meta["format"] = "normlab-checkpoint-1";
  meta["config"] = config_text;
  for (auto& [k, v] : model_card_metadata(t.run.task)) meta[k] = v;
  save_safetensors(folder.checkpoint(), t.checkpointed(), meta);
}

// --resume: every check before anything in the run folder changes.
TrainState resume_from(const RunFolder& folder, const Config& cfg, Trainer& t) {
  const std::string path = folder.checkpoint();
  SafetensorsFile f = load_safetensors(path);
  TrainState state = read_resume_point(f, cfg, path);  // metadata and config
  copy_into(f, t.checkpointed(), path);                // names and shapes, then values
  t.batcher.set_state(state.data);
  t.model().rng().set_state(state.rng);
  return state;
}

// A resume of a run already at train.steps runs no step: its result.json stays exactly as it
// was. Without one (killed between the last checkpoint and result.json) it is evaluated and
// written. Said even with --quiet: a resume that does nothing should never look like one that ran.
TrainResult finish_resumed(const RunFolder& folder, Trainer& t, const TrainState& state) {
  TrainResult result;
  result.out_dir = folder.dir();
  result.steps = state.step;
  result.final_train_loss = state.last_logged_loss;
  result.already_finished = folder.finished(state.step);
  const char* dir = folder.dir().c_str();
  if (result.already_finished) {
    if (folder.writer())
      std::fprintf(stderr, "normlab train: %s already finished at step %d of %d; nothing to run, result.json left as it was\n",
                   dir, state.step, state.step);
    return result;
  }
  result.evals = evaluate(t.model(), t.run.task.evals, eval_options(t.cfg), &t.comm);
  result.bn_jitter = jitter_json(state);
  folder.write_result(result_json(result));
  if (folder.writer())
    std::fprintf(stderr, "normlab train: %s was at step %d of %d without result.json; evaluated and wrote it\n", dir,
                 state.step, state.step);
  return result;
}

[[noreturn]] void stop_not_finite(const StepResult& s, int step, const RunFolder& folder, int last_checkpoint) {
  throw UserError("step " + std::to_string(step) + ": " + s.not_finite + "; training stopped" +
                      (last_checkpoint >= 0 ? ", last good checkpoint " + folder.checkpoint() + " (step " +
                                                  std::to_string(last_checkpoint) + ") is intact"
                                            : ", no checkpoint was written yet"),
                  3);
}

// What train() reports: metrics.csv rows (rank 0) and the progress line.
class RunLog {
 public:
  RunLog(const Config& cfg, const TrainOptions& opt, Trainer& t, const RunFolder& folder, int start_step);
  // The training time of the window since the last row (taken before an evaluation runs).
  double window_seconds() const { return seconds_since(t_window_); }
  // One row after step `state.step`: the loss window (then emptied) and its throughput over
  // `secs`, this step's lr and gradient norms, each batch-statistics layer's drift (also added
  // to the jitter), and the evaluation when there was one.
  void row(const StepResult& s, TrainState& state, double secs, const std::vector<EvalResult>* evals, int stop_at);
  void finish() { progress_.finish(); }

 private:
  void progress_line(const StepResult& s, double window_loss, double tokens_per_s, int step,
                     const std::vector<EvalResult>* evals, int stop_at);
  const Config& cfg_;
  bool root_, quiet_;
  int start_step_;
  std::vector<std::pair<std::string, const Norm*>> bn_layers_;  // batch_stats() != nullptr
  MetricsCsv metrics_;
  ProgressPrinter progress_;
  Clock::time_point t_start_ = Clock::now(), t_window_ = Clock::now();
};

std::vector<std::pair<std::string, const Norm*>> batch_stat_layers(Encoder& model) {
  std::vector<std::pair<std::string, const Norm*>> layers;
  for (auto& [name, norm] : model.norms())
    if (norm->batch_stats()) layers.push_back({name, norm});
  return layers;
}

// metrics.csv's columns for this run (train/metrics.h).
std::vector<std::string> run_columns(Trainer& t) {
  std::vector<std::string> splits, layers, groups;
  for (const EvalSplit& s : t.run.task.evals) splits.push_back(s.name);
  for (auto& [name, norm] : batch_stat_layers(t.model())) layers.push_back(name);
  for (const NamedTensor& p : t.params) {
    std::string g = group_of(p.name);
    if (groups.empty() || groups.back() != g) groups.push_back(g);
  }
  return metrics_columns(splits, layers, groups);
}

RunLog::RunLog(const Config& cfg, const TrainOptions& opt, Trainer& t, const RunFolder& folder, int start_step)
    : cfg_(cfg), root_(folder.writer()), quiet_(opt.quiet || !folder.writer()), start_step_(start_step),
      bn_layers_(batch_stat_layers(t.model())), metrics_(folder.metrics(), run_columns(t)),
      progress_(stderr, !quiet_ && isatty(fileno(stderr))) {
  if (root_) metrics_.open(opt.resume, start_step);
  const TaskData& task = t.run.task;
  const char* dir = folder.dir().c_str();
  if (!quiet_ && !opt.resume) {
    std::fprintf(stderr, "normlab train: %s, %d steps, task %s (%s, %zu train examples), norm %s/%s -> %s\n", dir,
                 cfg.train.steps, cfg.task.name.c_str(), task.head.c_str(), task.train.examples.size(),
                 cfg.model.norm.type.c_str(), name_of(cfg.model.norm.position), dir);
    const int K = t.comm.size(), global_batch = std::min<int>(cfg.train.batch_size, (int)task.train.examples.size());
    if (K > 1)
      std::fprintf(stderr, "normlab train: data parallel over %d ranks, %d examples each of every global batch of %d\n",
                   K, global_batch / K, global_batch);
  }
  if (!quiet_ && opt.resume) std::fprintf(stderr, "normlab train: resuming %s at step %d\n", dir, start_step);
}

void RunLog::row(const StepResult& s, TrainState& state, double secs, const std::vector<EvalResult>* evals,
                 int stop_at) {
  namespace ms = metrics_schema;  // the column names (train/metrics_schema.h)
  std::map<std::string, std::string> row;
  const double window_loss = state.window.loss_sum / std::max(1, state.window.steps);
  const double tokens_per_s = secs > 0 ? state.window.real_tokens / secs : 0.0;
  row[ms::kStep] = std::to_string(state.step);
  row[ms::kLoss] = metric_text(window_loss);
  row[ms::kLr] = metric_text(s.lr);
  row[ms::kGradNorm] = metric_text(s.grad_norm);
  row[ms::kTokensPerS] = metric_text(tokens_per_s);
  for (auto& [g, v] : s.group_norms) row[ms::kGroupGradNorm + g] = metric_text(v);
  for (auto& [name, norm] : bn_layers_)
    if (const BatchNormStats* st = norm->batch_stats()) {
      row[ms::kDriftMean + name] = metric_text(st->drift_mean());
      row[ms::kDriftVar + name] = metric_text(st->drift_var());
      state.jitter.add(name, *st);
    }
  if (evals)
    for (const EvalResult& e : *evals) {
      row[ms::kEvalLoss + e.split] = metric_text(e.loss);
      row[ms::kEvalAcc + e.split] = metric_text(e.accuracy);
    }
  if (root_) metrics_.row(row);
  state.last_logged_loss = window_loss;
  if (!quiet_) progress_line(s, window_loss, tokens_per_s, state.step, evals, stop_at);
  state.window = LossWindow{};
  t_window_ = Clock::now();
}

// train/progress.h: a line redrawn in place on a terminal, else a log line.
void RunLog::progress_line(const StepResult& s, double window_loss, double tokens_per_s, int step,
                           const std::vector<EvalResult>* evals, int stop_at) {
  ProgressInfo p;
  p.step = step;
  p.total = cfg_.train.steps;
  p.loss = window_loss;
  p.lr = s.lr;
  p.tokens_per_s = tokens_per_s;
  p.elapsed_s = seconds_since(t_start_);
  p.eta_s = eta_seconds(p.elapsed_s, step - start_step_, stop_at - step);
  if (evals)
    for (const EvalResult& e : *evals) {
      char acc[32];
      std::snprintf(acc, sizeof acc, " acc %.3f", e.accuracy);
      p.extra.push_back(e.split + (e.seen_in_training ? "" : "*") + acc);
    }
  progress_.update(p, /*keep=*/evals != nullptr);
}

bool every(int n, int step) { return n > 0 && step % n == 0; }

}  // namespace

TrainResult train(const Config& cfg, const TrainOptions& opt) {
  const TrainConfig& tc = cfg.train;
  Comm& comm = opt.comm ? *opt.comm : local_comm();
  check_ranks(tc, comm.size());
  RunFolder folder(opt.out_dir.empty() ? tc.out_dir : opt.out_dir, comm.is_root());  // rank 0 writes it
  if (opt.resume && !std::filesystem::exists(folder.checkpoint()))
    throw UserError("--resume: no checkpoint at " + folder.checkpoint());
  StopSignals stop_signals;  // SIGINT/SIGTERM from here on: finish the step, checkpoint, return
  folder.open();             // one writer per run folder: a second run fails here at once
  const std::string config_text = config_to_json(cfg).dump(2);
  Trainer t(cfg, comm);
  TrainState state;
  if (opt.resume) state = resume_from(folder, cfg, t);
  if (opt.resume && state.step == tc.steps) return finish_resumed(folder, t, state);

  folder.begin(config_text);  // from here on the run folder changes: the run is no longer finished
  RunLog log(cfg, opt, t, folder, state.step);
  const EvalOptions eval_opt = eval_options(cfg);
  TrainResult result;
  result.out_dir = folder.dir();
  const auto t_start = Clock::now();
  const int start_step = state.step;
  int last_checkpoint = opt.resume ? start_step : -1;
  const int stop_at = opt.stop_after >= 0 ? std::min(tc.steps, start_step + opt.stop_after) : tc.steps;
  t.model().set_training(true);
  while (state.step < stop_at) {
    const int step = state.step + 1;  // the step this iteration makes
    const bool log_now = every(std::max(1, tc.log_every), step) || step == tc.steps;
    const bool eval_now = every(tc.eval_every, step) || step == tc.steps;
    const StepResult s = [&] {
      ProfileStep timed(opt.profile);  // --profile: this step's laps (profile.h); null: nothing
      return train_step(t, state.step, log_now);
    }();
    if (!s.not_finite.empty()) stop_not_finite(s, step, folder, last_checkpoint);
    state.step = step;
    state.window.loss_sum += s.loss;
    state.window.steps += 1;
    state.window.real_tokens += s.n_real;
    if (log_now || eval_now) {
      const double secs = log.window_seconds();
      if (eval_now) result.evals = evaluate(t.model(), t.run.task.evals, eval_opt, &comm);
      log.row(s, state, secs, eval_now ? &result.evals : nullptr, stop_at);
    }
    const bool checkpoint_now = every(tc.checkpoint_every, step) || step == stop_at;
    if (checkpoint_now) {
      if (folder.writer()) save_checkpoint(folder, t, state, config_text);
      last_checkpoint = step;
    }
    // Asked to stop (K > 1: agreed at the step's loss sum): this step is done; with its
    // checkpoint, `--resume` continues exactly here.
    const int stop = comm.size() > 1 ? s.stop_signal : stop_signal();
    if (stop != 0 && step < tc.steps) {
      if (!checkpoint_now && folder.writer()) save_checkpoint(folder, t, state, config_text);
      result.interrupted_by = stop;
      break;
    }
  }
  log.finish();
  // No step ran (--stop-after 0, `normlab init`): the step-0 checkpoint, the initial
  // weights with everything --resume needs, like any other checkpoint.
  if (state.step == start_step && last_checkpoint != state.step && folder.writer())
    save_checkpoint(folder, t, state, config_text);
  result.steps = state.step;
  result.final_train_loss = state.last_logged_loss;
  result.seconds = seconds_since(t_start);
  result.bn_jitter = jitter_json(state);
  if (state.step == tc.steps && comm.size() == 1)  // train/leak.h: the loss with batch vs running statistics
    result.leak_gap = measure_leak_gap(t.model(), t.run.task.train, tc.batch_size, tc.bucket_by_length, t.run.data_seed)
                          .to_json();
  if (state.step == tc.steps) folder.write_result(result_json(result));
  return result;
}

}  // namespace nl
