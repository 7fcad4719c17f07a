// test_data_parallel.cpp — data-parallel training on 2 ranks against 1 process, under mpirun.
//
// What it checks (CTest runs `mpirun --allow-run-as-root --oversubscribe -np 2` on this
// binary; both ranks run every test case, in the same order):
//  - the model level, one forward and backward: synced BatchNorm on 2 shards gives the
//    loss, every gradient and the running statistics of the whole batch in one process
//    (fused kernels and the reference twin, batchnorm, batchnorm_padded and powernorm, whose
//    ema_gz buffer is updated by the backward), the same buffers on both ranks; unsynced BatchNorm gives exactly what K independent
//    single-process normalisations of the shards give, and not the whole batch's;
//  - the trainer: N steps on K=2 match K=1 (loss curve and final weights, float32
//    reduction-order tolerance) for every per-token norm, synced BatchNorm and PowerNorm, classify,
//    tag and lm heads, variable lengths, post and pre norm; unsynced BatchNorm does not;
//  - with dropout: K=2 draws the masks K=1 draws (same tolerance, same dropout RNG state
//    in the checkpoint), and a model-level shard draws its block of the whole batch's masks;
//  - --resume of a K=2 checkpoint at K=1 continues as an uninterrupted run;
//  - evaluation dealt over 2 ranks gives 1 process's split results, per-length results and
//    BatchNorm / PowerNorm shift (float64 sums over ranks).
// Comparisons happen on rank 0 after every collective of a test case (so a failed
// CHECK cannot leave rank 1 waiting in one).
// What it does not check: the command line (tests/unit/parallel/test_dist_cli.cpp runs mpirun on
// the binary), speed.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "normlab/core/autograd.h"
#include "normlab/config/config.h"
#include "normlab/parallel/comm.h"
#include "normlab/core/exec.h"
#include "normlab/nn/encoder.h"
#include "normlab/ops/ops.h"
#include "normlab/core/runtime.h"
#include "normlab/train/checkpoint.h"
#include "normlab/train/data_parallel.h"
#include "normlab/train/trainer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

nl::Comm& world() { return nl::world_comm(); }

// A tiny config: D=16, 1-2 layers, 8 examples of lengths 2..12 per global batch.
nl::Config tiny(const std::string& task, const std::string& norm, bool sync, int steps) {
  json j = {{"model", {{"d_model", 16}, {"heads", 2}, {"d_ff", 32}, {"layers", 1}, {"max_len", 64},
                       {"positions", "learned"},
                       {"norm", {{"type", norm}, {"position", "post"}, {"sync", sync}}}}},
            {"task", {{"name", task}, {"train_lengths", {{"min", 2}, {"max", 12}}},
                      {"eval_lengths", json::array({{{"min", 2}, {"max", 12}}, {{"min", 13}, {"max", 20}}})},
                      {"train_size", 96}, {"eval_size", 24}, {"symbols", 4}}},
            // SGD, not Adam: Adam divides each gradient by its own scale, so a parameter whose
            // gradient is 0 in exact arithmetic (the key bias; a bias right before BatchNorm)
            // would turn float rounding noise into full-size steps that no two summation
            // orders share.
            {"optim", {{"type", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}, {"warmup_steps", 0}}},
            {"train", {{"steps", steps}, {"batch_size", 8}, {"seed", (uint64_t)3}, {"threads", 1},
                       {"log_every", 1}, {"eval_every", 0}}}};
  if (task == "char_lm") {
    j["task"]["path"] = std::string(NORMLAB_TEST_DIR) + "/fixtures/data/text.txt";
    j["task"]["train_lengths"] = {{"min", 3}, {"max", 9}};
    j["task"]["eval_lengths"] = json::array({{{"min", 3}, {"max", 9}}});
  }
  return nl::config_from_json(j, "test");
}

std::string tmp_dir(const std::string& name) {
  // The same path on every rank (rank 0 decides it).
  double pid = world().is_root() ? (double)getpid() : 0.0;
  world().sum(&pid, 1);
  const fs::path d = fs::temp_directory_path() / ("normlab_mpi_" + std::to_string((long)pid)) / name;
  if (world().is_root()) {
    fs::remove_all(d);
    fs::create_directories(d);
  }
  world().barrier();
  return d.string();
}

std::vector<double> losses(const std::string& dir) {
  std::ifstream in(dir + "/metrics.csv");
  std::string line;
  std::getline(in, line);
  std::vector<double> v;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string step, loss;
    std::getline(ss, step, ',');
    std::getline(ss, loss, ',');
    v.push_back(std::stod(loss));
  }
  return v;
}

// max |a - b| / max |b| over every tensor of b but the optimizer's (weights and buffers):
// float32 rounding, measured against the scale of the model's numbers.
double max_rel_diff(const nl::SafetensorsFile& a, const nl::SafetensorsFile& b, std::string& worst) {
  double diff = 0, scale = 0;
  for (const auto& [name, tb] : b.tensors) {
    if (name.rfind("optim.", 0) == 0) continue;
    auto it = a.tensors.find(name);
    if (it == a.tensors.end() || it->second.numel() != tb.numel()) {
      worst = name + " missing or of another shape";
      return INFINITY;
    }
    for (int64_t i = 0; i < tb.numel(); ++i) {
      scale = std::max(scale, (double)std::fabs(tb.data()[i]));
      const double d = std::fabs((double)it->second.data()[i] - tb.data()[i]);
      if (d > diff) {
        diff = d;
        worst = name;
      }
    }
  }
  return diff / scale;
}

struct Compared {
  double loss = 0;     // max relative difference of the logged losses, step by step
  double weights = 0;  // max_rel_diff of the final checkpoints (weights, buffers, Adam moments)
  std::string worst;
  bool same_rng = false;  // the checkpoints' dropout RNG states are equal
};

// Train cfg on both ranks (K=2), then on rank 0 alone (K=1); compare on rank 0.
Compared k2_vs_k1(const nl::Config& cfg, const std::string& name) {
  const std::string d2 = tmp_dir(name + "_k2"), d1 = tmp_dir(name + "_k1");
  nl::TrainOptions o;
  o.quiet = true;
  o.out_dir = d2;
  o.comm = &world();
  nl::train(cfg, o);
  Compared c;
  if (world().is_root()) {
    o.out_dir = d1;
    o.comm = nullptr;  // this process alone
    nl::train(cfg, o);
    const std::vector<double> l2 = losses(d2), l1 = losses(d1);
    REQUIRE(l1.size() == l2.size());
    for (size_t i = 0; i < l1.size(); ++i) c.loss = std::max(c.loss, std::fabs(l2[i] - l1[i]) / std::fabs(l1[i]));
    const nl::SafetensorsFile f2 = nl::load_safetensors(d2 + "/checkpoint.safetensors");
    const nl::SafetensorsFile f1 = nl::load_safetensors(d1 + "/checkpoint.safetensors");
    c.weights = max_rel_diff(f2, f1, c.worst);
    c.same_rng = f2.metadata.at("rng") == f1.metadata.at("rng");
  }
  world().barrier();
  return c;
}

// ---- the model level ------------------------------------------------------------------------

// A global batch of 8 variable-length examples and the model's loss on (a shard of) it.
nl::Batch global_batch(const std::string& head) {
  nl::Dataset d;
  nl::Rng rng(7);
  for (int i = 0; i < 8; ++i) {
    nl::Example e;
    const int L = 2 + (int)(rng.uniform() * 9);
    for (int t = 0; t < L; ++t) {
      e.tokens.push_back(1 + (int)(rng.uniform() * 4));
      if (head == "tag") e.labels.push_back((int)(rng.uniform() * 3));
    }
    if (head == "classify") e.labels.push_back((int)(rng.uniform() * 3));
    d.examples.push_back(e);
  }
  std::vector<int> idx{0, 1, 2, 3, 4, 5, 6, 7};
  return nl::make_batch(d, idx, head);
}

nl::ModelConfig model_cfg(const std::string& norm, bool sync, const std::string& position) {
  nl::ModelConfig m;
  m.d_model = 16;
  m.heads = 2;
  m.d_ff = 32;
  m.layers = 2;
  m.max_len = 32;
  m.norm.type = norm;
  m.norm.sync = sync;
  m.norm.position = position == std::string("pre") ? nl::NormPosition::pre : nl::NormPosition::post;
  return m;
}

// Loss of `model` on `shard` scaled to the share of `global` it holds, and its backward.
double shard_step(nl::Encoder& model, const nl::Batch& shard, const nl::Batch& global) {
  nl::Tensor loss = model.loss(model.forward(shard), shard) *
                    (float)((double)nl::loss_targets(shard) / nl::loss_targets(global));
  loss.backward();
  return loss.item();
}

struct Grads {
  double loss = 0;
  std::vector<std::vector<float>> grads, buffers;
};

Grads snapshot(const nl::Encoder& m, double loss) {
  Grads g;
  g.loss = loss;
  for (const nl::NamedTensor& p : m.named_parameters())
    g.grads.push_back(p.tensor.has_grad() ? std::vector<float>(p.tensor.grad(), p.tensor.grad() + p.tensor.numel())
                                          : std::vector<float>(p.tensor.numel(), 0.0f));
  for (const nl::NamedTensor& b : m.named_buffers()) g.buffers.push_back(b.tensor.to_vector());
  return g;
}

// max |a - b| / max |b| over all entries (see max_rel_diff).
double max_diff(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < a[i].size(); ++j) {
      diff = std::max(diff, (double)std::fabs(a[i][j] - b[i][j]));
      scale = std::max(scale, (double)std::fabs(b[i][j]));
    }
  return diff / scale;
}

// 1 if this rank's buffers differ from rank 0's, summed over ranks.
double ranks_disagree(const nl::Encoder& m) {
  std::vector<nl::NamedTensor> bufs = m.named_buffers();
  std::vector<std::vector<float>> mine;
  for (const nl::NamedTensor& b : bufs) mine.push_back(b.tensor.to_vector());
  // rank 0's values everywhere, into copies
  std::vector<nl::NamedTensor> copies;
  for (const nl::NamedTensor& b : bufs) copies.push_back({b.name, b.tensor.clone(), false});
  nl::broadcast_tensors(copies, world(), 0);
  double differ = 0;
  for (size_t i = 0; i < copies.size(); ++i)
    if (copies[i].tensor.to_vector() != mine[i]) differ = 1;
  world().sum(&differ, 1);
  return differ;
}

}  // namespace

TEST_CASE("synced BatchNorm on 2 shards = the whole batch in one process (loss, gradients, running stats)", "[dist]") {
  REQUIRE(world().size() == 2);
  for (const char* kernels : {"fast", "reference"})
    for (const char* norm : {"batchnorm", "batchnorm_padded", "powernorm"})
      for (const char* head : {"classify", "tag"})
        for (const char* position : {"post", "pre"}) {
          nl::ExecOptions exec;
          exec.kernels = nl::parse_kernel_set(kernels);
          nl::ExecOptions exec2 = exec;
          exec2.comm = &world();
          const nl::Batch global = global_batch(head);
          const nl::Batch shard = nl::shard_batch(global, world().rank(), 2);
          nl::Encoder k2(model_cfg(norm, true, position), head, 5, 3, 11, exec2);
          double l2 = shard_step(k2, shard, global);
          world().sum(&l2, 1);
          std::vector<float> flat;
          nl::sum_gradients(k2.named_parameters(), world(), flat);
          const Grads g2 = snapshot(k2, l2);
          const double disagree = ranks_disagree(k2);
          if (world().is_root()) {
            nl::Encoder k1(model_cfg(norm, true, position), head, 5, 3, 11, exec);  // no comm: one process
            const Grads g1 = snapshot(k1, shard_step(k1, global, global));
            INFO(kernels << " " << norm << " " << head << " " << position);
            CHECK(std::fabs(g2.loss - g1.loss) <= 1e-6 * std::fabs(g1.loss));
            CHECK(max_diff(g2.grads, g1.grads) < 1e-5);
            CHECK(max_diff(g2.buffers, g1.buffers) < 1e-5);
            CHECK(disagree == 0);  // running statistics: the same on both ranks
          }
          world().barrier();
        }
}

TEST_CASE("unsynced BatchNorm on 2 shards = 2 independent per-shard normalisations, not the whole batch", "[dist]") {
  for (const char* norm : {"batchnorm", "batchnorm_padded"}) {
    const nl::Batch global = global_batch("classify");
    const nl::Batch shard = nl::shard_batch(global, world().rank(), 2);
    nl::ExecOptions exec2;
    exec2.comm = &world();
    nl::Encoder k2(model_cfg(norm, false, "post"), "classify", 5, 3, 11, exec2);
    double l2 = shard_step(k2, shard, global);
    world().sum(&l2, 1);
    std::vector<float> flat;
    nl::sum_gradients(k2.named_parameters(), world(), flat);
    const Grads g2 = snapshot(k2, l2);
    if (world().is_root()) {
      // one process, the two shards one after the other (gradients add up), each normalised alone
      nl::Encoder per_shard(model_cfg(norm, false, "post"), "classify", 5, 3, 11);
      const double l = shard_step(per_shard, nl::shard_batch(global, 0, 2), global) +
                       shard_step(per_shard, nl::shard_batch(global, 1, 2), global);
      const Grads g1 = snapshot(per_shard, l);
      nl::Encoder whole(model_cfg(norm, false, "post"), "classify", 5, 3, 11);
      const Grads gw = snapshot(whole, shard_step(whole, global, global));
      INFO(norm);
      CHECK(std::fabs(g2.loss - g1.loss) <= 1e-6 * std::fabs(g1.loss));
      CHECK(max_diff(g2.grads, g1.grads) < 1e-5);
      CHECK(std::fabs(g2.loss - gw.loss) > 1e-4 * std::fabs(gw.loss));  // not the whole batch's
      CHECK(max_diff(g2.grads, gw.grads) > 1e-2);
    }
    world().barrier();
  }
}

// ---- the trainer ----------------------------------------------------------------------------

TEST_CASE("training on 2 ranks matches 1 process: every per-token norm and synced BatchNorm, 3 heads", "[dist]") {
  const std::vector<std::pair<std::string, std::string>> tasks{
      {"majority", "classify"}, {"histogram", "tag"}, {"char_lm", "lm"}};
  const std::vector<std::pair<std::string, bool>> norms{
      {"layernorm", false}, {"layernorm_simple", false}, {"detachnorm", false}, {"rmsnorm", false},
      {"adanorm", false},   {"none", false},             {"batchnorm", true},  {"batchnorm_padded", true},
      {"powernorm", true}};
  int i = 0;
  for (const auto& [task, head] : tasks)
    for (const auto& [norm, sync] : norms) {
      nl::Config cfg = tiny(task, norm, sync, 5);
      if (++i % 2 == 0) cfg.model.norm.position = nl::NormPosition::pre;  // half of them pre-norm (final_norm too)
      const Compared c = k2_vs_k1(cfg, task + "_" + norm);
      if (world().is_root()) {
        INFO(task << " (" << head << ") " << norm << (sync ? " sync" : "") << " " << nl::name_of(cfg.model.norm.position)
                  << ": loss diff " << c.loss << ", weight diff " << c.weights << " (" << c.worst << ")");
        CHECK(c.loss < 1e-5);
        CHECK(c.weights < 1e-5);
      }
    }
}

TEST_CASE("dropout on 2 ranks draws the masks 1 process draws: 3 heads, per-token and synced norms", "[dist]") {
  const std::vector<std::pair<std::string, std::string>> tasks{
      {"majority", "classify"}, {"histogram", "tag"}, {"char_lm", "lm"}};
  int i = 0;
  for (const auto& [task, head] : tasks)
    for (const auto& [norm, sync] : std::vector<std::pair<std::string, bool>>{{"layernorm", false}, {"batchnorm", true}}) {
      nl::Config cfg = tiny(task, norm, sync, 5);
      cfg.model.dropout = 0.2f;  // embedding, attention weights, FFN hidden, both residual branches
      cfg.model.layers = 2;
      if (++i % 2 == 0) cfg.model.norm.position = nl::NormPosition::pre;
      const Compared c = k2_vs_k1(cfg, "dropout_" + task + "_" + norm);
      if (world().is_root()) {
        INFO(task << " (" << head << ") " << norm << (sync ? " sync" : "") << " " << nl::name_of(cfg.model.norm.position)
                  << " dropout 0.2: loss diff " << c.loss << ", weight diff " << c.weights << " (" << c.worst << ")");
        CHECK(c.loss < 1e-5);
        CHECK(c.weights < 1e-5);
        CHECK(c.same_rng);  // every rank consumed the whole batch's draws, as one process does
      }
    }
}

TEST_CASE("a shard's dropout masks are its block of the whole batch's masks", "[dist]") {
  // One forward in training mode with dropout and no norm statistics: the shard's logits are
  // rows of the whole batch's logits (the model is the same; only the masks could differ).
  for (const char* head : {"classify", "tag"}) {
    nl::ModelConfig m = model_cfg("layernorm", false, "post");
    m.dropout = 0.3f;
    const nl::Batch global = global_batch(head);
    const nl::Batch shard = nl::shard_batch(global, world().rank(), 2);
    nl::Encoder k2(m, head, 5, 3, 11);  // no comm needed: layernorm is per token
    k2.set_training(true);
    const std::vector<float> mine = k2.forward(shard).to_vector();
    const auto rng2 = k2.rng().state();
    std::vector<float> all(mine.size() * 2, 0.0f);  // both ranks' logits, rank order
    std::copy(mine.begin(), mine.end(), all.begin() + (size_t)world().rank() * mine.size());
    world().sum(all.data(), (int64_t)all.size());
    if (world().is_root()) {
      nl::Encoder k1(m, head, 5, 3, 11);
      k1.set_training(true);
      const std::vector<float> whole = k1.forward(global).to_vector();
      INFO(head);
      REQUIRE(whole.size() == all.size());
      double diff = 0;
      for (size_t j = 0; j < all.size(); ++j) diff = std::max(diff, (double)std::fabs(all[j] - whole[j]));
      CHECK(diff < 1e-5);
      CHECK(rng2 == k1.rng().state());
      // and the masks matter: without dropout the logits are others
      nl::Encoder k0(m, head, 5, 3, 11);
      k0.set_training(false);
      const std::vector<float> plain = k0.forward(global).to_vector();
      double moved = 0;
      for (size_t j = 0; j < all.size(); ++j) moved = std::max(moved, (double)std::fabs(plain[j] - whole[j]));
      CHECK(moved > 1e-3);
    }
    world().barrier();
  }
}

TEST_CASE("unsynced BatchNorm on 2 ranks trains differently from 1 process", "[dist]") {
  for (const char* norm : {"batchnorm", "batchnorm_padded"}) {
    const Compared c = k2_vs_k1(tiny("majority", norm, false, 5), std::string("unsynced_") + norm);
    if (world().is_root()) {
      INFO(norm << ": loss diff " << c.loss << ", weight diff " << c.weights);
      CHECK(c.loss > 1e-3);
      CHECK(c.weights > 1e-3);
    }
  }
}

TEST_CASE("a K=2 checkpoint resumes at K=1 as if never interrupted", "[dist]") {
  const nl::Config cfg = tiny("histogram", "batchnorm", true, 6);
  const std::string d = tmp_dir("resume"), ref = tmp_dir("resume_ref");
  nl::TrainOptions o;
  o.quiet = true;
  o.out_dir = d;
  o.comm = &world();
  o.stop_after = 3;
  nl::train(cfg, o);  // K=2, steps 1..3, checkpoint at 3
  if (world().is_root()) {
    o.stop_after = -1;
    o.resume = true;
    o.comm = nullptr;
    nl::train(cfg, o);  // K=1, steps 4..6
    nl::TrainOptions r;
    r.quiet = true;
    r.out_dir = ref;
    nl::train(cfg, r);  // K=1, steps 1..6
    std::string worst;
    CHECK(max_rel_diff(nl::load_safetensors(d + "/checkpoint.safetensors"),
                       nl::load_safetensors(ref + "/checkpoint.safetensors"), worst) < 1e-5);
    CHECK(losses(d).size() == 6);
    CHECK(fs::exists(d + "/result.json"));
  }
  world().barrier();
}

TEST_CASE("evaluation on 2 ranks = 1 process: split results, by_length and the BatchNorm shift", "[dist]") {
  // 24 examples per split in batches of 5: 5 batches, dealt 3 / 2 over the ranks.
  for (const std::string task : {"majority", "histogram"}) {
    for (const std::string norm : {"batchnorm", "powernorm"}) {
      INFO(task << " " << norm);
      nl::Config cfg = tiny(task, norm, false, 1);
      const nl::TaskData data = nl::make_task(cfg.task, cfg.train.seed);
      nl::Encoder model(cfg.model, data.head, data.vocab, data.n_classes, cfg.train.seed, nl::exec_options(cfg.train));
      {  // the same training forwards on every rank: non-trivial running statistics
        nl::NoGrad ng;
        for (int b = 0; b < 3; ++b) {
          std::vector<int> idx;
          for (int i = 0; i < 8; ++i) idx.push_back(b * 8 + i);
          model.forward(nl::make_batch(data.train, idx, data.head));
        }
      }
      nl::EvalOptions opt;
      opt.batch_size = 5;
      opt.prefix_tokens = nl::task_prefix_tokens(task);
      const std::vector<nl::EvalResult> k2 = nl::evaluate(model, data.evals, opt, &world());
      const std::vector<nl::EvalResult> k1 = nl::evaluate(model, data.evals, opt, nullptr);
      REQUIRE(k2.size() == k1.size());
      for (size_t s = 0; s < k1.size(); ++s) {
        CHECK(k2[s].loss == k1[s].loss);  // per batch, in batch order: exact
        CHECK(k2[s].count == k1[s].count);
        REQUIRE(k2[s].by_length.size() == k1[s].by_length.size());
        for (size_t l = 0; l < k1[s].by_length.size(); ++l) {
          CHECK(k2[s].by_length[l].length == k1[s].by_length[l].length);
          CHECK(k2[s].by_length[l].count == k1[s].by_length[l].count);
          CHECK(k2[s].by_length[l].accuracy == k1[s].by_length[l].accuracy);
          CHECK(k2[s].by_length[l].loss == Approx(k1[s].by_length[l].loss).epsilon(1e-12));
        }
        REQUIRE(k2[s].bn.size() == k1[s].bn.size());
        REQUIRE(k1[s].bn.size() == 2);
        for (size_t l = 0; l < k1[s].bn.size(); ++l) {
          CHECK(k2[s].bn[l].shift_mean == Approx(k1[s].bn[l].shift_mean).epsilon(1e-9).margin(1e-15));
          CHECK(k2[s].bn[l].shift_var == Approx(k1[s].bn[l].shift_var).epsilon(1e-9));
        }
      }
      world().barrier();
    }
  }
}

int main(int argc, char** argv) {
  nl::Comm& comm = nl::world_comm();  // MPI_Init under mpirun
  nl::set_num_threads(1);
  Catch::Session session;
  if (!comm.is_root() && !std::freopen("/dev/null", "w", stdout)) return 1;  // rank 0 reports
  int failed = session.run(argc, argv);
  double any = failed != 0 ? 1 : 0;
  comm.sum(&any, 1);  // every rank's result
  if (comm.is_root()) {
    std::error_code ec;
    fs::remove_all(fs::temp_directory_path() / ("normlab_mpi_" + std::to_string((long)getpid())), ec);
  }
  return any > 0 ? 1 : 0;
}
