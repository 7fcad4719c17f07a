// evaluator.cpp — evaluation per split: batches, norm statistics, scores (see evaluator.h).
//
// What it is: evaluate() in four steps, each a function below:
//   rounds        which examples share a batch (eval.order) and which rank runs it
//   statistics    what the norms with batch statistics normalise with (eval.bn_stats); for
//                 `split`, AdaBN's estimate over the whole split, layer by layer
//   score_batch   one forward; per row its loss, prediction and confidence, in its split
//   results       the sums over ranks, turned into means, ECE, per-length rows and shifts
// The model is in eval mode throughout and nothing in it changes (the guard puts every
// norm's evaluation settings back however evaluate() returns).
// What it is not: the training loop (trainer.cpp), nor the norms' math (nn/norms/).
#include "normlab/train/evaluator.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "normlab/core/autograd.h"
#include "normlab/kernels/softmax.h"
#include "normlab/core/rng.h"

namespace nl {

// ---- calibration -------------------------------------------------------------------------

void CalibrationSums::add(double confidence, bool correct, double nll) {
  // bin b holds b/15 < c <= (b+1)/15 (c > 0: a softmax probability)
  const int b = std::clamp((int)std::ceil(confidence * kCalibrationBins) - 1, 0, kCalibrationBins - 1);
  v_[3 * b] += 1;
  v_[3 * b + 1] += correct ? 1 : 0;
  v_[3 * b + 2] += confidence;
  v_[3 * kCalibrationBins + (correct ? 0 : 1)] += confidence;
  v_[3 * kCalibrationBins + 2] += nll;
}

Calibration CalibrationSums::result() const {
  Calibration c;
  double n = 0, correct = 0, conf = 0;
  for (int b = 0; b < kCalibrationBins; ++b) {
    ReliabilityBin bin;
    bin.lower = (double)b / kCalibrationBins;
    bin.upper = (double)(b + 1) / kCalibrationBins;
    bin.count = (long long)v_[3 * b];
    if (bin.count > 0) {
      bin.accuracy = v_[3 * b + 1] / v_[3 * b];
      bin.confidence = v_[3 * b + 2] / v_[3 * b];
    }
    n += v_[3 * b];
    correct += v_[3 * b + 1];
    conf += v_[3 * b + 2];
    c.bins.push_back(bin);
  }
  if (n <= 0) return c;
  // ECE = sum_b n_b / N * |acc_b - conf_b|
  for (const ReliabilityBin& bin : c.bins) c.ece += (double)bin.count / n * std::fabs(bin.accuracy - bin.confidence);
  c.nll = v_[3 * kCalibrationBins + 2] / n;
  c.confidence = conf / n;
  c.confidence_correct = correct > 0 ? v_[3 * kCalibrationBins] / correct : NAN;
  c.confidence_wrong = n - correct > 0 ? v_[3 * kCalibrationBins + 1] / (n - correct) : NAN;
  return c;
}

EvalOptions eval_options(const Config& cfg) {
  EvalOptions o;
  o.batch_size = cfg.eval.batch_size > 0 ? cfg.eval.batch_size : cfg.train.batch_size;
  o.order = cfg.eval.order;
  o.bn_stats = cfg.eval.bn_stats;
  o.prefix_tokens = task_prefix_tokens(cfg.task.name);
  return o;
}

namespace {

// One example of one split.
struct Ref {
  int split = 0, example = 0;
};
using BatchRefs = std::vector<Ref>;

// The batches evaluated together: one split's (split order, and always with split
// statistics, which are per split), or every split's (mixed). Batch j of a round runs on
// rank j % K.
struct Round {
  int split = -1;  // the one split of every batch; -1: mixed
  std::vector<BatchRefs> batches;
};

// A fixed seed: mixed batches are the same for every run of the same evaluation data.
constexpr uint64_t kMixedOrderSeed = 0x6d69786564;  // "mixed"

std::vector<Round> rounds(const std::vector<EvalSplit>& splits, const EvalOptions& opt) {
  const size_t B = (size_t)std::max(1, opt.batch_size);
  auto chunk = [&](const std::vector<Ref>& refs, Round& r) {
    for (size_t i = 0; i < refs.size(); i += B)
      r.batches.emplace_back(refs.begin() + i, refs.begin() + std::min(refs.size(), i + B));
  };
  std::vector<Round> out;
  if (opt.order == EvalOrder::split || opt.bn_stats == EvalBnStats::split) {
    for (int s = 0; s < (int)splits.size(); ++s) {
      std::vector<Ref> refs;
      for (int i = 0; i < (int)splits[s].data.examples.size(); ++i) refs.push_back({s, i});
      out.push_back(Round{s, {}});
      chunk(refs, out.back());
    }
    return out;
  }
  std::vector<Ref> refs;  // every split's examples, then a Fisher-Yates shuffle
  for (int s = 0; s < (int)splits.size(); ++s)
    for (int i = 0; i < (int)splits[s].data.examples.size(); ++i) refs.push_back({s, i});
  Rng rng(kMixedOrderSeed);
  for (int i = (int)refs.size() - 1; i > 0; --i) std::swap(refs[i], refs[rng.randint(0, i)]);
  out.push_back(Round{-1, {}});
  chunk(refs, out.back());
  return out;
}

Batch gather(const std::vector<EvalSplit>& splits, const BatchRefs& refs, const std::string& head) {
  Dataset d;
  std::vector<int> idx;
  for (const Ref& r : refs) {
    idx.push_back((int)d.examples.size());
    d.examples.push_back(splits[r.split].data.examples[r.example]);
  }
  return make_batch(d, idx, head);
}

// ---- the norms' statistics -----------------------------------------------------------------

using NormLayers = std::vector<std::pair<std::string, Norm*>>;

// Puts every norm's evaluation settings back (running statistics, no moments) on the way out.
struct RestoreNorms {
  NormLayers layers;
  ~RestoreNorms() {
    for (auto& [name, norm] : layers) {
      norm->set_eval_batch_stats(false);
      norm->set_eval_stats({}, {});
      norm->set_input_moments(nullptr);
    }
  }
};

// The moments of every rank, added (float64, in rank order); every rank gets the sums.
void sum_over_ranks(InputMoments& m, size_t D, Comm& ranks) {
  // {not centred (a rank that saw no batch does not know), count, sum (D), sum_sq (D)}
  std::vector<double> flat(2 + 2 * D, 0.0);
  if (m.sum.size() == D) {
    flat[0] = m.centred ? 0 : 1;
    flat[1] = m.count;
    std::copy(m.sum.begin(), m.sum.end(), flat.begin() + 2);
    std::copy(m.sum_sq.begin(), m.sum_sq.end(), flat.begin() + 2 + (long)D);
  }
  ranks.sum(flat.data(), (int64_t)flat.size());
  m.centred = flat[0] == 0;
  m.count = flat[1];
  m.sum.assign(flat.begin() + 2, flat.begin() + 2 + (long)D);
  m.sum_sq.assign(flat.begin() + 2 + (long)D, flat.end());
}

size_t width_of(const Norm& norm) {
  std::vector<float> rm, rv;
  norm.running_stats(rm, rv);
  return rm.size();
}

// eval.bn_stats = split (AdaBN, Li et al. 2016): layer by layer, in model order, one pass
// over this rank's batches of the split adds layer l's masked input moments (every earlier
// layer already normalising with its split statistics); the ranks' moments are added and
// layer l then normalises with mean = sum/count and the variance its running statistic
// would be (InputMoments::running_var). L layers: L passes, then the scoring pass.
void estimate_split_stats(Encoder& model, const std::vector<Batch>& batches, const NormLayers& layers,
                          Comm& ranks) {
  for (auto& [name, norm] : layers) {
    InputMoments m;
    norm->set_input_moments(&m);
    for (const Batch& b : batches) model.forward(b);
    norm->set_input_moments(nullptr);
    sum_over_ranks(m, width_of(*norm), ranks);
    const std::vector<double> mean = m.mean(), var = m.running_var();
    norm->set_eval_stats(std::vector<float>(mean.begin(), mean.end()), std::vector<float>(var.begin(), var.end()));
  }
}

// ---- scoring ---------------------------------------------------------------------------------

// One split's sums over this rank's batches, then over every rank: per length {counted,
// correct, loss sum} (by_length, one slot per length present), and the calibration sums.
struct SplitSums {
  std::map<int, int> slot;  // length -> index into by_length / 3
  std::vector<double> by_length;
  CalibrationSums calibration;
};

int length_of(const Example& e, int prefix_tokens) {
  return std::max(1, (int)e.tokens.size() - prefix_tokens);
}

// One batch: per counted row (an example for classify, a token for tag and lm) its loss
// (the loss's own kernel), prediction and confidence, added to its split's sums; and per
// split in the batch {loss sum, correct, counted} into group[3 * split], the loss sum being
// the float mean the loss op computes over those rows times their count (so a batch of one
// split adds exactly what model.loss() * count did).
void score_batch(const Tensor& logits, const Batch& batch, const BatchRefs& refs,
                 const std::vector<EvalSplit>& splits, bool per_token, int prefix_tokens,
                 std::vector<SplitSums>& sums, double* group) {
  const int rows = logits.dim(0), C = logits.dim(1);
  std::vector<float> row_loss(rows), row_lse(rows);
  int row_count = 0;
  kernels::cross_entropy_forward(row_loss.data(), row_lse.data(), &row_count, logits.data(),
                                 batch.targets.data(), rows, C, -1);
  std::vector<float> total(splits.size(), 0.0f);  // in row order, in float, as the loss op
  std::vector<int> counted(splits.size(), 0), correct(splits.size(), 0);
  for (int row = 0; row < rows; ++row) {
    const int target = batch.targets[row];
    if (target < 0) continue;  // a pad, or a position no loss counts
    const float* z = logits.data() + (size_t)row * C;
    const int best = kernels::argmax(z, C);
    const Ref& ref = refs[per_token ? row / batch.T : row];
    SplitSums& s = sums[ref.split];
    double* len = &s.by_length[3 * (size_t)s.slot[length_of(splits[ref.split].data.examples[ref.example], prefix_tokens)]];
    len[0] += 1;
    len[1] += best == target ? 1 : 0;
    len[2] += row_loss[row];
    // confidence: the largest softmax probability, exp(z_best - lse)
    s.calibration.add(std::exp((double)z[best] - row_lse[row]), best == target, row_loss[row]);
    total[ref.split] += row_loss[row];
    counted[ref.split] += 1;
    correct[ref.split] += best == target ? 1 : 0;
  }
  for (size_t s = 0; s < splits.size(); ++s) {
    if (counted[s] == 0) continue;
    group[3 * s] = (double)(total[s] / (float)counted[s]) * counted[s];
    group[3 * s + 1] = correct[s];
    group[3 * s + 2] = counted[s];
  }
}

// One split's per-length rows, calibration and (with_shift) shift of each norm, from its sums
// over this rank's batches: added over the ranks first (every rank calls this in split order).
EvalResult split_result(const EvalSplit& split, SplitSums& sums, std::vector<InputMoments>& moments,
                        const NormLayers& norms, bool with_shift, Comm& ranks) {
  EvalResult r;
  r.split = split.name;
  r.lengths = split.lengths;
  r.seen_in_training = split.seen_in_training;
  ranks.sum(sums.by_length.data(), (int64_t)sums.by_length.size());
  ranks.sum(sums.calibration.sums().data(), (int64_t)sums.calibration.sums().size());
  r.calibration = sums.calibration.result();
  for (auto& [len, k] : sums.slot) {
    const double* acc = &sums.by_length[3 * (size_t)k];
    if (acc[0] <= 0) continue;  // a length whose examples count no unit
    r.by_length.push_back({len, (int)acc[0], acc[2] / acc[0], acc[1] / acc[0]});
  }
  // Shift: the split's moments summed over ranks, against the running statistics (the same
  // on every rank: synced, or broadcast by the trainer). Not with mixed batches.
  for (size_t l = 0; l < norms.size() && with_shift; ++l) {
    std::vector<float> rm, rv;
    norms[l].second->running_stats(rm, rv);
    sum_over_ranks(moments[l], rm.size(), ranks);
    const StatsShift sh = stats_shift(moments[l], rm, rv);
    r.bn.push_back({norms[l].first, sh.shift_mean, sh.shift_var});
  }
  return r;
}

NormLayers batch_stat_norms(Encoder& model) {
  NormLayers out;
  for (auto& [name, norm] : model.norms())
    if (norm->batch_stats()) out.push_back({name, norm});
  return out;
}

}  // namespace

std::vector<EvalResult> evaluate(Encoder& model, const std::vector<EvalSplit>& splits, const EvalOptions& opt,
                                 Comm* comm) {
  Comm& ranks = comm ? *comm : local_comm();
  NoGrad no_grad;
  const bool was_training = model.training();
  model.set_training(false);
  const bool per_token = model.head() != "classify";  // tag, lm: one logits row per token
  RestoreNorms restore{batch_stat_norms(model)};
  const NormLayers& norms = restore.layers;
  for (auto& [name, norm] : norms) norm->set_eval_batch_stats(opt.bn_stats == EvalBnStats::batch);
  const size_t S = splits.size();

  std::vector<SplitSums> sums(S);
  for (size_t s = 0; s < S; ++s) {  // every length in the split: the same slots on every rank
    for (const Example& e : splits[s].data.examples) sums[s].slot[length_of(e, opt.prefix_tokens)] = 0;
    int k = 0;
    for (auto& [len, slot] : sums[s].slot) slot = k++;
    sums[s].by_length.assign(3 * (size_t)k, 0.0);
  }
  std::vector<double> loss_sum(S, 0.0);
  std::vector<long long> correct(S, 0), counted(S, 0);
  // moments[s][l]: the split's input moments of norm l (split order only)
  std::vector<std::vector<InputMoments>> moments(S, std::vector<InputMoments>(norms.size()));

  for (const Round& round : rounds(splits, opt)) {
    const int n_batches = (int)round.batches.size();
    std::vector<Batch> mine;  // this rank's batches j = rank, rank + K, ...
    for (int j = ranks.rank(); j < n_batches; j += ranks.size())
      mine.push_back(gather(splits, round.batches[j], model.head()));
    if (opt.bn_stats == EvalBnStats::split) estimate_split_stats(model, mine, norms, ranks);
    if (round.split >= 0)
      for (size_t l = 0; l < norms.size(); ++l) norms[l].second->set_input_moments(&moments[round.split][l]);
    // per batch j and split s: {loss sum, correct, counted}, filled by rank j % K, 0 elsewhere
    std::vector<double> group(3 * S * (size_t)n_batches, 0.0);
    for (size_t i = 0; i < mine.size(); ++i) {
      const int j = ranks.rank() + (int)i * ranks.size();
      const Tensor logits = model.forward(mine[i]);
      score_batch(logits, mine[i], round.batches[j], splits, per_token, opt.prefix_tokens, sums, &group[3 * S * j]);
    }
    for (auto& [name, norm] : norms) norm->set_input_moments(nullptr);
    ranks.sum(group.data(), (int64_t)group.size());  // one rank's value per entry: exact
    for (int j = 0; j < n_batches; ++j)  // in batch order
      for (size_t s = 0; s < S; ++s) {
        loss_sum[s] += group[3 * (S * j + s)];
        correct[s] += (long long)group[3 * (S * j + s) + 1];
        counted[s] += (long long)group[3 * (S * j + s) + 2];
      }
  }

  std::vector<EvalResult> results;
  for (size_t s = 0; s < S; ++s) {
    EvalResult r = split_result(splits[s], sums[s], moments[s], norms, opt.order == EvalOrder::split, ranks);
    r.count = (int)counted[s];
    r.loss = counted[s] ? loss_sum[s] / (double)counted[s] : 0.0;
    r.accuracy = counted[s] ? (double)correct[s] / (double)counted[s] : 0.0;
    results.push_back(r);
  }
  model.set_training(was_training);
  return results;
}

std::vector<EvalResult> evaluate(Encoder& model, const std::vector<EvalSplit>& splits, int batch_size,
                                 Comm* comm) {
  EvalOptions opt;
  opt.batch_size = batch_size;
  return evaluate(model, splits, opt, comm);
}

// ---- JSON ------------------------------------------------------------------------------------

namespace {

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json reliability_json(const Calibration& c) {
  nlohmann::json bins = nlohmann::json::array();
  for (const ReliabilityBin& b : c.bins)
    bins.push_back({{"lower", b.lower}, {"upper", b.upper}, {"count", b.count},
                    {"accuracy", b.count ? nlohmann::json(b.accuracy) : nlohmann::json(nullptr)},
                    {"confidence", b.count ? nlohmann::json(b.confidence) : nlohmann::json(nullptr)}});
  return bins;
}

}  // namespace

nlohmann::json eval_to_json(const std::vector<EvalResult>& evals) {
  nlohmann::json a = nlohmann::json::array();
  for (const EvalResult& e : evals) {
    const Calibration& c = e.calibration;
    nlohmann::json j{{"split", e.split}, {"min_len", e.lengths.min}, {"max_len", e.lengths.max},
                     {"seen_in_training", e.seen_in_training}, {"loss", e.loss},
                     {"accuracy", e.accuracy}, {"count", e.count},
                     {"ece", c.ece}, {"nll", c.nll}, {"confidence", c.confidence},
                     {"confidence_correct", number_or_null(c.confidence_correct)},
                     {"confidence_wrong", number_or_null(c.confidence_wrong)},
                     {"reliability", reliability_json(c)}};
    nlohmann::json by_length = nlohmann::json::array();
    for (const LengthResult& l : e.by_length)
      by_length.push_back({{"length", l.length}, {"count", l.count}, {"loss", l.loss}, {"accuracy", l.accuracy}});
    j["by_length"] = by_length;
    if (!e.bn.empty()) {
      nlohmann::json bn = nlohmann::json::object();
      for (const NormShift& n : e.bn) bn[n.layer] = {{"shift_mean", n.shift_mean}, {"shift_var", n.shift_var}};
      j["bn"] = bn;
    }
    a.push_back(j);
  }
  return a;
}

}  // namespace nl
