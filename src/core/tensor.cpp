// tensor.cpp — making tensors and reading them.
//
// What it is: Tensor's constructors (empty, zeros, full, from), accessors, gradient
// buffers (allocated zero-filled on first use), detach and clone.
// What it is not: the backward walk (autograd.cpp) nor any op (src/ops/).
#include "normlab/core/tensor.h"

#include <cstring>
#include <sstream>
#include <stdexcept>

namespace nl {

std::string shape_str(const Shape& s) {
  std::ostringstream o;
  o << '[';
  for (size_t i = 0; i < s.size(); ++i) o << (i ? "," : "") << s[i];
  o << ']';
  return o.str();
}

int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int d : s) {
    if (d < 0) throw std::invalid_argument("tensor: negative size in shape " + shape_str(s));
    n *= d;
  }
  return n;
}

Tensor Tensor::empty(const Shape& shape) {
  auto p = std::make_shared<TensorImpl>();
  p->shape = shape;
  p->data = std::make_shared<Buffer>((size_t)numel_of(shape));
  return Tensor(std::move(p));
}

Tensor Tensor::zeros(const Shape& shape) { return full(shape, 0.0f); }

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  float* d = t.data();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) d[i] = value;
  return t;
}

Tensor Tensor::from(const std::vector<float>& values, const Shape& shape) {
  if ((int64_t)values.size() != numel_of(shape))
    throw std::invalid_argument("tensor: " + std::to_string(values.size()) +
                                " values do not fill shape " + nl::shape_str(shape));
  Tensor t = empty(shape);
  if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * sizeof(float));
  return t;
}

static void need(const TensorImpl* p) {
  if (!p) throw std::logic_error("tensor: use of an undefined tensor");
}

const Shape& Tensor::shape() const { need(p_.get()); return p_->shape; }
int64_t Tensor::numel() const { return numel_of(shape()); }

int Tensor::dim(int i) const {
  int n = ndim();
  int j = i < 0 ? i + n : i;
  if (j < 0 || j >= n)
    throw std::invalid_argument("tensor: axis " + std::to_string(i) + " out of range for " + shape_str());
  return shape()[j];
}

const std::string& Tensor::name() const { need(p_.get()); return p_->name; }
Tensor& Tensor::set_name(std::string n) { need(p_.get()); p_->name = std::move(n); return *this; }

float* Tensor::data() const { need(p_.get()); return p_->data->ptr + p_->offset; }

std::vector<float> Tensor::to_vector() const {
  const float* d = data();
  return std::vector<float>(d, d + numel());
}

float Tensor::item() const {
  if (numel() != 1) throw std::invalid_argument("item: tensor is " + shape_str() + ", not one value");
  return data()[0];
}

bool Tensor::requires_grad() const { need(p_.get()); return p_->requires_grad; }
Tensor& Tensor::set_requires_grad(bool r) { need(p_.get()); p_->requires_grad = r; return *this; }
bool Tensor::has_grad() const { need(p_.get()); return p_->grad != nullptr; }

float* Tensor::grad() const {
  need(p_.get());
  if (!p_->grad) {
    p_->grad = std::make_shared<Buffer>((size_t)numel());
    std::memset(p_->grad->ptr, 0, numel() * sizeof(float));
  }
  return p_->grad->ptr;
}

std::vector<float> Tensor::grad_vector() const {
  if (!has_grad()) return std::vector<float>((size_t)numel(), 0.0f);
  const float* g = p_->grad->ptr;
  return std::vector<float>(g, g + numel());
}

void Tensor::zero_grad() const {
  need(p_.get());
  if (p_->grad) std::memset(p_->grad->ptr, 0, numel() * sizeof(float));
}

Tensor Tensor::detach() const {
  need(p_.get());
  auto q = std::make_shared<TensorImpl>();
  q->shape = p_->shape;
  q->data = p_->data;
  q->offset = p_->offset;
  return Tensor(std::move(q));
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape());
  std::memcpy(t.data(), data(), numel() * sizeof(float));
  return t;
}

const std::shared_ptr<Node>& Tensor::node() const { need(p_.get()); return p_->node; }

}  // namespace nl
