// tensor.h — the float32 tensor and the autograd tape node.
//
// What it is: a row-major, contiguous float32 array with a shape, shared storage
// (copies of a Tensor are handles to the same data, like torch.Tensor), an optional
// gradient buffer, and, for tensors produced by an op, the Node that knows how to
// push the gradient back to the op's inputs.
// What it is not: a general strided array library. Every tensor is contiguous;
// views that stay contiguous (reshape, slicing along the first axis) share storage
// through an offset, and everything else (transpose, permute) is an explicit op that
// writes a new tensor. Ops live in ops.h; the backward walk lives in autograd.cpp.
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace nl {

using Shape = std::vector<int>;

std::string shape_str(const Shape& s);  // "[32,64]"
int64_t numel_of(const Shape& s);

// A block of floats from the buffer pool (see core/pool.cpp). Returned to the pool
// when the last owner lets go, so a steady-state training step allocates nothing.
struct Buffer {
  float* ptr = nullptr;
  size_t n = 0;
  size_t capacity = 0;         // floats actually reserved (the pool's size class, >= n)
  explicit Buffer(size_t n);   // uninitialised
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
};

struct TensorImpl;

// One entry on the tape: which op made a tensor, and the closure that, given the
// gradient of that tensor (out.grad), adds the gradients of its inputs (+=). The closure
// is the op's own lambda, kept in the subclass record() makes (OpNode in autograd.h).
struct Node {
  virtual ~Node() = default;
  virtual void backward(TensorImpl& out) = 0;  // runs the op's closure
  const char* op = "";
  std::vector<std::shared_ptr<TensorImpl>> inputs;  // keeps inputs alive; never the output
  // `--profile` (profile.h): the row the closure's time goes to, and the FLOPs it computes;
  // -1 when the op was recorded without a profile.
  int profile_slot = -1;
  double backward_flops = 0;
};

// See Tensor::backward(seed, watch).
using BackwardWatch = std::function<void(int order, const TensorImpl& out)>;

struct TensorImpl {
  Shape shape;
  std::shared_ptr<Buffer> data;
  size_t offset = 0;               // in floats, into data
  std::shared_ptr<Buffer> grad;    // numel floats, allocated on first use, zero-filled
  bool requires_grad = false;
  std::shared_ptr<Node> node;      // null for leaves (parameters, inputs)
  std::string name;                // parameters carry their name (graph, checkpoints)
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> p) : p_(std::move(p)) {}

  // --- making tensors -------------------------------------------------------
  static Tensor empty(const Shape& shape);                 // uninitialised
  static Tensor zeros(const Shape& shape);
  static Tensor full(const Shape& shape, float value);
  static Tensor from(const std::vector<float>& values, const Shape& shape);
  static Tensor scalar(float v) { return full({1}, v); }

  // --- what it is -----------------------------------------------------------
  bool defined() const { return p_ != nullptr; }
  const Shape& shape() const;
  int ndim() const { return (int)shape().size(); }
  int dim(int i) const;      // negative i counts from the end
  int64_t numel() const;
  std::string shape_str() const { return nl::shape_str(shape()); }
  const std::string& name() const;
  Tensor& set_name(std::string n);

  // A Tensor is a handle (like shared_ptr): const-ness of the handle does not make
  // the values read-only, so ops can take `const Tensor&` and still write grads.
  float* data() const;
  std::vector<float> to_vector() const;
  float item() const;        // the one value of a one-element tensor

  // --- gradients --------------------------------------------------------------
  bool requires_grad() const;
  Tensor& set_requires_grad(bool r = true);
  bool has_grad() const;
  float* grad() const;       // allocates (zeros) on first use
  std::vector<float> grad_vector() const;  // zeros if never allocated
  void zero_grad() const;          // zero the buffer (kept, so no allocation next step)
  // Reverse-mode sweep from this tensor. A one-element tensor seeds dL/dL = 1.
  void backward();
  // Reverse-mode sweep seeded with dL/d(this) = seed (same shape), like
  // torch.Tensor.backward(gradient). `watch`, when given, sees each op's output just
  // before its closure runs, numbered from 1 in the order they run: its gradient is
  // complete then, and the walk frees it right after (`normlab graph` records it).
  void backward(const Tensor& seed, const BackwardWatch* watch = nullptr);
  // Same data, no history: gradients stop here.
  Tensor detach() const;
  // A deep copy of the values, no history.
  Tensor clone() const;

  // --- the tape ---------------------------------------------------------------
  const std::shared_ptr<Node>& node() const;
  TensorImpl* impl() const { return p_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return p_; }

 private:
  std::shared_ptr<TensorImpl> p_;
};

}  // namespace nl
