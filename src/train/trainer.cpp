// trainer.cpp — the training loop, evaluation per length bucket, metrics and checkpoints.
//
// What it is: `normlab train` as a function. One step is
//     batch -> model.forward -> loss -> backward -> clip -> optimizer.step(lr)
// with a metrics row every log_every steps, evaluation every eval_every steps, and a
// checkpoint every checkpoint_every steps and at the end. Everything a step depends on
// (weights, BatchNorm buffers, optimizer moments, the dropout RNG, the data position,
// the loss window) is in the checkpoint, so `--resume` continues bit-identically.
//
// Data parallel (K ranks, `mpirun -np K normlab train`; K = 1 is the same code with nothing
// exchanged). Every rank builds the same global batch and trains on its contiguous shard
// (shard_batch). The loss each rank differentiates is its shard's mean times
// n_shard / n_global (n = examples for classify, counted target tokens for tag and lm), so
// the SUM of the ranks' losses is exactly the single-process loss of the global batch (not
// a mean of per-rank means), and the sum of their gradients — sum_gradients, one flat
// buffer added in rank order — is its gradient. Every rank then clips and steps
// identically. Evaluation deals the batches out over the ranks. Only rank 0 writes the
// run folder; the checkpoint holds nothing rank-specific, so --resume works with any K.
// A stop (SIGINT/SIGTERM) is decided together: the step's loss sum carries each rank's
// "signal seen" flag, so every rank stops after the same step (a rank that stopped alone
// would leave the others waiting in the next step's collectives).
// What it is not: the model, the data or the optimizer (nn/, data/, optim/).
#include "normlab/train/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "normlab/autograd.h"
#include "normlab/error.h"
#include "normlab/files.h"
#include "normlab/io.h"
#include "normlab/json_io.h"
#include "normlab/ops.h"
#include "normlab/optim/optimizer.h"
#include "normlab/runtime.h"
#include "normlab/signals.h"
#include "normlab/train/checkpoint.h"
#include "normlab/train/data_parallel.h"
#include "normlab/train/leak.h"
#include "normlab/train/progress.h"
#include "normlab/train/resume.h"
#include "normlab/train/run.h"
#include "normlab/train/run_lock.h"
#include "normlab/train/saved_model.h"

namespace fs = std::filesystem;

namespace nl {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Parameter groups for per-layer gradient norms: "embed", "layers.0", ..., "head".
std::string group_of(const std::string& name) {
  size_t dot = name.find('.');
  std::string first = name.substr(0, dot);
  if (first == "layers" && dot != std::string::npos) {
    size_t dot2 = name.find('.', dot + 1);
    return name.substr(0, dot2);
  }
  return first;
}

// A number for metrics.csv and the metadata: %.9g by default, which keeps every bit of a
// float32 (9 significant digits read back as the same float), 17 for a double.
std::string fmt(double v, int precision = 9) {
  if (std::isnan(v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", precision, v);
  return buf;
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

// Sum of squared gradients per group, then sqrt. Computed before clipping.
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

// The training loss window between two metrics rows; checkpointed so resume is exact.
struct Window {
  double loss_sum = 0;
  int steps = 0;
  long long real_tokens = 0;
};

class MetricsCsv {
 public:
  MetricsCsv(fs::path path, std::vector<std::string> columns) : path_(std::move(path)), columns_(std::move(columns)) {}
  // Fresh file with the header, or (resume) keep only rows with step <= up_to.
  void open(bool resume, int up_to) {
    std::vector<std::string> keep;
    if (resume && fs::exists(path_)) {
      std::ifstream in(path_);
      std::string line;
      bool header = true;
      while (std::getline(in, line)) {
        if (header) { header = false; continue; }
        int step = std::atoi(line.c_str());
        if (step <= up_to) keep.push_back(line);
      }
    }
    std::ostringstream o;
    for (size_t i = 0; i < columns_.size(); ++i) o << (i ? "," : "") << columns_[i];
    o << "\n";
    for (auto& l : keep) o << l << "\n";
    write_file_atomic(path_.string(), o.str());
    out_.open(path_.string());
  }
  void row(const std::map<std::string, std::string>& values) {
    std::string line;
    for (size_t i = 0; i < columns_.size(); ++i) {
      auto it = values.find(columns_[i]);
      line += (i ? "," : "") + (it == values.end() ? std::string() : it->second);
    }
    out_.append(line + "\n");  // one checked write: a full disk stops the run here
  }
 private:
  fs::path path_;
  std::vector<std::string> columns_;
  AppendFile out_;
};

}  // namespace

// ---- jitter ----------------------------------------------------------------------------

void BatchStatsJitter::add(const std::string& layer, const BatchNormStats& st) {
  const size_t D = st.batch_mean.size();
  if (D == 0 || st.batch_var.size() != D) return;  // no training forward yet
  Sums* s = nullptr;
  for (Sums& x : layers_)
    if (x.layer == layer) s = &x;
  if (!s) {
    layers_.push_back(Sums{});
    s = &layers_.back();
    s->layer = layer;
    s->ref_mean.assign(st.batch_mean.begin(), st.batch_mean.end());
    s->ref_var.assign(st.batch_var.begin(), st.batch_var.end());
    for (auto* v : {&s->s_mean, &s->ss_mean, &s->s_var, &s->ss_var}) v->assign(D, 0.0);
  }
  if (s->ref_mean.size() != D) return;  // a layer does not change width
  // Shifted by the first value: identical statistics add exact zeros (std exactly 0), and
  // sum_sq - sum^2/n does not cancel the statistics' own size away.
  for (size_t d = 0; d < D; ++d) {
    const double dm = (double)st.batch_mean[d] - s->ref_mean[d];
    const double dv = (double)st.batch_var[d] - s->ref_var[d];
    s->s_mean[d] += dm;
    s->ss_mean[d] += dm * dm;
    s->s_var[d] += dv;
    s->ss_var[d] += dv * dv;
  }
  s->n += 1;
}

nlohmann::json BatchStatsJitter::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  // mean over features of the population std over the n logged steps:
  //   std_d = sqrt(sum (x - ref)^2 / n - (sum (x - ref) / n)^2)
  auto mean_std = [](const std::vector<double>& s, const std::vector<double>& ss, long long n) {
    double total = 0;
    for (size_t d = 0; d < s.size(); ++d) {
      const double m = s[d] / (double)n;
      total += std::sqrt(std::max(0.0, ss[d] / (double)n - m * m));
    }
    return s.empty() ? 0.0 : total / (double)s.size();
  };
  for (const Sums& x : layers_)
    j[x.layer] = {{"mean_std", mean_std(x.s_mean, x.ss_mean, x.n)},
                  {"var_std", mean_std(x.s_var, x.ss_var, x.n)},
                  {"steps", x.n}};
  return j;
}

std::string BatchStatsJitter::to_string() const {
  // Per layer, one line: name n D, then ref_mean, ref_var, s_mean, ss_mean, s_var, ss_var
  // (D numbers each, %.17g: every bit of a double).
  std::string out;
  char buf[40];
  for (const Sums& x : layers_) {
    out += x.layer + " " + std::to_string(x.n) + " " + std::to_string(x.ref_mean.size());
    for (const auto* v : {&x.ref_mean, &x.ref_var, &x.s_mean, &x.ss_mean, &x.s_var, &x.ss_var})
      for (double d : *v) {
        std::snprintf(buf, sizeof buf, " %.17g", d);
        out += buf;
      }
    out += "\n";
  }
  return out;
}

void BatchStatsJitter::from_string(const std::string& text, const std::string& what) {
  std::vector<Sums> layers;
  std::istringstream lines(text);
  std::string line;
  auto bad = [&](const std::string& why) {
    throw UserError(what + ": " + why);
  };
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    Sums x;
    long long D = -1;
    if (!(in >> x.layer >> x.n >> D) || x.n < 0 || D < 0 || D > (1 << 24)) bad("a layer's name, steps or width is missing or invalid");
    for (auto* v : {&x.ref_mean, &x.ref_var, &x.s_mean, &x.ss_mean, &x.s_var, &x.ss_var}) {
      v->resize((size_t)D);
      for (double& d : *v) {
        std::string tok;
        if (!(in >> tok)) bad("layer " + x.layer + " has fewer than 6 x " + std::to_string(D) + " numbers");
        char* end = nullptr;
        d = std::strtod(tok.c_str(), &end);
        if (*end != '\0' || !std::isfinite(d)) bad("layer " + x.layer + ": '" + tok.substr(0, 30) + "' is not a number");
      }
    }
    std::string rest;
    if (in >> rest) bad("layer " + x.layer + " has more than 6 x " + std::to_string(D) + " numbers");
    layers.push_back(std::move(x));
  }
  layers_ = std::move(layers);
}

namespace {

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

// Does `path` hold the result of a run that reached `steps`?
bool finished_result(const fs::path& path, int steps) {
  nlohmann::json j;
  try {  // a regular file of well-formed JSON, else not finished (files.h, json_io.h)
    j = parse_json(read_regular_file(path.string(), path.string(), "result file", kMaxConfigBytes, 1), path.string());
  } catch (const UserError&) {
    return false;
  }
  return j.is_object() && j.contains("steps") && j["steps"] == steps;
}

}  // namespace

TrainResult train(const Config& cfg, const TrainOptions& opt) {
  const TrainConfig& tc = cfg.train;
  Comm& comm = opt.comm ? *opt.comm : local_comm();
  const int K = comm.size();
  const bool root = comm.is_root();  // rank 0 alone writes the run folder
  if (tc.ranks > 0 && tc.ranks != K)
    throw UserError("train.ranks: " + std::to_string(tc.ranks) + " but this run has " + std::to_string(K) +
                        " process(es); start it with mpirun -np " + std::to_string(tc.ranks) +
                        " (or set train.ranks to 0: as launched)",
                    2);
  const fs::path dir = opt.out_dir.empty() ? fs::path(tc.out_dir) : fs::path(opt.out_dir);
  const fs::path ckpt_path = dir / "checkpoint.safetensors";
  if (opt.resume && !fs::exists(ckpt_path))
    throw UserError("--resume: no checkpoint at " + ckpt_path.string());

  // SIGINT/SIGTERM from here on: finish the step in progress, checkpoint, return.
  StopSignals stop_signals;

  // ---- one writer per run folder: the lock first, so a second run fails at once ------
  // A folder made here for a run that then fails before writing anything is removed again.
  // On K ranks, rank 0 is that writer; the others only read (config, data, checkpoint).
  struct NewFolder {
    fs::path dir;
    bool made = false, keep = false;
    ~NewFolder() {
      if (!made || keep) return;
      std::error_code ec;
      fs::remove(dir / RunLock::kFileName, ec);
      fs::remove(dir, ec);  // only if empty
    }
  } new_folder{dir};
  std::optional<RunLock> lock;
  if (root) {
    new_folder.made = fs::create_directories(dir);
    lock.emplace(dir.string());
  }

  const std::string config_text = config_to_json(cfg).dump(2);

  // ---- data, model, optimizer ---------------------------------------------------
  ExecOptions exec = exec_options(tc);
  exec.comm = &comm;
  Run run = make_run(cfg, exec);  // threads, task, model (train/run.h)
  const uint64_t data_seed = run.data_seed;
  TaskData& task = run.task;
  Encoder& model = *run.model;
  const int global_batch = std::min<int>(tc.batch_size, (int)task.train.examples.size());
  if (global_batch % K != 0)
    throw UserError("train.batch_size: the global batch of " + std::to_string(global_batch) +
                        " examples does not split into " + std::to_string(K) +
                        " equal shards (one per rank); use a multiple of " + std::to_string(K),
                    2);
  std::vector<NamedTensor> params = model.named_parameters();
  std::vector<NamedTensor> buffers = model.named_buffers();
  std::unique_ptr<Optimizer> optimizer = make_optimizer(cfg.optim, params);
  Batcher batcher(task.train, task.head, tc.batch_size, tc.bucket_by_length, data_seed);

  // What a checkpoint holds: weights, buffers, optimizer state (by name).
  std::vector<NamedTensor> saved = params;
  saved.insert(saved.end(), buffers.begin(), buffers.end());
  for (const NamedTensor& s : optimizer->state()) saved.push_back(s);

  // ---- resume: every check before anything in the run folder changes --------------
  int start_step = 0;
  Window window;
  double last_logged_loss = NAN;
  // The batch statistics of every logged step so far (result.json's bn_jitter); in the
  // checkpoint's metadata, so a resumed run's equals an uninterrupted one's.
  BatchStatsJitter jitter;
  bool jitter_complete = true;  // false: resumed from a checkpoint of a build without it
  if (opt.resume) {
    SafetensorsFile f = load_safetensors(ckpt_path.string());
    ResumePoint p = read_resume_point(f, cfg, ckpt_path.string());  // metadata and config
    copy_into(f, saved, ckpt_path.string());                         // names and shapes, then values
    batcher.set_state(p.data);
    model.rng().set_state(p.rng);
    start_step = p.step;
    window.loss_sum = p.window_loss_sum;
    window.steps = p.window_steps;
    window.real_tokens = p.window_tokens;
    last_logged_loss = p.last_logged_loss;
    auto saved_jitter = f.metadata.find("bn_jitter");
    if (saved_jitter != f.metadata.end())
      jitter.from_string(saved_jitter->second, "checkpoint " + ckpt_path.string() + ": __metadata__.bn_jitter");
    else
      jitter_complete = start_step == 0;
  }
  const EvalOptions eval_opt = eval_options(cfg);

  // A resume of a finished run runs no step: its result.json stays exactly as it was.
  // (Without one, e.g. killed between the last checkpoint and result.json, it is written.)
  TrainResult result;
  result.out_dir = dir.string();
  const fs::path result_path = dir / "result.json";
  if (opt.resume && start_step == tc.steps) {
    result.steps = start_step;
    result.final_train_loss = last_logged_loss;
    result.already_finished = finished_result(result_path, tc.steps);
    // Said even with --quiet: a resume that does nothing should never look like one that ran.
    if (result.already_finished) {
      if (root) std::fprintf(stderr, "normlab train: %s already finished at step %d of %d; nothing to run, result.json left as it was\n",
                   dir.string().c_str(), start_step, tc.steps);
      return result;
    }
    result.evals = evaluate(model, task.evals, eval_opt, &comm);
    result.bn_jitter = jitter_complete ? jitter.to_json() : nlohmann::json(nullptr);
    if (root) write_file_atomic(result_path.string(), result_json(result) + "\n");
    if (root) std::fprintf(stderr, "normlab train: %s was at step %d of %d without result.json; evaluated and wrote it\n",
                 dir.string().c_str(), start_step, tc.steps);
    return result;
  }

  // From here on the run folder changes: the run is no longer finished.
  new_folder.keep = true;
  if (root) {
    std::error_code ec;
    fs::remove(result_path, ec);
    write_file_atomic((dir / "config.json").string(), config_text + "\n");
  }

  const std::map<std::string, std::string> model_card = model_card_metadata(task);
  auto save_checkpoint = [&](int step) {
    std::map<std::string, std::string> meta{
        {"format", "normlab-checkpoint-1"},
        {"config", config_text},
        {"step", std::to_string(step)},
        {"rng", rng_to_string(model.rng().state())},
        {"data_epoch", std::to_string(batcher.state().epoch)},
        {"data_cursor", std::to_string(batcher.state().cursor)},
        {"window_loss_sum", fmt(window.loss_sum, 17)},
        {"window_steps", std::to_string(window.steps)},
        {"window_tokens", std::to_string(window.real_tokens)},
        {"last_logged_loss", fmt(last_logged_loss, 17)},
        {"bn_jitter", jitter.to_string()}};
    for (auto& [k, v] : model_card) meta[k] = v;  // vocabulary, classes, head: runs without the data
    save_safetensors(ckpt_path.string(), saved, meta);
  };

  // ---- metrics columns ------------------------------------------------------------
  std::vector<std::string> groups;
  for (const NamedTensor& p : params) {
    std::string g = group_of(p.name);
    if (groups.empty() || groups.back() != g) groups.push_back(g);
  }
  std::vector<std::pair<std::string, const Norm*>> bn_layers;
  for (auto& [name, norm] : model.norms())
    if (norm->batch_stats()) bn_layers.push_back({name, norm});  // BatchNorm-like: has batch statistics
  std::vector<std::string> columns{"step", "loss", "lr", "grad_norm", "tokens_per_s"};
  for (const EvalSplit& s : task.evals) {
    columns.push_back("eval_loss/" + s.name);
    columns.push_back("eval_acc/" + s.name);
  }
  for (auto& [name, norm] : bn_layers) {
    columns.push_back("drift_mean/" + name);
    columns.push_back("drift_var/" + name);
  }
  for (const std::string& g : groups) columns.push_back("grad_norm/" + g);
  MetricsCsv metrics(dir / "metrics.csv", columns);
  if (root) metrics.open(opt.resume, start_step);

  // ---- progress -----------------------------------------------------------------------
  const bool quiet = opt.quiet || !root;
  ProgressPrinter progress(stderr, !quiet && isatty(fileno(stderr)));
  if (!quiet && !opt.resume) {
    std::fprintf(stderr, "normlab train: %s, %d steps, task %s (%s, %zu train examples), norm %s/%s -> %s\n",
                 dir.string().c_str(), tc.steps, cfg.task.name.c_str(), task.head.c_str(),
                 task.train.examples.size(), cfg.model.norm.type.c_str(), name_of(cfg.model.norm.position),
                 dir.string().c_str());
    if (K > 1)
      std::fprintf(stderr, "normlab train: data parallel over %d ranks, %d examples each of every global batch of %d\n",
                   K, global_batch / K, global_batch);
  }
  if (!quiet && opt.resume) std::fprintf(stderr, "normlab train: resuming %s at step %d\n", dir.string().c_str(), start_step);

  const auto t_start = Clock::now();
  auto t_window = Clock::now();
  int last_checkpoint_step = opt.resume ? start_step : -1;
  const int stop_at = opt.stop_after >= 0 ? std::min(tc.steps, start_step + opt.stop_after) : tc.steps;

  auto run_eval = [&]() { return evaluate(model, task.evals, eval_opt, &comm); };
  const bool broadcast_buffers = K > 1 && !cfg.model.norm.sync && !buffers.empty();
  std::vector<float> grad_buffer;  // sum_gradients' flat buffer, reused

  int step = start_step;
  model.set_training(true);
  while (step < stop_at) {
    // ---- one training step --------------------------------------------------------
    const Batch global = batcher.next();
    const Batch batch = K > 1 ? shard_batch(global, comm.rank(), K) : global;
    optimizer->zero_grad();
    Tensor logits = model.forward(batch);
    Tensor loss = model.loss(logits, batch);
    float loss_value = loss.item();
    int stop_now = 0;  // K > 1: the signal any rank had seen at this step's loss sum
    if (K > 1) {
      // This shard's share of the global batch's loss: mean * n_shard / n_global, so the
      // ranks' losses (and gradients) add up to the single-process ones.
      loss = loss * (float)((double)loss_targets(batch) / std::max(1, loss_targets(global)));
      const int sig = stop_signal();
      double sum[3] = {loss.item(), sig != 0 ? 1.0 : 0.0, (double)sig};  // loss, ranks stopped, their signals
      comm.sum(sum, 3);
      loss_value = (float)sum[0];
      if (sum[1] > 0) stop_now = sig != 0 ? sig : (int)std::lround(sum[2] / sum[1]);
    }
    if (!std::isfinite(loss_value))
      throw UserError("step " + std::to_string(step + 1) + ": loss is " + fmt(loss_value) +
                      "; training stopped" +
                      (last_checkpoint_step >= 0 ? ", last good checkpoint " + ckpt_path.string() +
                                                       " (step " + std::to_string(last_checkpoint_step) + ") is intact"
                                                 : ", no checkpoint was written yet"),
                      3);
    loss.backward();
    sum_gradients(params, comm, grad_buffer);  // K > 1: every rank now holds the global gradient
    if (!all_finite(params))
      throw UserError("step " + std::to_string(step + 1) + ": a gradient is nan or inf; training stopped" +
                          (last_checkpoint_step >= 0 ? ", last good checkpoint " + ckpt_path.string() +
                                                           " (step " + std::to_string(last_checkpoint_step) + ") is intact"
                                                     : ""),
                      3);
    const bool log_now = (step + 1) % std::max(1, tc.log_every) == 0 || step + 1 == tc.steps;
    std::map<std::string, double> gnorms;
    if (log_now) gnorms = group_grad_norms(params);
    const float grad_norm = clip_grad_norm(params, cfg.optim.clip_grad_norm);
    const float lr = learning_rate(cfg.optim, step, tc.steps);
    optimizer->step(lr);
    // Unsynced BatchNorm: each rank's running statistics saw its own shard; keep rank 0's
    // on every rank (PyTorch DDP's broadcast_buffers), so evaluation agrees across ranks.
    if (broadcast_buffers) broadcast_tensors(buffers, comm, 0);
    ++step;
    window.loss_sum += loss_value;
    window.steps += 1;
    window.real_tokens += global.n_real;

    // ---- metrics, evaluation, checkpoint ------------------------------------------
    const bool eval_now = (tc.eval_every > 0 && step % tc.eval_every == 0) || step == tc.steps;
    if (log_now || eval_now) {
      std::map<std::string, std::string> row;
      const double window_loss = window.loss_sum / std::max(1, window.steps);
      const double secs = seconds_since(t_window);
      row["step"] = std::to_string(step);
      row["loss"] = fmt(window_loss);
      row["lr"] = fmt(lr);
      row["grad_norm"] = fmt(grad_norm);
      row["tokens_per_s"] = fmt(secs > 0 ? window.real_tokens / secs : 0.0);
      for (auto& [g, v] : gnorms) row["grad_norm/" + g] = fmt(v);
      for (auto& [name, norm] : bn_layers) {
        if (const BatchNormStats* st = norm->batch_stats()) {
          row["drift_mean/" + name] = fmt(st->drift_mean());
          row["drift_var/" + name] = fmt(st->drift_var());
          jitter.add(name, *st);
        }
      }
      if (eval_now) {
        result.evals = run_eval();
        for (const EvalResult& e : result.evals) {
          row["eval_loss/" + e.split] = fmt(e.loss);
          row["eval_acc/" + e.split] = fmt(e.accuracy);
        }
      }
      if (root) metrics.row(row);
      last_logged_loss = window_loss;
      if (!quiet) {  // train/progress.h: a line redrawn in place on a terminal, else a log line
        ProgressInfo p;
        p.step = step;
        p.total = tc.steps;
        p.loss = window_loss;
        p.lr = lr;
        p.tokens_per_s = secs > 0 ? window.real_tokens / secs : 0.0;
        p.elapsed_s = seconds_since(t_start);
        p.eta_s = eta_seconds(p.elapsed_s, step - start_step, stop_at - step);
        if (eval_now)
          for (const EvalResult& e : result.evals) {
            char acc[32];
            std::snprintf(acc, sizeof acc, " acc %.3f", e.accuracy);
            p.extra.push_back(e.split + (e.seen_in_training ? "" : "*") + acc);
          }
        progress.update(p, /*keep=*/eval_now);
      }
      window = Window{};
      t_window = Clock::now();
    }
    const bool ckpt_now = (tc.checkpoint_every > 0 && step % tc.checkpoint_every == 0) || step == stop_at;
    if (ckpt_now) {
      if (root) save_checkpoint(step);
      last_checkpoint_step = step;
    }
    // Asked to stop: this step is done; with its checkpoint, `--resume` continues exactly here.
    if (K == 1) stop_now = stop_signal();
    if (stop_now != 0 && step < tc.steps) {
      if (!ckpt_now && root) save_checkpoint(step);
      result.interrupted_by = stop_now;
      break;
    }
  }
  progress.finish();
  // No step ran (--stop-after 0, `normlab init`): the step-0 checkpoint, the initial
  // weights with everything --resume needs, like any other checkpoint.
  if (step == start_step && last_checkpoint_step != step) {
    if (root) save_checkpoint(step);
    last_checkpoint_step = step;
  }

  result.steps = step;
  result.final_train_loss = last_logged_loss;
  result.seconds = seconds_since(t_start);
  result.bn_jitter = jitter_complete ? jitter.to_json() : nlohmann::json(nullptr);
  if (step == tc.steps && K == 1)  // train/leak.h: the loss with batch vs running statistics
    result.leak_gap = measure_leak_gap(model, task.train, tc.batch_size, tc.bucket_by_length, data_seed).to_json();
  if (step == tc.steps && root) write_file_atomic(result_path.string(), result_json(result) + "\n");
  return result;
}

}  // namespace nl
