// nn/module.h — what every layer with parameters shares: named parameters and
// buffers, and a training/eval switch.
//
// What it is: the Module base class (Linear, MultiHeadAttention, FeedForward, Norm and
// Encoder derive from it) and NamedTensor. Names are dotted paths
// ("layers.0.attn.q.weight") and are the tensor names in checkpoints. Parameters are
// learned; buffers (BatchNorm running statistics) are saved and loaded but not learned.
// What it is not: a forward() interface or a graph: each layer declares its own forward
// (nn/layers.h, nn/norm.h, nn/encoder.h), and the ops it calls record the tape.
#pragma once
#include <string>
#include <vector>

#include "normlab/core/tensor.h"

namespace nl {

struct NamedTensor {
  std::string name;
  Tensor tensor;
  bool no_decay = false;  // AdamW skips it unless optim.decay_norm_and_bias (norm params, biases)
};

class Module {
 public:
  virtual ~Module() = default;
  // Append this module's parameters (and its children's) with `prefix` before each name.
  virtual void parameters(const std::string& prefix, std::vector<NamedTensor>& out) const {
    (void)prefix; (void)out;
  }
  virtual void buffers(const std::string& prefix, std::vector<NamedTensor>& out) const {
    (void)prefix; (void)out;
  }
  // Modules with children override this to pass it on.
  virtual void set_training(bool on) { training_ = on; }
  bool training() const { return training_; }

  std::vector<NamedTensor> named_parameters() const {
    std::vector<NamedTensor> v;
    parameters("", v);
    return v;
  }
  std::vector<NamedTensor> named_buffers() const {
    std::vector<NamedTensor> v;
    buffers("", v);
    return v;
  }

 protected:
  bool training_ = true;
};

// "a.b" + "c" -> "a.b.c"; "" + "c" -> "c"
inline std::string join_name(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

}  // namespace nl
