// nn/norm.h — one interface for every normalization layer, chosen by name.
//
// What it is: Norm::forward(x [B,T,D], keep [B,T]) -> [B,T,D]. `keep` is 1 for a real
// token and 0 for padding; every norm takes it, even those that do not need it, so the
// encoder never knows which norm it holds. make_norm(cfg, D) looks the type up in the
// registry (src/nn/norms/registry.cpp): adding a norm is one new file plus one line there.
// make_norm also hands the layer its kernel set (exec.h): a norm with a fused kernel runs
// it under `fast` and its composed twin (autograd ops) under `reference`; kernels() says.
// What it is not: the math. The kernels (forward keeps mean/rstd for backward) live in
// include/normlab/kernels/norm.h; each norm file links its paper.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "normlab/config/config.h"
#include "normlab/core/exec.h"
#include "normlab/nn/module.h"

namespace nl {

class Norm;
class Comm;  // parallel/comm.h
// Throws std::invalid_argument naming the unknown type and listing the known ones.
// comm: the data-parallel ranks (ExecOptions::comm); only a norm whose statistics span the
// batch uses it, and only when cfg.sync is true (SyncBatchNorm). nullptr: one process.
std::unique_ptr<Norm> make_norm(const NormConfig& cfg, int D, KernelSet kernels = KernelSet::fast,
                                Comm* comm = nullptr);
std::vector<std::string> norm_types();  // every registered name
// The types whose statistics span the batch, for which model.norm.sync means something.
std::vector<std::string> norm_types_with_sync();
// Traits of a type, asked without building a layer (compare reads them to decide which
// questions a comparison answers). norm_batch_statistics: the layer's statistics span the
// batch (it has batch_stats(); the built-in ones are the types of norm_types_with_sync()).
bool norm_batch_statistics(const std::string& type);
// Every norm type that declares keys of its own, with them (NormKeys, config.h).
NormKeyTable norm_keys();
// The settings of `type` under which its backward is exact (NormKeys::exact_gradient); empty
// for most norms.
std::map<std::string, double> norm_exact_gradient_settings(const std::string& type);
// The type that plays `role` in the experiments of the papers normlab reruns, "" when none:
//   "standard"             LayerNorm (Ba et al. 2016), the usual reference
//   "without_gain_bias"    the standard norm without gain and bias (Xu et al. 2019's LayerNorm-simple)
//   "detached_statistics"  that, with the gradients through mean and variance removed (DetachNorm)
//   "identity"             no normalisation
std::string norm_for_role(const std::string& role);
std::vector<std::string> norm_roles();  // the roles above, in that order

// BatchNorm diagnostics (Shen et al. 2020, PowerNorm, Sec. 3): the batch statistics of
// the last training forward next to the running ones, per feature.
struct BatchNormStats {
  std::vector<float> batch_mean, batch_var;      // of the last training forward (biased var)
  std::vector<float> running_mean, running_var;  // after that forward's update
  // drift_mean = ||mu_B - rm||_2 / D ; drift_var = ||var_B - rv||_2 / D
  float drift_mean() const;
  float drift_var() const;
};

// Masked moments of a norm's input summed over many forwards, in float64: the statistics of
// a whole evaluation split (docs/math.md, Diagnostics, "Shift"). Rows with keep == 0 (pads)
// do not count. A norm that does not centre (PowerNorm) says so: its statistics in
// BatchNorm's terms are then mean 0 and var = the quadratic mean.
struct InputMoments {
  bool centred = true;                // false: PowerNorm (mean 0, var = sum_sq / count)
  double count = 0;                   // rows added
  std::vector<double> sum, sum_sq;    // per feature: sum x, sum x^2
  // Adds the rows of x [N,D] whose keep is not 0 (keep null: every row).
  void add(const float* x, const float* keep, int N, int D);
  // The split's statistics in BatchNorm's terms (biased variance); empty when nothing was added.
  std::vector<double> mean() const;
  std::vector<double> var() const;
  // The variance a layer keeps as its running statistic, from these moments: centred, the
  // unbiased var * count / (count - 1) (BatchNorm's running_var); not centred, the quadratic
  // mean itself (PowerNorm's phi). What eval.bn_stats = split normalises with.
  std::vector<double> running_var() const;
};

// How far a split's statistics lie from the running ones the layer evaluates with, defined
// like the drift: shift_mean = ||mean - rm||_2 / D, shift_var = ||var - rv||_2 / D.
struct StatsShift {
  double shift_mean = 0, shift_var = 0;
};
StatsShift stats_shift(const InputMoments& m, const std::vector<float>& running_mean,
                       const std::vector<float>& running_var);

class Norm : public Module {
 public:
  virtual Tensor forward(const Tensor& x, const Tensor& keep) = 0;
  virtual std::string type() const = 0;
  // The eps added to the variance: model.norm.eps, or the type's default when that is < 0
  // (so a config's -1 can be compared with the value it stands for); -1 for a norm without one.
  virtual float eps() const { return -1; }
  // Only BatchNorm-like layers have these; others return nullptr.
  virtual const BatchNormStats* batch_stats() const { return nullptr; }
  // BatchNorm-like layers: the statistics evaluation normalises with, in BatchNorm's terms
  // (PowerNorm: mean 0, var = the running quadratic mean), read from the buffers now.
  // Others return false.
  virtual bool running_stats(std::vector<float>& mean, std::vector<float>& var) const {
    (void)mean, (void)var;
    return false;
  }
  // Evaluation settings; only layers with batch statistics read them, and only in eval mode.
  // eval_batch_stats: normalise each batch with its own statistics (as a training forward
  // does, over the same rows) instead of the running ones, and update nothing.
  void set_eval_batch_stats(bool on) { eval_batch_stats_ = on; }
  bool eval_batch_stats() const { return eval_batch_stats_; }
  // eval_stats (eval.bn_stats = split): normalise with these statistics instead of the
  // running ones, in BatchNorm's terms as running_stats() gives them (PowerNorm: mean 0 and
  // var = a quadratic mean), and update nothing. Empty vectors: back to the running ones.
  // Read only in eval mode and when eval_batch_stats is off.
  void set_eval_stats(const std::vector<float>& mean, const std::vector<float>& var);
  bool has_eval_stats() const { return eval_mean_.defined(); }
  // While set (not null), every forward adds its input's masked moments here (the input the
  // statistics are taken of: PowerNorm's group-scaled x). The caller owns the object.
  void set_input_moments(InputMoments* m) { input_moments_ = m; }
  // Whether the output at real tokens depends on the pad rows (batchnorm_padded: they
  // are in its batch statistics). If not, the encoder may drop the pads altogether and
  // run on the real tokens only (packed); so a norm says false only when that is exact.
  virtual bool reads_pad_rows() const { return true; }
  // Whether backward is the exact derivative of forward. False for norms that stop a
  // gradient on purpose (detachnorm; adanorm with k > 0): finite differences cannot check
  // what lies before them (nn/encoder_gradcheck.cpp asks).
  virtual bool exact_gradient() const { return true; }
  // Whether the training forward reads state that the same forward updates (PowerNorm's
  // running quadratic mean): then two forwards at the same input differ, so the model's
  // finite-difference checks run it in evaluation mode (nn/encoder_gradcheck.cpp asks).
  virtual bool stateful_training_forward() const { return false; }
  // The kernel set make_norm() built this layer with: fused kernels or the composed twin.
  KernelSet kernels() const { return kernels_; }

 private:
  friend std::unique_ptr<Norm> make_norm(const NormConfig& cfg, int D, KernelSet kernels, Comm* comm);
  KernelSet kernels_ = KernelSet::fast;

 protected:
  bool eval_batch_stats_ = false;
  Tensor eval_mean_, eval_var_;  // set_eval_stats(); undefined: the running statistics
  // Throws std::invalid_argument naming the layer unless the eval_stats are unset or of width D.
  void check_eval_stats(int D) const;
  InputMoments* input_moments_ = nullptr;
};

// comm: the data-parallel ranks, given at construction; only a norm whose statistics span
// the batch uses it, and only when cfg.sync is true (SyncBatchNorm). nullptr: one process.
using NormFactory = std::function<std::unique_ptr<Norm>(const NormConfig& cfg, int D, Comm* comm)>;
// Adds a norm type at run time (a norm defined outside src/nn/norms/, e.g. in a test);
// the built-in ones are the NL_NORM lines of registry.cpp. Throws if the name is taken.
// batch_statistics: its layers have batch_stats() (norm_batch_statistics answers it).
// keys: its own config keys (model.norm.<key>), read and checked by config like any other;
// the factory reads them with cfg.setting(key). Throws if another norm declares one of them.
void register_norm(const std::string& name, NormFactory make, bool batch_statistics = false,
                   NormKeys keys = {});
void unregister_norm(const std::string& name);  // no-op if unknown

}  // namespace nl
