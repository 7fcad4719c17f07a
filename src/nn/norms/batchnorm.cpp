// nn/norms/batchnorm.cpp — BatchNorm (Ioffe & Szegedy 2015, https://arxiv.org/abs/1502.03167)
// over the real tokens of a padded batch.
//
// What it is: per feature d, over the N real tokens of the batch (keep != 0):
//   training: mu_d = mean x, var_d = mean (x - mu_d)^2 (biased),
//             y = g * (x - mu) / sqrt(var + eps) + b,
//             rm = (1-m) rm + m mu,   rv = (1-m) rv + m var N/(N-1)      (PyTorch convention)
//   eval:     y = g * (x - rm) / sqrt(rv + eps) + b
//   eval with eval_batch_stats (eval.bn_stats = batch): the training formula with this batch's
//             mu and var, and no update of rm, rv
//   eval with eval_stats (eval.bn_stats = split): the eval formula with the given mean and
//             variance (the split's, AdaBN) in place of rm, rv; no update
// Pad positions output 0 and get no gradient; they count for nothing.
// What it is not: the math, which is kernels::batchnorm_* (src/kernels/norm_batch.cpp).
//
// For Transformers: Shen et al. 2020, "PowerNorm: Rethinking Batch Normalization in
// Transformers", https://arxiv.org/abs/2003.07845, measure how far BatchNorm's batch
// statistics stray from the running ones on NLP batches (the drift diagnostics below,
// Sec. 3). The authors' code (https://github.com/sIncerass/powernorm) has a masked
// BatchNorm, MaskBatchNorm, whose statistics skip the pad tokens as these do.
// batchnorm_padded (batchnorm_padded.cpp) is this layer with count_pads = true: statistics
// over all B*T positions, pads included, which is what nn.BatchNorm1d does to a padded batch.
// Running statistics are buffers (running_mean, running_var), so checkpoints save them.
//
// Across K data-parallel ranks (model.norm.sync; the ranks come in as a Comm at
// construction, nullptr = this process alone), each rank holds a shard of the global batch:
//   sync = false: every rank normalises with its own shard's statistics (PyTorch DDP's
//                 default); the trainer copies rank 0's running statistics to the others.
//   sync = true:  masked SyncBatchNorm: the statistics of the real tokens of ALL ranks.
//     forward:  each rank sums (n_r, S1_r = sum x, S2_r = sum x^2) per feature over its
//               real tokens; one all-reduce gives n = sum n_r, S1, S2; then
//               mu = S1 / n,  var = S2 / n - mu^2  (double),  y = g * (x - mu) * rstd + b,
//               running statistics updated with the global mu, var and n: the same on
//               every rank.
//     backward: each rank sums over its real tokens (dxhat = dout * g)
//                 A_r = sum dout,  C_r = sum dout * xhat      (also its db and dg)
//               one all-reduce gives A, C; then at each real token
//                 dx = rstd * (dxhat - g A / n - xhat g C / n)
//               i.e. the single-process formula with the global sums. dg, db stay the
//               rank's own sums: the trainer's gradient all-reduce adds them.
// With one rank (or sync = false) nothing is exchanged and the kernels are those of a
// single batch, so a K=1 run computes exactly what it did before sync existed.
// `fused` calls the kernels; `composed`, its plain twin from ops.h, runs when make_norm was
// given the `reference` kernel set (tests/unit/nn/test_norms_twins.cpp checks they agree).
#include <algorithm>
#include <cmath>
#include <vector>

#include "common.h"
#include "normlab/core/autograd.h"
#include "normlab/parallel/comm.h"
#include "normlab/parallel/ops.h"
#include "normlab/core/error.h"
#include "normlab/kernels/norm.h"
#include "normlab/ops/ops.h"

namespace nl {

float BatchNormStats::drift_mean() const {
  if (batch_mean.empty()) return 0.0f;  // no training forward yet
  double sq = 0;
  for (size_t d = 0; d < batch_mean.size(); ++d) {
    const double diff = (double)batch_mean[d] - running_mean[d];
    sq += diff * diff;
  }
  return (float)(std::sqrt(sq) / batch_mean.size());  // ||mu_B - rm||_2 / D
}

float BatchNormStats::drift_var() const {
  if (batch_var.empty()) return 0.0f;
  double sq = 0;
  for (size_t d = 0; d < batch_var.size(); ++d) {
    const double diff = (double)batch_var[d] - running_var[d];
    sq += diff * diff;
  }
  return (float)(std::sqrt(sq) / batch_var.size());   // ||var_B - rv||_2 / D
}

void InputMoments::add(const float* x, const float* keep, int N, int D) {
  if (sum.empty()) sum.assign(D, 0.0), sum_sq.assign(D, 0.0);
  count += kernels::masked_column_sums(sum.data(), sum_sq.data(), x, keep, N, D);  // pads count for nothing
}

std::vector<double> InputMoments::mean() const {
  std::vector<double> m(sum.size(), 0.0);  // not centred: 0
  if (centred && count > 0)
    for (size_t d = 0; d < sum.size(); ++d) m[d] = sum[d] / count;
  return m;
}

std::vector<double> InputMoments::var() const {
  std::vector<double> v(sum.size(), 0.0);
  if (count <= 0) return v;
  const std::vector<double> m = mean();
  // biased: mean x^2 - mean^2 (centred), else the quadratic mean mean x^2
  for (size_t d = 0; d < sum.size(); ++d) v[d] = std::max(0.0, sum_sq[d] / count - m[d] * m[d]);
  return v;
}

std::vector<double> InputMoments::running_var() const {
  std::vector<double> v = var();
  // centred: biased -> unbiased, as the running update does (var * N / (N - 1))
  if (centred && count > 1)
    for (double& x : v) x *= count / (count - 1);
  return v;
}

void Norm::set_eval_stats(const std::vector<float>& mean, const std::vector<float>& var) {
  if (mean.empty() && var.empty()) {
    eval_mean_ = eval_var_ = Tensor();
    return;
  }
  if (mean.size() != var.size())
    throw std::invalid_argument(type() + ": set_eval_stats: mean has " + std::to_string(mean.size()) +
                                " values but var has " + std::to_string(var.size()));
  eval_mean_ = Tensor::from(mean, {(int)mean.size()});
  eval_var_ = Tensor::from(var, {(int)var.size()});
}

void Norm::check_eval_stats(int D) const {
  if (eval_mean_.defined() && eval_mean_.numel() != D)
    throw std::invalid_argument(type() + ": eval statistics of width " + std::to_string(eval_mean_.numel()) +
                                " for a layer of width " + std::to_string(D));
}

StatsShift stats_shift(const InputMoments& m, const std::vector<float>& running_mean,
                       const std::vector<float>& running_var) {
  StatsShift s;
  const size_t D = running_mean.size();
  if (m.count <= 0 || D == 0 || m.sum.size() != D || running_var.size() != D) return s;
  const std::vector<double> mu = m.mean(), var = m.var();
  double sq_mean = 0, sq_var = 0;
  for (size_t d = 0; d < D; ++d) {
    sq_mean += (mu[d] - running_mean[d]) * (mu[d] - running_mean[d]);
    sq_var += (var[d] - running_var[d]) * (var[d] - running_var[d]);
  }
  s.shift_mean = std::sqrt(sq_mean) / (double)D;   // ||mean_split - rm||_2 / D
  s.shift_var = std::sqrt(sq_var) / (double)D;     // ||var_split - rv||_2 / D
  return s;
}

namespace {

class BatchNorm final : public Norm {
 public:
  // comm: the ranks whose batch statistics are shared (SyncBatchNorm), or nullptr.
  BatchNorm(const char* type, int D, float eps, float momentum, bool count_pads, Comm* comm)
      : type_(type), D_(D), eps_(eps), momentum_(momentum), count_pads_(count_pads),
        comm_(comm && comm->size() > 1 ? comm : nullptr),
        g_(norms::make_param("weight", D, 1.0f)), b_(norms::make_param("bias", D, 0.0f)),
        running_mean_(Tensor::zeros({D})), running_var_(Tensor::full({D}, 1.0f)) {
    running_mean_.set_name("running_mean");
    running_var_.set_name("running_var");
  }

  Tensor forward(const Tensor& x, const Tensor& keep) override {
    const int N = norms::check_input(type_, x, keep, D_);
    check_eval_stats(D_);
    // The split statistics of an evaluation (the trainer's evaluate()): real tokens only,
    // also for batchnorm_padded.
    if (input_moments_) input_moments_->add(x.data(), norms::data_or_null(keep), N, D_);
    // The rows that count: keep's real tokens, or every row for batchnorm_padded.
    const Tensor rows = count_pads_ ? Tensor() : keep;
    return kernels() == KernelSet::reference ? composed(x, rows, N) : fused(x, rows, N);
  }

  std::string type() const override { return type_; }
  float eps() const override { return eps_; }
  bool reads_pad_rows() const override { return count_pads_; }  // padded: pads are in the stats
  const BatchNormStats* batch_stats() const override { return &stats_; }
  bool running_stats(std::vector<float>& mean, std::vector<float>& var) const override {
    mean = running_mean_.to_vector();
    var = running_var_.to_vector();
    return true;
  }
  void parameters(const std::string& prefix, std::vector<NamedTensor>& out) const override {
    norms::push_affine(prefix, out, g_, b_);
  }
  void buffers(const std::string& prefix, std::vector<NamedTensor>& out) const override {
    out.push_back({join_name(prefix, "running_mean"), running_mean_, false});
    out.push_back({join_name(prefix, "running_var"), running_var_, false});
  }

 private:
  Tensor fused(const Tensor& x, const Tensor& rows, int N) {
    const float* keep = norms::data_or_null(rows);
    Tensor mean = Tensor::empty({D_}), rstd = Tensor::empty({D_});
    long count = 0;  // rows in the statistics: this batch's, or every rank's when synced
    // The batch's own statistics: in training, and in eval with eval_batch_stats (then this
    // batch alone, never synced: the ranks evaluate different batches; no running update).
    const bool batch = training_ || eval_batch_stats_;
    if (batch) {
      Tensor var = Tensor::empty({D_});
      if (comm_ && training_) {
        // SyncBatchNorm: s = [n, S1 (D), S2 (D)] of this rank, then of all ranks.
        std::vector<double> s(1 + 2 * (size_t)D_);
        s[0] = kernels::masked_column_sums(&s[1], &s[1 + D_], x.data(), keep, N, D_);
        comm_->sum(s.data(), (int64_t)s.size());
        count = (long)s[0];
        kernels::batchnorm_stats_from_sums(mean.data(), var.data(), rstd.data(), &s[1], &s[1 + D_],
                                           count, D_, eps_);
      } else {
        count = kernels::batchnorm_stats(mean.data(), var.data(), rstd.data(), x.data(), keep, N,
                                         D_, eps_);
      }
      if (training_) update_running(mean.data(), var.data(), count);
    } else {
      // Eval: the running statistics (or the split's: eval_stats), copied so a later
      // training step cannot change them under this graph's backward.
      const Tensor& rm = eval_mean_.defined() ? eval_mean_ : running_mean_;
      const Tensor& rv = eval_var_.defined() ? eval_var_ : running_var_;
      mean = rm.clone();
      kernels::batchnorm_rstd(rstd.data(), rv.data(), D_, eps_);
    }
    Tensor out = Tensor::empty(x.shape());
    kernels::batchnorm_forward(out.data(), x.data(), keep, mean.data(), rstd.data(), g_.data(),
                               b_.data(), N, D_);
    const Tensor g = g_, b = b_;
    const int D = D_;
    const bool through_stats = batch;
    Comm* sync = training_ ? comm_ : nullptr;
    record(out, type_, {x, g, b}, [x, g, b, rows, mean, rstd, N, D, through_stats, sync, count](TensorImpl& o) {
      // forward: out = g * xhat + b, xhat = (x - mean) * rstd, over the counted rows; pads 0
      //   (kernels::batchnorm_forward)
      // backward, per feature d over the counted rows: dxhat = dout * g;
      //   dg += sum dout * xhat,  db += sum dout;
      //   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))  in training,
      //   dx = rstd * dxhat  in eval (running statistics are constants); pads get dx = 0
      // sums[0..D) = sum dout, sums[D..2D) = sum dout * xhat, over this rank's counted rows
      std::vector<double> sums(2 * (size_t)D);
      const float* keep = norms::data_or_null(rows);
      long n = kernels::batchnorm_backward_sums(&sums[0], &sums[D], o.grad->ptr, x.data(), keep,
                                                mean.data(), rstd.data(), N, D);
      float* dg = norms::grad_or_null(g);
      float* db = norms::grad_or_null(b);
      for (int d = 0; d < D; ++d) {
        if (dg) dg[d] += (float)sums[D + d];
        if (db) db[d] += (float)sums[d];
      }
      if (sync) {  // SyncBatchNorm: the means of dxhat are over every rank's real tokens
        sync->sum(sums.data(), (int64_t)sums.size());
        n = count;
      }
      if (float* dx = norms::grad_or_null(x))
        kernels::batchnorm_backward_dx(dx, o.grad->ptr, x.data(), keep, mean.data(), rstd.data(),
                                       g.data(), &sums[0], &sums[D], n, N, D, through_stats);
    });
    return out;
  }

  // The plain twin from ops. m [N,1] is 1 for a counted row, 0 for a pad; multiplying by it
  // removes pads from the sums and zeroes their outputs (so they get no gradient).
  Tensor composed(const Tensor& x, const Tensor& rows, int N) {
    const Tensor x2 = reshape(x, {N, D_});
    const Tensor m = rows.defined() ? reshape(rows, {N, 1}) : Tensor::full({N, 1}, 1.0f);
    Tensor y;
    if (training_ || eval_batch_stats_) {  // the batch's statistics (eval: this batch alone)
      Comm* ranks = training_ ? comm_ : nullptr;
      double count = 0;
      for (int n = 0; n < N; ++n) count += m.data()[n] != 0.0f ? 1 : 0;
      // SyncBatchNorm: every sum over rows is also a sum over ranks (sum_over_ranks, whose
      // backward sums the gradient over ranks too); two passes, as batchnorm_stats does.
      auto over_rows = [&](const Tensor& t) {
        Tensor s = sum(t, {0}, true);
        return ranks ? sum_over_ranks(s, *ranks) : s;
      };
      if (ranks) ranks->sum(&count, 1);
      const float inv_count = 1.0f / (float)std::max(count, 1.0);
      Tensor mu = over_rows(x2 * m) * inv_count;                   // mean over counted rows [1,D]
      Tensor xc = (x2 - mu) * m;                                   // pads -> 0
      Tensor var = over_rows(xc * xc) * inv_count;                 // biased variance [1,D]
      if (training_) update_running(mu.data(), var.data(), (long)count);
      y = xc / sqrt(var + eps_);
    } else {
      const Tensor& rm = eval_mean_.defined() ? eval_mean_ : running_mean_;  // eval_stats: the split's
      const Tensor& rv = eval_var_.defined() ? eval_var_ : running_var_;
      y = (x2 - rm.clone()) / sqrt(rv.clone() + eps_);
    }
    return reshape((y * g_ + b_) * m, x.shape());
  }

  // The running-statistics update of a training forward, and the diagnostics snapshot.
  void update_running(const float* mean, const float* var, long count) {
    if (count < 2)
      throw UserError(std::string(type_) + ": training needs at least 2 real tokens in the batch "
                      "(the running variance uses N/(N-1)), got " + std::to_string(count));
    kernels::batchnorm_update_running(running_mean_.data(), running_var_.data(), mean, var,
                                      (int)count, D_, momentum_);
    stats_.batch_mean.assign(mean, mean + D_);
    stats_.batch_var.assign(var, var + D_);
    stats_.running_mean = running_mean_.to_vector();
    stats_.running_var = running_var_.to_vector();
  }

  const char* type_;
  int D_;
  float eps_, momentum_;
  bool count_pads_;
  Comm* comm_;                         // SyncBatchNorm's ranks (size > 1), or nullptr
  Tensor g_, b_;
  Tensor running_mean_, running_var_;  // buffers: saved, not learned
  BatchNormStats stats_;               // empty until the first training forward
};

}  // namespace

std::unique_ptr<Norm> norms::make_batchnorm_family(const char* type, int D, float eps,
                                                   float momentum, bool count_pads, Comm* comm) {
  return std::make_unique<BatchNorm>(type, D, eps, momentum, count_pads, comm);
}

std::unique_ptr<Norm> make_batchnorm(const NormConfig& cfg, int D, Comm* comm) {
  return norms::make_batchnorm_family("batchnorm", D, norms::eps_or(cfg, 1e-5f), cfg.momentum,
                                      /*count_pads=*/false, cfg.sync ? comm : nullptr);
}

static const norms::NormGradchecks gradchecks("batchnorm", /*eval_too=*/true);

}  // namespace nl
