// nn/norms/powernorm.cpp — PowerNorm (Shen, Yao, Gholami, Mahoney & Keutzer 2020, "PowerNorm:
// Rethinking Batch Normalization in Transformers", https://arxiv.org/abs/2003.07845), masked:
// over the real tokens of a padded batch, like batchnorm.cpp.
//
// What it is: BatchNorm's answer to its own trouble in Transformers. Three changes to
// BatchNorm: no centring (divide by the quadratic mean psi^2 = mean x^2, not the variance),
// a RUNNING quadratic mean in the forward of training (not the batch's), and an approximate
// backward that, instead of differentiating through the batch statistics, subtracts a
// running estimate of their effect. It follows the authors' code (MaskPowerNorm and
// PowerFunction in https://github.com/sIncerass/powernorm, fairseq/modules/norms/
// mask_powernorm.py) step by step; where this file differs it says so ("differs:").
//
// Per token row n (real tokens only: keep != 0) and feature d, with G = cfg.powernorm_groups,
// eps = cfg.eps (1e-5), m = cfg.momentum (alpha_fwd = 1 - m = 0.9), a = cfg.powernorm_alpha_bkw
// (alpha_bkw, 0.9), W = cfg.powernorm_warmup, it = this training forward's number (1, 2, ...):
//
//   group scaling (GroupScaling1D; G = 0: off, xs = x). Each token's D features in G groups
//   of D/G; each group divided by its own root mean square (exact autograd):
//     xs[n,d] = x[n,d] / sqrt(mean_{d' in group(d)} x[n,d']^2 + eps)
//   forward, training:
//     psiB2[d] = mean_n xs[n,d]^2                               batch quadratic mean
//     s[d]     = it <= W ? 1/sqrt(psiB2[d] + eps)               warmup: the batch's
//                        : 1/sqrt(phi[d] + eps)                 then the running one (before
//                                                               this step's update)
//     z = xs * s,   y = g * z + b   (pads: y = 0)
//     if it < W:  phi = phi * (it-1)/it + psiB2/it              (cumulative mean in warmup)
//     phi = (1-m) phi + m psiB2                                  (always, after the line above)
//   backward, training (PowerFunction.backward; not the derivative of the forward):
//     gz = dy * g
//     xt = gz - (1-a) * ema_gz * z                               ema_gz before this backward
//     dxs = xt / sqrt(psiB2 + eps)        the BATCH's quadratic mean, as PowerFunction does
//                                         (also after warmup, when the forward used phi)
//     ema_gz += mean_n (xt * z)                                  per feature, real tokens
//     dg += sum_n dy * z,  db += sum_n dy
//   In the paper's terms nu = (1-a) ema_gz is the running estimate of the term that BatchNorm's
//   exact backward subtracts, mean(gz * z) * z, and the update reads
//     nu_new = nu (1 - (1-a) mean(z^2)) + (1-a) mean(gz * z).
//   eval: y = g * xs / sqrt(phi + eps) + b; the backward is exact (phi is a constant).
//   eval with eval_batch_stats (eval.bn_stats = batch): y = g * xs / sqrt(psiB2 + eps) + b
//     with this batch's psiB2 (what training does in its warmup), no buffer changes; its
//     backward treats psiB2 as a constant.
//   eval with eval_stats (eval.bn_stats = split): y = g * xs / sqrt(psi2_split + eps) + b with
//     the given quadratic mean (the var of set_eval_stats; its mean, 0, is not read) in place
//     of phi; no buffer changes.
//
// Across K data-parallel ranks (model.norm.sync), each rank holding a shard of the global batch:
//   sync = false: every rank's psiB2 and ema_gz update come from its own shard; the trainer
//                 copies rank 0's buffers (phi, ema_gz, iters) to the others after each step.
//   sync = true:  the statistics of the real tokens of ALL ranks, so K ranks compute what one
//                 process computes on the global batch (the approximate backward included):
//     forward:  each rank sums (n_r, Q_r[d] = sum_n xs[n,d]^2) over its real tokens; one
//               all-reduce gives n = sum n_r and Q = sum Q_r (double, rank order); then
//               psiB2 = Q / n, and s, z, y and the phi update as above: the same on every rank.
//     backward: each rank sums P_r[d] = sum_n xt[n,d] z[n,d] over its real tokens (xt uses
//               the old ema_gz, the same on every rank); one all-reduce gives P; then
//               ema_gz += P / n with the global n of the forward, the same on every rank.
//               dxs = xt / sqrt(psiB2 + eps) needs no exchange (psiB2 is already global);
//               dg, db stay the rank's own sums: the trainer's gradient all-reduce adds them.
//   The group scaling is per token and needs nothing. With one rank nothing is exchanged.
// Buffers (saved in checkpoints, so --resume is bit-identical): running_phi [D] (phi, init 1),
// ema_gz [D] (init 0; changed by the BACKWARD of each training step), iters [1] (it).
// batch_stats() reports the statistics the layer normalises with, in BatchNorm's terms
// x_hat = (x - mean) / sqrt(var + eps): mean = 0 (PowerNorm does not centre) and var = the
// quadratic mean (batch: psiB2, running: phi), both of xs; so drift_mean is 0 and drift_var
// is ||psiB2 - phi||_2 / D.
//
// differs from the authors' code, each because pads count for nothing here (as in batchnorm):
//  - pad rows output 0 (theirs: g * z + b) and get no gradient;
//  - the mean in the ema_gz update is over the real tokens (theirs: over every position of
//    the padded batch, pads included, where dy is 0 but z is not).
// Their Transformer layers pass group_num = attention heads and warmup = the learning-rate
// warmup (norm_select.py); the defaults here are MaskPowerNorm's own group_num = 1 and a
// warmup of 0 steps (configs/README.md).
//
// `fused` runs PowerNorm's kernels (kernels/norm_power.cpp, beside BatchNorm's); `composed`,
// the plain twin (make_norm given the `reference` kernel set), builds the exact parts (group scaling, the affine, the mask) from ops.h and does the
// approximate step as a plain loop written separately (it cannot be composed from ops: it is
// not the derivative of anything). tests/unit/nn/test_norms_twins.cpp checks they agree;
// tests/unit/nn/test_powernorm.cpp checks the formulas above.
// What it is not: the kernels (kernels/norm_power.cpp; the group scaling reuses
// kernels::rmsnorm_*, which it is without a gain, and the quadratic mean's sums are
// kernels::masked_column_sums, as every masked one-pass statistic).
#include <algorithm>
#include <cmath>
#include <vector>

#include "common.h"
#include "normlab/core/autograd.h"
#include "normlab/parallel/comm.h"
#include "normlab/core/error.h"
#include "normlab/kernels/norm.h"
#include "normlab/kernels/norm_power.h"
#include "normlab/ops/ops.h"
#include "normlab/core/parallel.h"

namespace nl {

namespace {

// ---- the layer -------------------------------------------------------------------------------

class PowerNorm final : public Norm {
 public:
  // comm: the ranks whose statistics are shared (model.norm.sync), or nullptr.
  PowerNorm(int D, float eps, float momentum, float alpha_bkw, int groups, int warmup, Comm* comm)
      : D_(D), eps_(eps), momentum_(momentum), alpha_bkw_(alpha_bkw), groups_(groups),
        warmup_(warmup), comm_(comm && comm->size() > 1 ? comm : nullptr), g_(norms::make_param("weight", D, 1.0f)),
        b_(norms::make_param("bias", D, 0.0f)), running_phi_(Tensor::full({D}, 1.0f)),
        ema_gz_(Tensor::zeros({D})), iters_(Tensor::zeros({1})) {
    if (groups < 0 || (groups > 0 && D % groups != 0))
      throw std::invalid_argument("powernorm: D = " + std::to_string(D) + " is not divisible by " +
                                  "powernorm_groups = " + std::to_string(groups));
    running_phi_.set_name("running_phi");
    ema_gz_.set_name("ema_gz");
    iters_.set_name("iters");
  }

  Tensor forward(const Tensor& x, const Tensor& keep) override {
    const int N = norms::check_input("powernorm", x, keep, D_);
    check_eval_stats(D_);
    return kernels() == KernelSet::reference ? composed(x, keep, N) : fused(x, keep, N);
  }

  std::string type() const override { return "powernorm"; }
  float eps() const override { return eps_; }
  bool reads_pad_rows() const override { return false; }  // statistics over real tokens only
  bool exact_gradient() const override { return false; }  // the approximate backward (PowerFunction)
  bool stateful_training_forward() const override { return true; }  // reads and updates running phi
  const BatchNormStats* batch_stats() const override { return &stats_; }
  bool running_stats(std::vector<float>& mean, std::vector<float>& var) const override {
    mean.assign(D_, 0.0f);              // PowerNorm does not centre
    var = running_phi_.to_vector();     // the running quadratic mean
    return true;
  }
  void parameters(const std::string& prefix, std::vector<NamedTensor>& out) const override {
    norms::push_affine(prefix, out, g_, b_);
  }
  void buffers(const std::string& prefix, std::vector<NamedTensor>& out) const override {
    out.push_back({join_name(prefix, "running_phi"), running_phi_, false});
    out.push_back({join_name(prefix, "ema_gz"), ema_gz_, false});
    out.push_back({join_name(prefix, "iters"), iters_, false});
  }

 private:
  // What both paths share: the scale s the forward uses and, in training, the batch's rstd
  // and the running update. xs is the group-scaled input.
  struct Scales {
    Tensor s, rstd_batch;   // [D]; rstd_batch undefined in eval
    long count = 0;         // training: the rows in psiB2 (every rank's when synced)
    Comm* sync = nullptr;   // training and synced: the ranks the backward's sum goes over
  };
  Scales scales(const Tensor& xs, const Tensor& keep, int N) {
    Scales sc{Tensor::empty({D_}), Tensor()};
    if (input_moments_) {  // the split statistics of an evaluation: of xs, real tokens only
      input_moments_->centred = false;
      input_moments_->add(xs.data(), norms::data_or_null(keep), N, D_);
    }
    if (!training_ && eval_batch_stats_) {
      // eval.bn_stats = batch: this batch's quadratic mean, no buffer changes. Its backward
      // treats the scale as a constant (as in eval): for evaluation, not for training.
      // (Never synced: each rank evaluates whole batches of its own.)
      Tensor psi2 = Tensor::empty({D_});
      std::vector<double> q(D_, 0.0);
      const long n = kernels::masked_column_sums(nullptr, q.data(), xs.data(), norms::data_or_null(keep), N, D_);
      kernels::powernorm_quadratic_mean(psi2.data(), q.data(), n, D_);
      kernels::powernorm_rstd(sc.s.data(), psi2.data(), D_, eps_);          // 1/sqrt(psiB2 + eps)
      return sc;
    }
    if (!training_) {  // eval: 1/sqrt(phi + eps), or the split's quadratic mean (eval_stats)
      kernels::powernorm_rstd(sc.s.data(), eval_var_.defined() ? eval_var_.data() : running_phi_.data(), D_, eps_);
      return sc;
    }
    Tensor psi2 = Tensor::empty({D_});
    // q = [n, Q (D)]: this batch's, then (synced) every rank's
    std::vector<double> q(1 + (size_t)D_, 0.0);
    q[0] = kernels::masked_column_sums(nullptr, &q[1], xs.data(), norms::data_or_null(keep), N, D_);
    if (comm_) comm_->sum(q.data(), (int64_t)q.size());
    sc.count = (long)q[0];
    sc.sync = comm_;
    kernels::powernorm_quadratic_mean(psi2.data(), &q[1], sc.count, D_);
    if (sc.count < 1) throw UserError("powernorm: training needs at least 1 real token in the batch");
    const int64_t it = (int64_t)iters_.data()[0] + 1;
    iters_.data()[0] = (float)it;
    sc.rstd_batch = Tensor::empty({D_});
    kernels::powernorm_rstd(sc.rstd_batch.data(), psi2.data(), D_, eps_);
    if (it <= warmup_) sc.s = sc.rstd_batch.clone();                 // warmup: the batch's
    else kernels::powernorm_rstd(sc.s.data(), running_phi_.data(), D_, eps_);  // then phi (before update)
    kernels::powernorm_update_running(running_phi_.data(), psi2.data(), it, warmup_, momentum_, D_);
    stats_.batch_mean.assign(D_, 0.0f);
    stats_.batch_var = psi2.to_vector();
    stats_.running_mean.assign(D_, 0.0f);
    stats_.running_var = running_phi_.to_vector();
    return sc;
  }

  Tensor fused(const Tensor& x, const Tensor& keep, int N) {
    // ---- group scaling: RMSNorm without a gain on [N*G, D/G] ----
    Tensor xs = x;
    if (groups_ > 0) {
      const int rows = N * groups_, width = D_ / groups_;
      xs = Tensor::empty(x.shape());
      Tensor rstd = Tensor::empty({rows});
      kernels::rmsnorm_forward(xs.data(), rstd.data(), x.data(), nullptr, rows, width, eps_);
      record(xs, "powernorm_group_scaling", {x}, [x, rstd, rows, width](TensorImpl& o) {
        // forward: xs = x / sqrt(mean_group x^2 + eps) per token and group
        //   =>  dx = rstd * (dxs - xs * mean_group(dxs * xs))   (kernels::rmsnorm_backward)
        kernels::rmsnorm_backward(norms::grad_or_null(x), nullptr, o.grad->ptr, x.data(),
                                  rstd.data(), nullptr, rows, width);
      });
    }
    // ---- power normalisation ----
    const Scales sc = scales(xs, keep, N);
    Tensor out = Tensor::empty(x.shape());
    kernels::powernorm_forward(out.data(), xs.data(), norms::data_or_null(keep), sc.s.data(), g_.data(),
                      b_.data(), N, D_);
    const Tensor g = g_, b = b_, ema = training_ ? ema_gz_ : Tensor();
    const int D = D_;
    const float a = alpha_bkw_;
    record(out, "powernorm", {xs, g, b}, [xs, g, b, keep, sc, ema, a, N, D](TensorImpl& o) {
      // forward: out = g * z + b, z = xs * s (pads 0). training: PowerFunction's backward,
      // eval: the exact one (see the top of the file and powernorm_backward)
      std::vector<double> p(sc.sync ? (size_t)D : 0);  // synced: this rank's sum_n xt z
      kernels::powernorm_backward(norms::grad_or_null(xs), norms::grad_or_null(g), norms::grad_or_null(b),
                         ema.defined() ? ema.data() : nullptr, o.grad->ptr, xs.data(),
                         norms::data_or_null(keep), sc.s.data(),
                         sc.rstd_batch.defined() ? sc.rstd_batch.data() : nullptr, g.data(), a,
                         N, D, sc.sync ? p.data() : nullptr);
      if (sc.sync) {  // ema_gz += (sum over every rank's rows of xt z) / n
        sc.sync->sum(p.data(), D);
        for (int d = 0; d < D; ++d) ema.data()[d] += (float)(p[d] / sc.count);
      }
    });
    return out;
  }

  // The plain twin: group scaling, affine and mask from ops; the approximate step as a loop.
  Tensor composed(const Tensor& x, const Tensor& keep, int N) {
    Tensor xs = reshape(x, {N, D_});
    if (groups_ > 0) {
      const Tensor grouped = reshape(x, {N, groups_, D_ / groups_});
      xs = reshape(grouped / sqrt(mean(grouped * grouped, {-1}, true) + eps_), {N, D_});
    }
    const Scales sc = scales(xs, keep, N);
    // z = xs * s: its value from ops, its backward the approximate rule (training) or exact (eval)
    Tensor z = Tensor::empty({N, D_});
    for (int n = 0; n < N; ++n)
      for (int d = 0; d < D_; ++d) z.data()[(long)n * D_ + d] = xs.data()[(long)n * D_ + d] * sc.s.data()[d];
    const Tensor m = keep.defined() ? reshape(keep, {N, 1}) : Tensor::full({N, 1}, 1.0f);
    const Tensor ema = training_ ? ema_gz_ : Tensor();
    const int D = D_;
    const float a = alpha_bkw_;
    record(z, "powernorm_scale", {xs}, [xs, m, sc, ema, a, N, D](TensorImpl& o) {
      // forward: z = xs * s. Eval: dxs = dz * s. Training (PowerFunction, dz = dy * g here):
      //   xt = dz - (1-a) ema_gz z;  dxs = xt / sqrt(psiB2 + eps);  ema_gz += mean_n (xt z)
      const float* dz = o.grad->ptr;
      float* dxs = xs.grad();
      std::vector<double> sum_xt_z(D, 0.0);
      int count = 0;  // this batch's real rows
      for (int d = 0; d < D; ++d) {
        count = 0;
        for (int n = 0; n < N; ++n) {
          if (m.data()[n] == 0.0f) continue;
          const long i = (long)n * D + d;
          const double zi = (double)xs.data()[i] * sc.s.data()[d];
          if (!ema.defined()) {
            dxs[i] += (float)(dz[i] * (double)sc.s.data()[d]);
            continue;
          }
          const double xt = dz[i] - (1.0 - a) * ema.data()[d] * zi;
          dxs[i] += (float)(xt * sc.rstd_batch.data()[d]);
          sum_xt_z[d] += xt * zi;
          ++count;
        }
      }
      if (!ema.defined()) return;
      // ema_gz += mean_n (xt z), after every row used the old value; synced: over every rank's
      // rows (sum of the ranks' sums, divided by the forward's global count)
      long n_rows = count;
      if (sc.sync) {
        sc.sync->sum(sum_xt_z.data(), D);
        n_rows = sc.count;
      }
      if (n_rows > 0)
        for (int d = 0; d < D; ++d) ema.data()[d] += (float)(sum_xt_z[d] / n_rows);
    });
    return reshape((z * g_ + b_) * m, x.shape());
  }

  int D_;
  float eps_, momentum_, alpha_bkw_;
  int groups_, warmup_;
  Comm* comm_;                            // model.norm.sync's ranks (size > 1), or nullptr
  Tensor g_, b_;
  Tensor running_phi_, ema_gz_, iters_;   // buffers: saved, not learned
  BatchNormStats stats_;                  // empty until the first training forward
};

}  // namespace

// PowerNorm's own keys (its registry line names them), and the one that depends on the model:
// the groups must divide d_model.
NormKeys powernorm_keys() {
  NormKeys k;
  k.keys = {int_norm_key("powernorm_groups", 1, 0, 65536,
                         "PowerNorm group scaling: 0 off, else G groups per token (d_model % G == 0)"),
            int_norm_key("powernorm_warmup", 0, 0, 1 << 30,
                         "PowerNorm: training steps that normalise with the batch's quadratic mean"),
            float_norm_key("powernorm_alpha_bkw", 0.9f, "0..1", [](float v) { return v >= 0 && v <= 1; },
                           "PowerNorm's approximate backward: decay of the correction statistic")};
  k.check = [](const NormConfig& n, int d_model) -> std::string {
    const int groups = (int)n.setting("powernorm_groups");
    if (groups == 0 || d_model % groups == 0) return "";
    return "powernorm_groups: d_model " + std::to_string(d_model) + " is not divisible by powernorm_groups " +
           std::to_string(groups);
  };
  return k;
}

std::unique_ptr<Norm> make_powernorm(const NormConfig& cfg, int D, Comm* comm) {
  return std::make_unique<PowerNorm>(D, norms::eps_or(cfg, 1e-5f), cfg.momentum,
                                     (float)cfg.setting("powernorm_alpha_bkw"),
                                     (int)cfg.setting("powernorm_groups"),
                                     (int)cfg.setting("powernorm_warmup"), cfg.sync ? comm : nullptr);
}

// Gradient checks of the exact parts. Eval: y = g * xs / sqrt(phi + eps) + b, phi a constant.
// Training within the warmup (the forward uses the batch's psiB2) on a fresh layer (ema_gz = 0,
// so the correction term is 0 at the one backward the check takes): the backward must be the
// derivative of the forward with psiB2 frozen at the checked point, through the exact group
// scaling. The approximate step itself (ema_gz != 0, after warmup) is checked against its
// formula in tests/unit/nn/test_powernorm.cpp.
static NormConfig powernorm_check_config() {
  NormConfig cfg;
  cfg.settings["powernorm_warmup"] = 1 << 30;   // every forward of the check is in warmup
  return cfg;
}
static const norms::NormGradchecks gradchecks(
    "powernorm", /*eval_too=*/true,
    [](const std::vector<Tensor>& in, const Tensor& x0, const Tensor& keep) {
      // in = {x, weight, bias}; groups = 1 (the default), eps 1e-5
      NoGrad ng;
      const float eps = 1e-5f;
      const int D = in[0].dim(-1), N = (int)(in[0].numel() / D);
      const Tensor m = reshape(keep, {N, 1});
      auto group_scale = [&](const Tensor& v) {
        const Tensor v2 = reshape(v, {N, D});
        return v2 / sqrt(mean(v2 * v2, {-1}, true) + eps);
      };
      const Tensor xs0 = group_scale(x0) * m;                             // psiB2 at x0: frozen
      const Tensor psi2 = sum(xs0 * xs0, {0}, true) * (1.0f / sum_all(m).item());
      const Tensor s0 = Tensor::full({1, D}, 1.0f) / sqrt(psi2 + eps);
      return reshape((group_scale(in[0]) * s0 * in[1] + in[2]) * m, in[0].shape());
    },
    powernorm_check_config());

}  // namespace nl
