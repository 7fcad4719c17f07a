// cmd_bench.cpp — `normlab bench`: training-step throughput on two fixed benchmark models.
//
// What it is: bench-small (D 128, 4 heads, F 512, 4 layers, lengths 8..64) and
// bench-medium (D 256, 8 heads, F 1024, 6 layers, lengths 16..128), docs/math.md
// ("Benchmark models"): post-norm LayerNorm encoder, classify head with mean pool, vocab 32, 4 classes, batch 32, lengths uniform
// in the range. It times forward + backward + AdamW steps on random batches and prints
// real (non-pad) tokens/s, model FLOP utilisation against OpenBLAS sgemm measured in the
// same run (n=1024), peak RSS and the pool's fresh allocations per step.
// `--dump DIR` also writes the initial weights, the batches and the first loss so that
// scripts/bench_torch.py can run the same model on the same data and check the loss.
// Under `mpirun -np K` it is data parallel as `normlab train` is: each rank runs its shard
// (32/K sequences) of every batch, gradients are summed over ranks (sum_gradients), and
// tokens/s counts the whole batch's tokens. Rank 0 prints, adding the ranks, the bytes
// all-reduced per step, and where the step's time went: `wait_s` in a barrier just before
// the gradient sum (the ranks' imbalance), `allreduce_s` in the sum itself. model_gflops is
// then the whole job's, sgemm_gflops rank 0's, and mfu = model_gflops / (K x sgemm_gflops).
// What it is not: a test. Timings belong in benchmarks, never in assertions.
#include <cblas.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "normlab/cli/cli.h"
#include "normlab/parallel/comm.h"
#include "normlab/core/error.h"
#include "normlab/core/io.h"
#include "normlab/nn/encoder.h"
#include "normlab/nn/norm.h"
#include "normlab/optim/optimizer.h"
#include "normlab/core/profile.h"
#include "normlab/core/runtime.h"
#include "normlab/train/checkpoint.h"
#include "normlab/train/data_parallel.h"

namespace nl {

namespace {

struct BenchPreset {
  const char* name;
  int D, H, F, L, min_len, max_len;
};
const BenchPreset kPresets[] = {{"small", 128, 4, 512, 4, 8, 64}, {"medium", 256, 8, 1024, 6, 16, 128}};

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// GFLOP/s of one n x n x n sgemm, best of a few, with the current thread count.
double sgemm_gflops(int n) {
  std::vector<float> A((size_t)n * n, 0.5f), B((size_t)n * n, 0.25f), C((size_t)n * n);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A.data(), n, B.data(), n, 0.0f, C.data(), n);
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    double t0 = now_s();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A.data(), n, B.data(), n, 0.0f, C.data(), n);
    double secs = now_s() - t0;
    best = std::max(best, 2.0 * n * (double)n * n / secs / 1e9);
  }
  return best;
}

// Timings need idle cores: a warning on stderr when the 1-minute load average (other
// processes, before the bench starts) exceeds the cores the bench leaves free
// (cores - ranks x threads), by half a core or more.
void warn_if_busy(int threads_used) {
  double load = 0;
  if (getloadavg(&load, 1) != 1) return;
  const int cores = (int)std::thread::hardware_concurrency();
  const int free_cores = std::max(cores - threads_used, 0);
  if (load >= free_cores + 0.5)
    std::fprintf(stderr,
                 "bench: warning: load average %.1f on %d cores, %d of them free for other work: the bench's threads "
                 "share cores with other processes, so tokens/s will be low and vary between runs\n",
                 load, cores, free_cores);
}

// One line per few steps on stderr (stdout keeps only the JSON result).
void report_progress(int s, int warmup, int total, double t0) {
  if (s % 5 != 4 && s != total - 1) return;
  std::fprintf(stderr, "bench: step %d/%d (%s), %.1f s\n", s + 1, total, s < warmup ? "warmup" : "timed",
               now_s() - t0);
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

// The benchmark model (docs/math.md, Benchmark models) and its optimizer.
ModelConfig bench_model(const BenchPreset& P) {
  ModelConfig mc;
  mc.d_model = P.D; mc.heads = P.H; mc.d_ff = P.F; mc.layers = P.L;
  mc.positions = Positions::learned; mc.max_len = P.max_len; mc.activation = Activation::gelu;
  mc.pool = Pool::mean; mc.norm.type = norm_for_role("standard"); mc.norm.position = NormPosition::post;
  return mc;
}

OptimConfig bench_optim() {
  OptimConfig oc;
  oc.type = OptimizerType::adamw; oc.lr = 1e-3f; oc.weight_decay = 0.01f; oc.clip_grad_norm = 0;
  oc.decay_norm_and_bias = true;  // as torch.optim.AdamW over model.parameters()
  return oc;
}

// `total` random batches of `Bsz`: lengths uniform in [min,max], tokens 1..V-1, labels 0..C-1
// (`sets` holds their examples).
std::vector<Batch> random_batches(const BenchPreset& P, int V, int C, int Bsz, int total, uint64_t seed,
                                  std::vector<Dataset>& sets) {
  Rng rng(seed * 7919 + 1);
  sets.assign(total, Dataset{});
  std::vector<Batch> batches;
  for (int s = 0; s < total; ++s) {
    std::vector<int> idx;
    for (int i = 0; i < Bsz; ++i) {
      Example e;
      const int len = rng.randint(P.min_len, P.max_len);
      for (int t = 0; t < len; ++t) e.tokens.push_back(rng.randint(1, V - 1));
      e.labels = {rng.randint(0, C - 1)};
      sets[s].examples.push_back(e);
      idx.push_back(i);
    }
    batches.push_back(make_batch(sets[s], idx, "classify"));
  }
  return batches;
}

// Model FLOPs of one training step on `b`: 6 x non-embedding parameters per real token, plus
// attention's QK^T and AV (forward 4*T^2*D per layer, x3 for training).
double step_flops(const Batch& b, const BenchPreset& P, double n_params) {
  double flops = 6.0 * n_params * b.n_real;
  for (int i = 0; i < b.B; ++i) {
    double len = 0;
    for (int t = 0; t < b.T; ++t) len += b.keep.data()[i * b.T + t];
    flops += 12.0 * P.L * P.D * len * len;
  }
  return flops;
}

// `--dump DIR`'s bench.json: the model, the optimizer, the first loss and every batch, for
// scripts/bench_torch.py (the weights are written before the first step).
void write_dump(const std::string& dir, const BenchPreset& P, int V, int C, const OptimConfig& oc,
                double first_loss, int warmup, const std::vector<Batch>& batches) {
  nlohmann::json j;
  j["model"] = {{"vocab", V}, {"classes", C}, {"d_model", P.D}, {"heads", P.H}, {"d_ff", P.F},
                {"layers", P.L}, {"max_len", P.max_len}};
  j["optim"] = {{"lr", oc.lr}, {"beta1", oc.beta1}, {"beta2", oc.beta2}, {"eps", oc.eps},
                {"weight_decay", oc.weight_decay}};
  j["first_loss"] = first_loss;
  j["warmup_steps"] = warmup;
  j["batches"] = nlohmann::json::array();
  for (const Batch& b : batches)
    j["batches"].push_back({{"B", b.B}, {"T", b.T}, {"tokens", b.tokens}, {"labels", b.targets}});
  write_file_atomic(dir + "/bench.json", j.dump() + "\n");
}

// `--profile`: the table on stderr and the JSON member (with the profiled pass's slow-down).
std::string report_profile(const Profile& profile, const BenchPreset& P, double secs, double profiled_secs) {
  nlohmann::json pj = profile.to_json();
  pj["preset"] = P.name;
  pj["plain_s"] = secs;
  pj["profiled_s"] = profiled_secs;
  pj["measured_slowdown"] = profiled_secs / secs - 1;
  std::fprintf(stderr, "bench-%s profile, %d steps (rank 0), %s threads; profiled pass %.3f s vs plain %.3f s (%+.1f%%)\n%s",
               P.name, profile.steps(), std::to_string(num_threads()).c_str(), profiled_secs, secs,
               100 * (profiled_secs / secs - 1), profile.table().c_str());
  return ", \"profile\": " + pj.dump();
}

// Under mpirun: the ranks, the bytes all-reduced per step (sum_gradients' buffer: every
// parameter's gradient and one flag per parameter, float32) and where the sum's time went.
std::string ranks_json(int K, const std::vector<NamedTensor>& params, double t_wait, double t_allreduce) {
  if (K == 1) return "";
  double n_all = 0;
  for (const NamedTensor& p : params) n_all += (double)p.tensor.numel() + 1;
  char buf[256];
  std::snprintf(buf, sizeof buf, "\"ranks\": %d, \"allreduce_bytes\": %.0f, \"wait_s\": %.3f, \"allreduce_s\": %.3f, ",
                K, 4 * n_all, t_wait, t_allreduce);
  return buf;
}

// Non-embedding parameters (MFU counts 6 x these per real token, plus attention: docs/math.md,
// Benchmark models).
double non_embedding_params(const std::vector<NamedTensor>& params) {
  double n = 0;
  for (const NamedTensor& p : params)
    if (p.name.rfind("embed.", 0) != 0) n += (double)p.tensor.numel();
  return n;
}

// One training step on a batch, as train_step makes it (the laps: `--profile`, profile.h);
// under mpirun this rank's shard, its loss scaled to its share of the batch (as the trainer
// does), then the gradient sum. `timed`: its barrier wait and all-reduce count in t_wait,
// t_allreduce. first_loss: the loss of step 0 (the whole batch's, summed over ranks).
struct BenchStepper {
  Encoder& model;
  Optimizer& optimizer;
  std::vector<NamedTensor>& params;
  Comm& world;
  float lr;
  double first_loss = 0, t_wait = 0, t_allreduce = 0;
  std::vector<float> grad_buffer;

  void step(const Batch& b, int s, bool timed) {
    optimizer.zero_grad();
    profile_lap("optimizer", "zero_grad", Phase::other);
    const int K = world.size();
    if (K == 1) {
      Tensor loss = model.loss(model.forward(b), b);
      if (s == 0) first_loss = loss.item();
      loss.backward();
    } else {
      const Batch shard = shard_batch(b, world.rank(), K);
      Tensor loss = model.loss(model.forward(shard), shard) * (float)((double)loss_targets(shard) / loss_targets(b));
      double l = loss.item();
      loss.backward();
      const double t0 = now_s();
      world.barrier();
      const double t1 = now_s();
      sum_gradients(params, world, grad_buffer);
      const double t2 = now_s();
      world.sum(&l, 1);
      if (s == 0) first_loss = l;
      if (timed) t_wait += t1 - t0, t_allreduce += t2 - t1;
      profile_lap("optimizer", "grad sum", Phase::other);
    }
    optimizer.step(lr);
    profile_lap("optimizer", "step", Phase::other);
  }
};

}  // namespace

NL_COMMAND("bench", "Benchmark training steps: post-norm LayerNorm encoder, classify head, batch 32; small = D128 x 4 layers, lengths 8..64; medium = D256 x 6 layers, lengths 16..128", 80,
           [](CLI::App& sub) -> CommandRun {
  struct Args {
    std::string preset = "small", dump;
    int steps = 20, warmup = 20;
    bool profile = false;
    uint64_t seed = 1;
  };
  auto a = std::make_shared<Args>();
  sub.add_option("--preset", a->preset, "small or medium")->check(CLI::IsMember({"small", "medium"}));
  sub.add_option("--steps", a->steps, "Timed steps (default 20)");
  sub.add_option("--warmup", a->warmup, "Untimed steps first, while the buffer pool meets the batch sizes (default 20)");
  sub.add_option("--seed", a->seed, "Seed for weights and batches");
  sub.add_option("--dump", a->dump, "Write weights, batches and first loss here for scripts/bench_torch.py");
  sub.add_flag("--profile", a->profile,
               "Then run the timed steps again, profiled: per op, direction and part of the model (a table on "
               "stderr, \"profile\" in the JSON, with the profiled pass's measured slow-down)");
  return [a]() {
    const BenchPreset& P = a->preset == "small" ? kPresets[0] : kPresets[1];
    const int V = 32, C = 4, Bsz = 32;
    Comm& world = world_comm();  // K ranks under mpirun, else this process
    const int K = world.size();
    if (Bsz % K != 0)
      throw UserError("bench: the batch of 32 does not split over " + std::to_string(K) +
                      " ranks; use 1, 2, 4, 8, 16 or 32", 2);
    if (K > 1 && !a->dump.empty()) throw UserError("bench: --dump is for one process (without mpirun)", 2);
    const ModelConfig mc = bench_model(P);
    const OptimConfig oc = bench_optim();

    // The run's options as every command gets them: fast and packed, unless `--kernels reference`.
    Config defaults;
    apply_global_options(defaults);
    const ExecOptions exec = exec_options(defaults.train);
    Encoder model(mc, "classify", V, C, a->seed, exec);
    std::vector<NamedTensor> params = model.named_parameters();
    if (!a->dump.empty()) {
      std::filesystem::create_directories(a->dump);
      save_safetensors(a->dump + "/weights.safetensors", params, {});
    }
    auto optimizer = make_optimizer(oc, params);

    const int total = a->warmup + a->steps;
    std::vector<Dataset> sets;
    const std::vector<Batch> batches = random_batches(P, V, C, Bsz, total, a->seed, sets);

    const double n_params = non_embedding_params(params);

    if (world.is_root()) warn_if_busy(K * num_threads());
    const double t_start = now_s();
    double flops = 0, t_timed = 0;
    long long real_tokens = 0, allocs_timed = 0;
    BenchStepper stepper{model, *optimizer, params, world, oc.lr, 0, 0, 0, {}};
    for (int s = 0; s < total; ++s) {
      if (s == a->warmup) {
        world.barrier();
        t_timed = now_s();
        allocs_timed = pool_stats().system_allocs;
      }
      const Batch& b = batches[s];
      stepper.step(b, s, s >= a->warmup);
      if (s >= a->warmup) {
        real_tokens += b.n_real;
        flops += step_flops(b, P, n_params);
      }
      if (world.is_root()) report_progress(s, a->warmup, total, t_start);
    }
    world.barrier();
    const double secs = now_s() - t_timed;
    const long long allocs = pool_stats().system_allocs - allocs_timed;
    // --profile: the timed batches once more, each step profiled; its wall time against the
    // plain pass's is the profiling's measured cost (noisy on a loaded machine; the laps' own
    // cost, timed apart, is in profile.overhead).
    Profile profile;
    double profiled_secs = 0;
    if (a->profile) {
      world.barrier();
      const double t0 = now_s();
      for (int s = a->warmup; s < total; ++s) {
        ProfileStep timed(&profile);
        stepper.step(batches[s], s, false);
      }
      world.barrier();
      profiled_secs = now_s() - t0;
    }
    const double gflops = sgemm_gflops(1024);
    const double achieved = flops / secs / 1e9;

    if (!world.is_root()) return 0;  // rank 0 reports
    const std::string profiled = a->profile ? report_profile(profile, P, secs, profiled_secs) : "";
    const std::string ranks = ranks_json(K, params, stepper.t_wait, stepper.t_allreduce);
    const double first_loss = stepper.first_loss;
    std::printf("{\"preset\": \"%s\", %s\"threads\": %d, \"tokens_per_s\": %.1f, \"model_gflops\": %.2f, "
                "\"sgemm_gflops\": %.2f, \"mfu\": %.4f, \"peak_rss_mb\": %.1f, \"allocs_per_step\": %.2f, "
                "\"first_loss\": %.7g, \"steps\": %d, \"seconds\": %.3f%s}\n",
                P.name, ranks.c_str(), num_threads(), real_tokens / secs, achieved, gflops, achieved / (gflops * K),
                peak_rss_mb(), (double)allocs / a->steps, first_loss, a->steps, secs, profiled.c_str());

    if (!a->dump.empty()) write_dump(a->dump, P, V, C, oc, first_loss, a->warmup, batches);
    return 0;
  };
});

}  // namespace nl
