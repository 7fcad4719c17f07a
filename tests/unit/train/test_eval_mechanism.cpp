// test_eval_mechanism.cpp — evaluation per length, the shift of BatchNorm's split statistics
// from its running ones, evaluation with batch statistics (eval.bn_stats), and the jitter of
// the batch statistics over training (result.json's bn_jitter).
//
// What it checks: by_length adds up to the split (counts, loss, accuracy) for classify and
// tag heads and a <bos> task; the shift equals a direct float64 computation of the masked
// mean / variance (PowerNorm: quadratic mean) of a norm's input over a whole split of
// several batches; eval.bn_stats = batch gives a training-mode forward's loss and leaves
// the running buffers alone; jitter is exactly 0 when every training batch is the same
// (and the weights cannot move) and > 0 when batches differ; the command line (`normlab
// eval --set eval.bn_stats=batch --json`, `--resume` with another eval.bn_stats).
// What it does not check: data parallel (tests/mpi), resume identity of bn_jitter
// (test_train.cpp, "resume is bit-identical").
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>

#include "normlab/core/autograd.h"
#include "normlab/config/config.h"
#include "normlab/data/task.h"
#include "normlab/nn/encoder.h"
#include "normlab/train/trainer.h"
#include "testutil/process.h"

namespace fs = std::filesystem;
using nlohmann::json;
using testutil::TempDir;

namespace {

const std::string kSrc = NORMLAB_SOURCE_DIR;
const std::string kTiny = kSrc + "/configs/tiny.json";

nl::Config tiny(const std::string& task, const std::string& norm, const std::string& position = "post") {
  nl::Config c = nl::load_config(kTiny);
  c.task.name = task;
  c.task.train_size = 64;
  c.task.eval_size = 50;  // with batch 16: four batches, the last one short
  c.task.eval_lengths = {{3, 9}, {10, 20}};
  c.task.train_lengths = {3, 9};
  c.model.norm.type = norm;
  nl::from_name(position, c.model.norm.position);
  c.train.threads = 1;
  c.train.batch_size = 16;
  return c;
}

struct Setup {
  nl::TaskData task;
  std::unique_ptr<nl::Encoder> model;
};

Setup build(const nl::Config& c) {
  Setup s;
  s.task = nl::make_task(c.task, c.train.seed);
  s.model = std::make_unique<nl::Encoder>(c.model, s.task.head, s.task.vocab, s.task.n_classes, c.train.seed,
                                          nl::exec_options(c.train));
  return s;
}

// A few training forwards (no optimizer step) so the running statistics are not the init.
void move_running_stats(nl::Encoder& model, const nl::TaskData& task, int batches) {
  model.set_training(true);
  nl::NoGrad ng;
  for (int b = 0; b < batches; ++b) {
    std::vector<int> idx;
    for (int i = 0; i < 8; ++i) idx.push_back((b * 8 + i) % (int)task.train.examples.size());
    model.forward(nl::make_batch(task.train, idx, model.head()));
  }
  model.set_training(false);
}

std::vector<float> buffer(const nl::Encoder& model, const std::string& name) {
  for (const nl::NamedTensor& b : model.named_buffers())
    if (b.name == name) return b.tensor.to_vector();
  FAIL("no buffer " << name);
  return {};
}

std::vector<std::vector<float>> all_buffers(const nl::Encoder& model) {
  std::vector<std::vector<float>> v;
  for (const nl::NamedTensor& b : model.named_buffers()) v.push_back(b.tensor.to_vector());
  return v;
}

void check_by_length_adds_up(const std::vector<nl::EvalResult>& evals, int prefix) {
  REQUIRE_FALSE(evals.empty());
  for (const nl::EvalResult& e : evals) {
    INFO(e.split);
    REQUIRE_FALSE(e.by_length.empty());
    long long count = 0;
    double loss = 0, acc = 0;
    int last = 0;
    for (const nl::LengthResult& l : e.by_length) {
      CHECK(l.length > last);  // ascending, one entry per length
      last = l.length;
      CHECK(l.length >= e.lengths.min);  // the split's own units (a <bos> is not counted)
      CHECK(l.length <= e.lengths.max);
      CHECK(l.count > 0);
      count += l.count;
      loss += l.count * l.loss;
      acc += l.count * l.accuracy;
    }
    CHECK(count == e.count);
    CHECK(loss / count == Approx(e.loss).epsilon(1e-6));
    CHECK(acc / count == Approx(e.accuracy).epsilon(1e-12));
    // every length of the split's range shows up with 50 examples drawn from 3..9 / 10..20
    if (e.lengths.max - e.lengths.min < 8) CHECK((int)e.by_length.size() == e.lengths.max - e.lengths.min + 1);
  }
  (void)prefix;
}

}  // namespace

TEST_CASE("by_length: counts add up to the split, count-weighted means are the split's loss and accuracy", "[eval]") {
  for (const std::string task : {"majority", "sort", "histogram"}) {  // classify, tag, tag with <bos>
    INFO(task);
    nl::Config c = tiny(task, "batchnorm");
    Setup s = build(c);
    move_running_stats(*s.model, s.task, 3);
    nl::EvalOptions opt;
    opt.batch_size = c.train.batch_size;
    opt.prefix_tokens = nl::task_prefix_tokens(task);
    check_by_length_adds_up(nl::evaluate(*s.model, s.task.evals, opt), opt.prefix_tokens);
    // The JSON form carries the same entries.
    json j = nl::eval_to_json(nl::evaluate(*s.model, s.task.evals, opt));
    REQUIRE(j[0]["by_length"].is_array());
    CHECK(j[0]["by_length"][0].contains("length"));
    CHECK(j[0]["by_length"][0].contains("count"));
    CHECK(j[0]["by_length"][0].contains("loss"));
    CHECK(j[0]["by_length"][0].contains("accuracy"));
  }
}

TEST_CASE("shift: the split's masked moments of a norm's input against its running statistics, computed by hand", "[eval]") {
  // Pre-norm: layers.0.norm1's input is the token embedding itself (positions: none,
  // dropout 0), so the split's statistics can be computed here from the embedding table.
  for (const std::string norm : {"batchnorm", "batchnorm_padded", "powernorm"}) {
    INFO(norm);
    nl::Config c = tiny("majority", norm, "pre");
    c.train.pack = false;  // the padded grid: pads reach the norm, and must not count
    Setup s = build(c);
    move_running_stats(*s.model, s.task, 4);
    nl::EvalOptions opt;
    opt.batch_size = c.train.batch_size;
    const std::vector<nl::EvalResult> evals = nl::evaluate(*s.model, s.task.evals, opt);

    const int D = c.model.d_model;
    std::vector<float> E;
    for (const nl::NamedTensor& p : s.model->named_parameters())
      if (p.name == "embed.tokens.weight") E = p.tensor.to_vector();
    REQUIRE(E.size() > 0);
    std::vector<float> rm, rv;
    if (norm == "powernorm") {
      rm.assign(D, 0.0f);
      rv = buffer(*s.model, "layers.0.norm1.running_phi");
    } else {
      rm = buffer(*s.model, "layers.0.norm1.running_mean");
      rv = buffer(*s.model, "layers.0.norm1.running_var");
    }
    for (size_t si = 0; si < s.task.evals.size(); ++si) {
      INFO(s.task.evals[si].name);
      // every real token of the split: its embedding row (PowerNorm: divided by its RMS, the
      // group scaling with one group, eps 1e-5)
      std::vector<double> sum(D, 0.0), sum_sq(D, 0.0);
      double n = 0;
      for (const nl::Example& ex : s.task.evals[si].data.examples)
        for (int tok : ex.tokens) {
          std::vector<double> row(E.begin() + (long)tok * D, E.begin() + (long)(tok + 1) * D);
          if (norm == "powernorm") {
            double ms = 0;
            for (double v : row) ms += v * v;
            const float rstd = (float)(1.0 / std::sqrt(ms / D + 1e-5));
            for (double& v : row) v = (float)((float)v * rstd);
          }
          for (int d = 0; d < D; ++d) {
            sum[d] += row[d];
            sum_sq[d] += row[d] * row[d];
          }
          n += 1;
        }
      double sq_m = 0, sq_v = 0;
      for (int d = 0; d < D; ++d) {
        const double mean = norm == "powernorm" ? 0.0 : sum[d] / n;
        const double var = sum_sq[d] / n - mean * mean;  // biased; PowerNorm: quadratic mean
        sq_m += (mean - rm[d]) * (mean - rm[d]);
        sq_v += (var - rv[d]) * (var - rv[d]);
      }
      const nl::EvalResult& e = evals[si];
      REQUIRE(e.bn.size() == 3);  // norm1, norm2, final_norm: all have batch statistics
      CHECK(e.bn[0].layer == "layers.0.norm1");
      CHECK(e.bn[0].shift_mean == Approx(std::sqrt(sq_m) / D).epsilon(1e-5).margin(1e-12));
      CHECK(e.bn[0].shift_var == Approx(std::sqrt(sq_v) / D).epsilon(1e-5));
      CHECK(e.bn[0].shift_var > 0);
      if (norm == "powernorm") CHECK(e.bn[0].shift_mean == 0.0);  // it does not centre
      else CHECK(e.bn[0].shift_mean > 0);
    }
    // The unseen lengths' statistics are another split's: the shifts differ.
    CHECK(evals[0].bn[0].shift_var != evals[1].bn[0].shift_var);
  }
  // A norm without batch statistics has no entry.
  nl::Config c = tiny("majority", "layernorm");
  Setup s = build(c);
  for (const nl::EvalResult& e : nl::evaluate(*s.model, s.task.evals, 16)) CHECK(e.bn.empty());
  CHECK_FALSE(nl::eval_to_json(nl::evaluate(*s.model, s.task.evals, 16))[0].contains("bn"));
}

TEST_CASE("eval.bn_stats = batch: a training-mode forward's loss on that batch, running buffers untouched", "[eval]") {
  for (const std::string norm : {"batchnorm", "batchnorm_padded"}) {
    INFO(norm);
    nl::Config c = tiny("majority", norm);
    c.task.eval_size = 24;
    Setup s = build(c);
    move_running_stats(*s.model, s.task, 3);
    nl::EvalSplit one = s.task.evals[1];  // unseen lengths: far from the running statistics
    nl::EvalOptions opt;
    opt.batch_size = 64;  // the whole split is one batch
    const auto before = all_buffers(*s.model);
    opt.bn_stats = nl::EvalBnStats::running;
    const double running = nl::evaluate(*s.model, {one}, opt)[0].loss;
    opt.bn_stats = nl::EvalBnStats::batch;
    const nl::EvalResult batch = nl::evaluate(*s.model, {one}, opt)[0];
    CHECK(all_buffers(*s.model) == before);  // no running update, no iteration count
    CHECK_FALSE(s.model->training());
    for (const auto& [name, n] : s.model->norms()) CHECK_FALSE(n->eval_batch_stats());  // put back
    CHECK(batch.loss != running);

    // The same batch through a training-mode forward (no dropout): the same loss, exactly.
    std::vector<int> idx(one.data.examples.size());
    std::iota(idx.begin(), idx.end(), 0);
    nl::NoGrad ng;
    s.model->set_training(true);
    const nl::Batch b = nl::make_batch(one.data, idx, s.model->head());
    const double train_loss = s.model->loss(s.model->forward(b), b).item();
    CHECK(batch.loss == train_loss);
    CHECK(all_buffers(*s.model) != before);  // the training forward did update them
  }
  // PowerNorm: the batch's quadratic mean, buffers (phi, ema_gz, iters) untouched.
  nl::Config c = tiny("majority", "powernorm");
  Setup s = build(c);
  move_running_stats(*s.model, s.task, 3);
  const auto before = all_buffers(*s.model);
  nl::EvalOptions opt;
  opt.batch_size = 16;
  const double running = nl::evaluate(*s.model, s.task.evals, opt)[1].loss;
  opt.bn_stats = nl::EvalBnStats::batch;
  CHECK(nl::evaluate(*s.model, s.task.evals, opt)[1].loss != running);
  CHECK(all_buffers(*s.model) == before);
}

namespace {

json train_result(nl::Config c, const fs::path& dir) {
  nl::TrainOptions opt;
  opt.out_dir = dir.string();
  opt.quiet = true;
  nl::train(c, opt);
  return json::parse(testutil::slurp(dir / "result.json"));
}

}  // namespace

TEST_CASE("bn_jitter: exactly 0 when every training batch and the weights are the same, > 0 when batches differ", "[eval][train]") {
  TempDir t("jitter");
  nl::Config c = tiny("majority", "batchnorm");
  c.train.steps = 30;
  c.train.log_every = 5;
  c.train.eval_every = 0;
  c.optim.warmup_steps = 0;
  c.optim.weight_decay = 0;
  c.optim.lr = 1e-30f;  // updates far below a float's resolution of the weights: they stay put
  c.model.dropout = 0;
  // one training example, batches of one: every step's batch is the same
  c.task.train_size = 1;
  c.task.train_lengths = {12, 12};
  c.train.batch_size = 1;
  json same = train_result(c, t / "same");
  REQUIRE(same["bn_jitter"].is_object());
  REQUIRE(same["bn_jitter"].size() == 2);  // post-norm, one layer: norm1, norm2
  for (auto& [layer, j] : same["bn_jitter"].items()) {
    INFO(layer);
    CHECK(j["steps"] == 6);  // logged steps 5, 10, ..., 30
    CHECK(j["mean_std"].get<double>() == 0.0);
    CHECK(j["var_std"].get<double>() == 0.0);
  }
  // The same frozen weights, but batches drawn from 64 examples: the statistics jitter.
  c.task.train_size = 64;
  c.task.train_lengths = {3, 12};
  c.train.batch_size = 4;
  json differ = train_result(c, t / "differ");
  for (auto& [layer, j] : differ["bn_jitter"].items()) {
    INFO(layer);
    CHECK(j["mean_std"].get<double>() > 0.0);
    CHECK(j["var_std"].get<double>() > 0.0);
  }
  // No batch-statistics norm: an empty object.
  c.model.norm.type = "layernorm";
  CHECK(train_result(c, t / "ln")["bn_jitter"] == json::object());
}

TEST_CASE("normlab eval --set eval.bn_stats=batch --json; --resume may change eval.bn_stats", "[eval][cli]") {
  TempDir t("eval_bn_stats");
  const fs::path run = t / "run";
  const std::string sets = " --quiet --set model.norm.type=batchnorm --set train.steps=20 --set optim.warmup_steps=0"
                           " --set train.log_every=5 --set train.eval_every=0";
  REQUIRE(testutil::normlab("train " + kTiny + " --out " + run.string() + sets + " --stop-after 10").code == 0);
  // An evaluation setting: the resumed run may evaluate otherwise.
  testutil::Run r = testutil::normlab("train " + kTiny + " --out " + run.string() + sets +
                                      " --set eval.bn_stats=batch --resume");
  INFO(r.err);
  REQUIRE(r.code == 0);
  const json result = json::parse(testutil::slurp(run / "result.json"));
  REQUIRE(result["eval"][0]["bn"].contains("layers.0.norm1"));
  CHECK(result["bn_jitter"].contains("layers.0.norm2"));

  const std::string ckpt = (run / "checkpoint.safetensors").string();
  // The checkpoint stores the resumed run's config (batch): running asked for explicitly.
  testutil::Run running = testutil::normlab("eval --checkpoint " + ckpt + " --set eval.bn_stats=running --json -");
  testutil::Run batch = testutil::normlab("eval --checkpoint " + ckpt + " --set eval.bn_stats=batch --json -");
  INFO(running.err << batch.err);
  REQUIRE(running.code == 0);
  REQUIRE(batch.code == 0);
  const json a = json::parse(running.out), b = json::parse(batch.out);
  CHECK(a[1]["loss"] != b[1]["loss"]);
  CHECK(b[1]["loss"] == result["eval"][1]["loss"]);  // the run evaluated with batch statistics too
  // The shift is against the running statistics either way: the first norm's input does not
  // depend on how the norms normalise, so its shift is the same (later norms' inputs differ).
  CHECK(a[1]["bn"]["layers.0.norm1"] == b[1]["bn"]["layers.0.norm1"]);
  CHECK(a[1]["bn"]["layers.0.norm2"] != b[1]["bn"]["layers.0.norm2"]);
  CHECK(a[0]["by_length"].size() > 1);
  testutil::Run bad = testutil::normlab("eval --checkpoint " + ckpt + " --set eval.bn_stats=batches");
  CHECK(bad.code == 2);
  CHECK(bad.err.find("eval.bn_stats") != std::string::npos);
}
