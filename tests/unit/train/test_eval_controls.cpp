// test_eval_controls.cpp — the evaluation-batch controls: eval.batch_size, eval.order and
// eval.bn_stats = split (AdaBN).
//
// What it checks: split statistics are those of each norm's input over the whole split,
// layer by layer, with the unbiased variance (a hand-made estimate over one batch of the
// whole split gives the same loss), and do not depend on the evaluation batch size;
// evaluation changes no weight, buffer or norm setting in any mode; eval.batch_size changes
// what batch statistics give and not what running statistics give; LayerNorm's results do
// not depend on batch size or order; mixed batches score each example in its own split and
// are the same on every call; the config keys, their defaults and that --resume may change them.
// What it does not check: data parallel (tests/mpi), calibration (test_calibration.cpp).
#include <catch2/catch.hpp>

#include <cmath>
#include <numeric>

#include "normlab/core/autograd.h"
#include "normlab/config/config.h"
#include "normlab/data/task.h"
#include "normlab/core/error.h"
#include "normlab/nn/encoder.h"
#include "normlab/train/evaluator.h"
#include "normlab/train/resume.h"

namespace {

const std::string kTiny = std::string(NORMLAB_SOURCE_DIR) + "/configs/tiny.json";

nl::Config tiny(const std::string& norm, const std::string& task = "majority") {
  nl::Config c = nl::load_config(kTiny);
  c.task.name = task;
  c.task.train_size = 64;
  c.task.eval_size = 40;
  c.task.eval_lengths = {{3, 9}, {10, 20}};
  c.task.train_lengths = {3, 9};
  c.model.norm.type = norm;
  c.model.layers = 2;  // four norms: later ones see the earlier ones' choice of statistics
  c.train.threads = 1;
  c.train.batch_size = 16;
  return c;
}

struct Setup {
  nl::TaskData task;
  std::unique_ptr<nl::Encoder> model;
};

// A model whose running statistics are a few training forwards old (not the init).
Setup build(const nl::Config& c) {
  Setup s;
  s.task = nl::make_task(c.task, c.train.seed);
  s.model = std::make_unique<nl::Encoder>(c.model, s.task.head, s.task.vocab, s.task.n_classes, c.train.seed,
                                          nl::exec_options(c.train));
  nl::NoGrad ng;
  s.model->set_training(true);
  for (int b = 0; b < 3; ++b) {
    std::vector<int> idx;
    for (int i = 0; i < 8; ++i) idx.push_back(b * 8 + i);
    s.model->forward(nl::make_batch(s.task.train, idx, s.model->head()));
  }
  s.model->set_training(false);
  return s;
}

nl::EvalOptions options(int batch_size, nl::EvalBnStats stats, nl::EvalOrder order = nl::EvalOrder::split) {
  nl::EvalOptions o;
  o.batch_size = batch_size;
  o.bn_stats = stats;
  o.order = order;
  return o;
}

std::vector<std::vector<float>> state(const nl::Encoder& m) {
  std::vector<std::vector<float>> v;
  for (const nl::NamedTensor& t : m.named_parameters()) v.push_back(t.tensor.to_vector());
  for (const nl::NamedTensor& t : m.named_buffers()) v.push_back(t.tensor.to_vector());
  return v;
}

// The loss of the whole split as one batch, each norm normalised with statistics estimated
// here by hand: layer by layer, the masked moments of its input over that one batch (earlier
// layers already set), mean and unbiased variance (PowerNorm: the quadratic mean).
double split_stats_by_hand(nl::Encoder& model, const nl::EvalSplit& split) {
  nl::NoGrad ng;
  std::vector<int> idx(split.data.examples.size());
  std::iota(idx.begin(), idx.end(), 0);
  const nl::Batch all = nl::make_batch(split.data, idx, model.head());
  for (auto& [name, norm] : model.norms()) {
    if (!norm->batch_stats()) continue;
    nl::InputMoments m;
    norm->set_input_moments(&m);
    model.forward(all);
    norm->set_input_moments(nullptr);
    std::vector<float> mean(m.sum.size()), var(m.sum.size());
    for (size_t d = 0; d < m.sum.size(); ++d) {
      const double mu = m.centred ? m.sum[d] / m.count : 0.0;
      const double v = m.sum_sq[d] / m.count - mu * mu;                // biased (PowerNorm: quadratic mean)
      mean[d] = (float)mu;
      var[d] = (float)(m.centred ? v * m.count / (m.count - 1) : v);  // as the running_var is kept
    }
    norm->set_eval_stats(mean, var);
  }
  const double loss = model.loss(model.forward(all), all).item();
  for (auto& [name, norm] : model.norms()) norm->set_eval_stats({}, {});
  return loss;
}

}  // namespace

TEST_CASE("eval.bn_stats = split: each norm normalises with its input's statistics over the whole split, layer by layer", "[eval]") {
  for (const std::string norm : {"batchnorm", "batchnorm_padded", "powernorm"}) {
    for (const bool pack : {true, false}) {
      INFO(norm << " pack " << pack);
      nl::Config c = tiny(norm);
      c.train.pack = pack;  // false: pads reach the norms, and must not count
      Setup s = build(c);
      const std::vector<nl::EvalResult> split = nl::evaluate(*s.model, s.task.evals, options(16, nl::EvalBnStats::split));
      const std::vector<nl::EvalResult> running = nl::evaluate(*s.model, s.task.evals, options(16, nl::EvalBnStats::running));
      for (size_t i = 0; i < s.task.evals.size(); ++i) {
        INFO(s.task.evals[i].name);
        CHECK(split[i].loss == Approx(split_stats_by_hand(*s.model, s.task.evals[i])).epsilon(1e-5));
        CHECK(split[i].loss != running[i].loss);
        // Batch-size free: one example per batch gives the same statistics.
        CHECK(nl::evaluate(*s.model, {s.task.evals[i]}, options(1, nl::EvalBnStats::split))[0].loss ==
              Approx(split[i].loss).epsilon(1e-5));
      }
    }
  }
}

TEST_CASE("evaluation changes no weight, buffer or norm setting, in any mode and order", "[eval]") {
  for (const std::string norm : {"batchnorm", "powernorm", "layernorm"}) {
    INFO(norm);
    Setup s = build(tiny(norm));
    const auto before = state(*s.model);
    s.model->set_training(true);  // evaluate() goes to eval mode and back
    for (nl::EvalBnStats st : {nl::EvalBnStats::running, nl::EvalBnStats::batch, nl::EvalBnStats::split})
      for (nl::EvalOrder order : {nl::EvalOrder::split, nl::EvalOrder::mixed}) {
        INFO(nl::name_of(st) << " " << nl::name_of(order));
        nl::evaluate(*s.model, s.task.evals, options(7, st, order));
        CHECK(state(*s.model) == before);
        CHECK(s.model->training());
        for (const auto& [name, n] : s.model->norms()) {
          CHECK_FALSE(n->eval_batch_stats());
          CHECK_FALSE(n->has_eval_stats());
        }
      }
  }
}

TEST_CASE("eval.batch_size changes batch-statistics results, not running-statistics results", "[eval]") {
  Setup s = build(tiny("batchnorm"));
  for (size_t i = 0; i < s.task.evals.size(); ++i) {
    INFO(s.task.evals[i].name);
    auto loss = [&](int b, nl::EvalBnStats st, nl::EvalOrder o = nl::EvalOrder::split) {
      return nl::evaluate(*s.model, s.task.evals, options(b, st, o))[i].loss;
    };
    const double run16 = loss(16, nl::EvalBnStats::running);
    CHECK(loss(3, nl::EvalBnStats::running) == Approx(run16).epsilon(1e-5));
    CHECK(loss(64, nl::EvalBnStats::running) == Approx(run16).epsilon(1e-5));
    CHECK(loss(16, nl::EvalBnStats::running, nl::EvalOrder::mixed) == Approx(run16).epsilon(1e-5));
    CHECK(std::fabs(loss(2, nl::EvalBnStats::batch) - loss(64, nl::EvalBnStats::batch)) > 1e-4);
    CHECK(std::fabs(loss(16, nl::EvalBnStats::batch) - loss(16, nl::EvalBnStats::batch, nl::EvalOrder::mixed)) > 1e-4);
  }
}

TEST_CASE("LayerNorm: the same results for any evaluation batch size and order", "[eval]") {
  for (const std::string task : {"majority", "sort"}) {  // classify, tag
    INFO(task);
    Setup s = build(tiny("layernorm", task));
    const std::vector<nl::EvalResult> ref = nl::evaluate(*s.model, s.task.evals, options(16, nl::EvalBnStats::running));
    for (int b : {1, 5, 100})
      for (nl::EvalOrder order : {nl::EvalOrder::split, nl::EvalOrder::mixed}) {
        INFO("batch " << b << " " << nl::name_of(order));
        const std::vector<nl::EvalResult> e = nl::evaluate(*s.model, s.task.evals, options(b, nl::EvalBnStats::batch, order));
        REQUIRE(e.size() == ref.size());
        for (size_t i = 0; i < e.size(); ++i) {
          CHECK(e[i].count == ref[i].count);
          CHECK(e[i].loss == Approx(ref[i].loss).epsilon(1e-5));
          CHECK(std::fabs(e[i].accuracy - ref[i].accuracy) <= 1.0 / ref[i].count);  // a near-tie may flip
          CHECK(e[i].calibration.ece == Approx(ref[i].calibration.ece).margin(1e-4));
        }
      }
  }
}

TEST_CASE("eval.order = mixed: batches across the splits, each example scored in its own split, the same every time", "[eval]") {
  Setup s = build(tiny("batchnorm", "sort"));
  const auto split = nl::evaluate(*s.model, s.task.evals, options(16, nl::EvalBnStats::batch));
  const auto mixed = nl::evaluate(*s.model, s.task.evals, options(16, nl::EvalBnStats::batch, nl::EvalOrder::mixed));
  const auto again = nl::evaluate(*s.model, s.task.evals, options(16, nl::EvalBnStats::batch, nl::EvalOrder::mixed));
  REQUIRE(mixed.size() == split.size());
  for (size_t i = 0; i < mixed.size(); ++i) {
    INFO(split[i].split);
    CHECK(mixed[i].split == split[i].split);
    CHECK(mixed[i].count == split[i].count);  // every token of the split, no other split's
    REQUIRE(mixed[i].by_length.size() == split[i].by_length.size());
    for (size_t l = 0; l < split[i].by_length.size(); ++l) {
      CHECK(mixed[i].by_length[l].length == split[i].by_length[l].length);  // the split's lengths only
      CHECK(mixed[i].by_length[l].count == split[i].by_length[l].count);
    }
    CHECK(mixed[i].loss == again[i].loss);  // a fixed shuffle
    CHECK(mixed[i].bn.empty());             // no per-split moments from shared forwards
    CHECK_FALSE(split[i].bn.empty());
  }
  // The two splits' batches now hold both lengths: the short split's statistics move.
  CHECK(mixed[0].loss != split[0].loss);
}

TEST_CASE("eval keys: batch_size 0 is train.batch_size, order and bn_stats by name; --resume may change them", "[eval][config]") {
  nl::Config c = tiny("batchnorm");
  CHECK(c.eval.batch_size == 0);
  CHECK(nl::eval_options(c).batch_size == 16);
  CHECK(nl::eval_options(c).order == nl::EvalOrder::split);
  nlohmann::json j = nl::config_to_json(c);
  j["eval"] = {{"batch_size", 5}, {"order", "mixed"}, {"bn_stats", "split"}};
  const nl::Config d = nl::config_from_json(j);
  CHECK(nl::eval_options(d).batch_size == 5);
  CHECK(d.eval.order == nl::EvalOrder::mixed);
  CHECK(d.eval.bn_stats == nl::EvalBnStats::split);
  std::string was, now;
  CHECK(nl::first_config_difference(nl::config_to_json(c), j, &was, &now).empty());
  j["eval"]["order"] = "shuffled";
  CHECK_THROWS_WITH(nl::config_from_json(j), Catch::Contains("eval.order"));
  j["eval"]["order"] = "split";
  j["eval"]["batch_size"] = -1;
  CHECK_THROWS_WITH(nl::config_from_json(j), Catch::Contains("eval.batch_size"));
}
