// memory_check.cpp — estimate a run's peak memory from its config, and refuse one that
// cannot fit (memory_check.h has the formulas).
//
// What it is: arithmetic in double (no size can overflow it), the memory the system says
// is available, and one error line naming the key that drives the estimate. Runs inside
// config_from_json, so `train`, `eval`, `data export` and every run of `compare` refuse a
// config that cannot fit before a folder is made or a byte is allocated for it.
// What it is not: an allocator limit; the estimate is deliberately rough.
#include "normlab/config/memory_check.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "normlab/config/config.h"
#include "normlab/core/error.h"
#include "normlab/core/files.h"
#include "normlab/core/names.h"

namespace nl {

namespace {

// What data/ knows of tasks, through names.h (config sits below data/).
bool task_in(const char* kind, const std::string& t) {
  for (const std::string& n : registered_names(kind))
    if (n == t) return true;
  return false;
}
bool is_file_task(const std::string& t) { return task_in("task.text", t); }
int task_prefix_tokens(const std::string& t) { return task_in("task.bos", t) ? 1 : 0; }

// The longest sequence any batch can hold (train or eval, <bos> included) and its key.
int longest_sequence(const Config& c, std::string& key) {
  int T = c.task.train_lengths.max;
  key = "task.train_lengths.max";
  for (size_t i = 0; i < c.task.eval_lengths.size(); ++i)
    if (c.task.eval_lengths[i].max > T)
      T = c.task.eval_lengths[i].max, key = "task.eval_lengths[" + std::to_string(i) + "].max";
  return T + task_prefix_tokens(c.task.name);
}

// Vocabulary and class count are known only once the data is read; these bound them for
// the generated tasks (dyck: 2K+1 tokens, plus <pad>, <bos>) and for word tasks (the Brown
// corpus: 34,357 tokens at task.min_count 1), and guess for text (characters).
double vocab_guess(const Config& c) {
  if (task_in("task.words", c.task.name)) return 35000.0;
  return is_file_task(c.task.name) ? 512.0 : 2.0 * c.task.symbols + 4;
}

double file_size_or_zero(const std::string& p) {
  struct stat st;
  if (p.empty() || ::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  return (double)st.st_size;
}

struct Part {
  double bytes;
  std::string key, value;
};

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

// One number from a file like /proc/meminfo ("MemAvailable:   123 kB") or a cgroup file.
bool read_first_number(const std::string& path, const std::string& prefix, double& out) {
  std::ifstream in(path);  // /proc and /sys files: never a FIFO
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, prefix.size(), prefix) != 0) continue;
    const char* s = line.c_str() + prefix.size();
    char* end = nullptr;
    double v = std::strtod(s, &end);
    if (end == s) return false;
    out = v;
    return true;
  }
  return false;
}

}  // namespace

MemoryEstimate estimate_memory(const Config& c) {
  const ModelConfig& m = c.model;
  const double D = m.d_model, F = m.d_ff, L = m.layers, H = m.heads, B = c.train.batch_size;
  const double V = vocab_guess(c), C = V;
  std::string tkey;
  const double T = longest_sequence(c, tkey);
  const double Ttrain = c.task.train_lengths.max + task_prefix_tokens(c.task.name);

  MemoryEstimate e;
  // Parameters: embeddings, per layer attention (4 D x D + bias) and feed-forward
  // (2 D x F + biases), two norms (weight, bias, BatchNorm's two running buffers), head.
  e.param_count = V * D + (m.positions == Positions::learned ? m.max_len * D : 0) +
                  L * (4 * D * D + 4 * D + 2 * D * F + F + D + 8 * D) + 2 * D + D * C + C;
  const double optimizer_bytes = c.optim.type == OptimizerType::sgd ? 4 : 8;  // momentum; adam's m and v
  e.params = e.param_count * (4 + 4 + optimizer_bytes);

  // Activations kept for backward by one training step (all layers), and one evaluation
  // layer at the longest eval length (no tape: a layer's buffers are freed after it).
  auto layer = [&](double t) { return 4 * B * (16 * t * D + 3 * t * F + 2 * H * t * t); };
  const double logits = 4 * 3 * B * Ttrain * C;
  e.activations = std::max(L * layer(Ttrain) + logits, layer(T) + logits);

  // Examples: two vectors (80 bytes with their allocations) and 8 bytes per token.
  auto examples = [](double n, double len) { return n * (80 + 8 * len); };
  e.data = examples(c.task.train_size, Ttrain);
  for (const LengthRange& r : c.task.eval_lengths)
    e.data += examples(c.task.eval_size, r.max + task_prefix_tokens(c.task.name));
  // File tasks: the file is read whole and each character held as a std::string while it is
  // cut (~40 bytes per byte); the examples are at most what the file holds.
  if (is_file_task(c.task.name))
    e.data = std::min(e.data, 48 * (file_size_or_zero(c.task.path) + file_size_or_zero(c.task.eval_path))) +
             40 * (file_size_or_zero(c.task.path) + file_size_or_zero(c.task.eval_path));
  return e;
}

uint64_t available_memory_bytes() {
  double avail = 0, v = 0;
  if (read_first_number("/proc/meminfo", "MemAvailable:", v)) avail = v * 1024;
  // A cgroup limit (v2, then v1) minus what the cgroup already uses.
  double limit = 0, used = 0;
  if ((read_first_number("/sys/fs/cgroup/memory.max", "", limit) &&
       read_first_number("/sys/fs/cgroup/memory.current", "", used)) ||
      (read_first_number("/sys/fs/cgroup/memory/memory.limit_in_bytes", "", limit) &&
       read_first_number("/sys/fs/cgroup/memory/memory.usage_in_bytes", "", used))) {
    if (limit > used && limit < 1e18 && (avail == 0 || limit - used < avail)) avail = limit - used;
  }
  struct rlimit rl;
  if (::getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (avail == 0 || (double)rl.rlim_cur < avail))
    avail = (double)rl.rlim_cur;
  return (uint64_t)avail;
}

// The kernels and shapes use int sizes in places: no tensor may hold more than INT_MAX
// elements, whatever memory the machine has.
static void check_int_sizes(const Config& c, const std::string& source) {
  const ModelConfig& m = c.model;
  std::string tkey;
  const double T = longest_sequence(c, tkey);
  const double B = c.train.batch_size, D = m.d_model, F = m.d_ff, H = m.heads, V = vocab_guess(c);
  const std::string from_T = ", T = " + std::to_string((int)T) + " from " + tkey;
  struct Big {
    double elements;
    std::string key, what;
  };
  const std::vector<Big> bigs = {
      {B * H * T * T, "train.batch_size", "attention weights batch_size x heads x T x T" + from_T},
      {B * T * std::max({D, F, V}), "train.batch_size", "activations batch_size x T x max(d_model, d_ff, vocab)" + from_T},
      {D * std::max(F, D), "model.d_model", "weights d_model x max(d_model, d_ff)"},
      {m.max_len * D, "model.max_len", "position table max_len x d_model"},
  };
  for (const Big& b : bigs)
    if (b.elements > (double)INT_MAX)
      throw UserError(source + ": " + b.key + ": one tensor would hold " + num(b.elements) + " elements (" + b.what +
                          "); at most " + std::to_string(INT_MAX) + " (shapes and some kernels use int sizes)",
                      2);
}

void check_memory(const Config& c, const std::string& source, uint64_t available) {
  const MemoryEstimate e = estimate_memory(c);
  if (available == 0 || e.total() <= (double)available) return check_int_sizes(c, source);

  const ModelConfig& m = c.model;
  std::string tkey;
  const double T = longest_sequence(c, tkey);
  const double D = m.d_model, F = m.d_ff, H = m.heads;
  // Name the key behind the largest part.
  std::vector<Part> parts;
  {
    const double L = m.layers;
    const double dd = L * 4 * D * D, df = L * 2 * D * F, pos = (m.positions == Positions::learned ? m.max_len * D : 0);
    Part p{e.params, "model.d_model", std::to_string(m.d_model)};
    if (df > dd) p = {e.params, "model.d_ff", std::to_string(m.d_ff)};
    if (pos > std::max(dd, df)) p = {e.params, "model.max_len", std::to_string(m.max_len)};
    parts.push_back(p);
  }
  {
    const double attn = 2 * H * T * T, rest = 16 * T * D + 3 * T * F;
    if (attn > rest) parts.push_back({e.activations, tkey, std::to_string((int)T - task_prefix_tokens(c.task.name))});
    else parts.push_back({e.activations, "train.batch_size", std::to_string(c.train.batch_size)});
  }
  if (is_file_task(c.task.name) && e.data > 0 && file_size_or_zero(c.task.path) > 0)
    parts.push_back({e.data, "task.path", "'" + c.task.path + "'"});
  else if ((double)c.task.train_size >= (double)c.task.eval_size * c.task.eval_lengths.size())
    parts.push_back({e.data, "task.train_size", std::to_string(c.task.train_size)});
  else
    parts.push_back({e.data, "task.eval_size", std::to_string(c.task.eval_size)});
  const Part& top = *std::max_element(parts.begin(), parts.end(),
                                      [](const Part& a, const Part& b) { return a.bytes < b.bytes; });
  throw UserError(source + ": " + top.key + ": " + top.value + " needs ~" + bytes_str(e.total()) +
                      " of memory (params+optimizer " + bytes_str(e.params) + ", activations " +
                      bytes_str(e.activations) + ", data " + bytes_str(e.data) + "), only " +
                      bytes_str((double)available) + " available",
                  2);
}

}  // namespace nl
