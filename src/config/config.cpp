// config.cpp — JSON <-> Config: the tables of keys, cross-field checks, overrides, the
// resolved config.
//
// What it is: one table per struct (norm_table(), model_table(), ...), one row per key,
// declaring the JSON name, the member, the allowed values or range and a one-line doc.
// The rows (kinds in fields.h) drive parsing, validation, config_to_json and
// config_keys(), so every error is one line naming the file, the key path and what is
// allowed:
//   configs/x.json: model.norm.type: 'batchnrom' is not one of layernorm, rmsnorm, ...
//   configs/x.json: model.layer: unknown key (did you mean 'layers'?); allowed: d_model, ...
// Adding a key: a member with its default in config.h, one row in its table here, one
// line in configs/README.md (a test checks that README documents every key).
// Cross-field checks (d_model % heads, length ranges vs max_len, ...) run after all
// keys are read. Every error is UserError(code 2).
// Names owned by layers above config (norm types, tasks) come from names.h, which those
// layers fill; config includes nothing from nn/, data/ or train/.
// What it is not: the place that builds anything from the config (models, tasks).
#include "normlab/config/config.h"

#include <cstring>
#include <stdexcept>

#include "fields.h"
#include "normlab/core/error.h"
#include "normlab/core/files.h"
#include "normlab/core/json_io.h"
#include "normlab/config/memory_check.h"
#include "normlab/core/names.h"

namespace nl {

using nlohmann::json;

namespace config {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string did_you_mean(const std::string& name, const std::vector<std::string>& known) {
  std::string best;
  size_t best_d = 3;  // suggest only close names
  for (const auto& k : known) {
    const size_t d = edit_distance(name, k);
    if (d < best_d) best_d = d, best = k;
  }
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

// ---- the names of the enum keys (each mapping declared once, here) ----------------------

const Choices<NormPosition>& choices(NormPosition) {
  static const Choices<NormPosition> c = {{"post", NormPosition::post}, {"pre", NormPosition::pre}};
  return c;
}
const Choices<Positions>& choices(Positions) {
  static const Choices<Positions> c = {
      {"learned", Positions::learned}, {"sinusoidal", Positions::sinusoidal}, {"none", Positions::none}};
  return c;
}
const Choices<Activation>& choices(Activation) {
  static const Choices<Activation> c = {{"gelu", Activation::gelu}, {"relu", Activation::relu}};
  return c;
}
const Choices<Pool>& choices(Pool) {
  static const Choices<Pool> c = {{"mean", Pool::mean}, {"first", Pool::first}};
  return c;
}
const Choices<OptimizerType>& choices(OptimizerType) {
  static const Choices<OptimizerType> c = {
      {"sgd", OptimizerType::sgd}, {"adam", OptimizerType::adam}, {"adamw", OptimizerType::adamw}};
  return c;
}
const Choices<Schedule>& choices(Schedule) {
  static const Choices<Schedule> c = {
      {"constant", Schedule::constant}, {"cosine", Schedule::cosine}, {"linear", Schedule::linear}};
  return c;
}
const Choices<KernelSet>& choices(KernelSet) {
  // The names are exec.h's (the command line's --kernels reads them too).
  static const Choices<KernelSet> c = {{kernel_set_name(KernelSet::fast), KernelSet::fast},
                                       {kernel_set_name(KernelSet::reference), KernelSet::reference}};
  return c;
}

const Choices<EvalBnStats>& choices(EvalBnStats) {
  static const Choices<EvalBnStats> c = {
      {"running", EvalBnStats::running}, {"batch", EvalBnStats::batch}, {"split", EvalBnStats::split}};
  return c;
}
const Choices<EvalOrder>& choices(EvalOrder) {
  static const Choices<EvalOrder> c = {{"split", EvalOrder::split}, {"mixed", EvalOrder::mixed}};
  return c;
}

// ---- value checks of float keys --------------------------------------------------------

bool positive(float f) { return f > 0; }
bool non_negative(float f) { return f >= 0; }
bool unit_closed(float f) { return f >= 0 && f <= 1; }
bool unit_half_open(float f) { return f >= 0 && f < 1; }
bool not_zero(float f) { return f != 0; }
bool any_finite(float) { return true; }

constexpr int kBig = 1 << 30;

// ---- the tables ------------------------------------------------------------------------

const Table<LengthRange>& length_range_table() {
  static const Table<LengthRange> t = {
      int_key("min", &LengthRange::min, 1, 1 << 20, "shortest length"),
      int_key("max", &LengthRange::max, 1, 1 << 20, "longest length"),
  };
  return t;
}

void read_range(const json& v, LengthRange& r, const Where& at) {
  read_object(length_range_table(), v, r, at);
  if (r.min > r.max)
    fail(at.source, key_path(at.path, "min"),
         "min " + std::to_string(r.min) + " is greater than max " + std::to_string(r.max));
}

NormKeyTable (*&norm_key_list())() {
  static NormKeyTable (*list)() = nullptr;
  return list;
}

NormKeyTable registered_norm_keys() { return norm_key_list() ? norm_key_list()() : NormKeyTable{}; }

// The keys every norm shares, then each registered norm's own (NormKeys), in registry order.
// Built on every use, since a norm can be registered at run time (a test does); a key
// declared twice is a programming error.
const Table<NormConfig>& norm_table() {
  using N = NormConfig;
  thread_local Table<N> t;
  t = {
      registered_key("type", &N::type, "norm", "which normalisation every layer uses"),
      enum_key("position", &N::position, choices(NormPosition{}), "post: N(x + f(x)); pre: x + f(N(x))"),
      float_key("eps", &N::eps, "< 0 for the type's default, or > 0", not_zero, "added to the variance"),
      float_key("momentum", &N::momentum, "0..1", unit_closed, "BatchNorm running-statistics momentum"),
      bool_key("sync", &N::sync, "over K ranks: statistics of every rank's shard (SyncBatchNorm)"),
  };
  for (const auto& [type, keys] : registered_norm_keys())
    for (const NormKey& k : keys.keys) {
      for (const Field<N>& f : t)
        if (f.name == k.name)
          throw std::logic_error("norm '" + type + "' declares the key model.norm." + k.name + ", which exists");
      t.push_back(norm_key(k));
    }
  return t;
}

const Table<ModelConfig>& model_table() {
  using M = ModelConfig;
  static const Table<M> t = {
      int_key("d_model", &M::d_model, 1, 65536, "D, width of every token vector"),
      int_key("heads", &M::heads, 1, 1024, "H, attention heads"),
      int_key("d_ff", &M::d_ff, 1, 1 << 20, "F, hidden width of the feed-forward block"),
      int_key("layers", &M::layers, 1, 1000, "encoder layers"),
      enum_key("positions", &M::positions, choices(Positions{}), "position information added to tokens"),
      int_key("max_len", &M::max_len, 1, 1 << 20, "rows of the position table"),
      enum_key("activation", &M::activation, choices(Activation{}), "FFN non-linearity"),
      enum_key("pool", &M::pool, choices(Pool{}), "classify head: mean over real tokens, or the first"),
      bool_key("causal", &M::causal, "causal attention mask (always on for the lm head)"),
      float_key("dropout", &M::dropout, "0 <= dropout < 1", unit_half_open, "dropout probability"),
      float_key("init_std", &M::init_std, "> 0", positive, "std of the normal init of weights"),
      object_key("norm", &M::norm, norm_table, "the normalisation layer"),
  };
  return t;
}

const Table<TaskConfig>& task_table() {
  using T = TaskConfig;
  static const Table<T> t = {
      registered_key("name", &T::name, "task", "the task"),
      range_key("train_lengths", &T::train_lengths, "lengths of training sequences"),
      ranges_key("eval_lengths", &T::eval_lengths, "one evaluation split per range"),
      int_key("train_size", &T::train_size, 1, kBig, "examples generated for training"),
      int_key("eval_size", &T::eval_size, 1, kBig, "examples per evaluation range"),
      int_key("symbols", &T::symbols, 2, 100000, "alphabet size of generated tasks"),
      string_key("path", &T::path, Empty::allowed, "training file of file tasks"),
      string_key("eval_path", &T::eval_path, Empty::allowed, "optional evaluation file of file tasks"),
      uint64_key("data_seed", &T::data_seed, "seed of the data; 0 uses train.seed"),
      int_key("min_count", &T::min_count, 1, kBig, "brown_* tasks: words seen fewer times in training are <unk>"),
      string_key("labels", &T::labels, Empty::allowed, "brown_pos: universal|brown; brown_genre: genre|coarse"),
  };
  return t;
}

const Table<OptimConfig>& optim_table() {
  using O = OptimConfig;
  static const Table<O> t = {
      enum_key("type", &O::type, choices(OptimizerType{}), "optimizer"),
      float_key("lr", &O::lr, "> 0", positive, "peak learning rate"),
      float_key("momentum", &O::momentum, "0 <= momentum < 1", unit_half_open, "SGD momentum"),
      float_key("beta1", &O::beta1, "0 <= beta1 < 1", unit_half_open, "Adam(W) first-moment decay"),
      float_key("beta2", &O::beta2, "0 <= beta2 < 1", unit_half_open, "Adam(W) second-moment decay"),
      float_key("eps", &O::eps, "> 0", positive, "Adam(W) denominator epsilon"),
      float_key("weight_decay", &O::weight_decay, ">= 0", non_negative, "weight decay"),
      bool_key("decay_norm_and_bias", &O::decay_norm_and_bias, "decay norm gains/biases and all biases too"),
      enum_key("schedule", &O::schedule, choices(Schedule{}), "learning-rate decay after warmup"),
      int_key("warmup_steps", &O::warmup_steps, 0, kBig, "linear warmup steps"),
      float_key("min_lr_ratio", &O::min_lr_ratio, "0..1", unit_closed, "floor of the decay, fraction of lr"),
      float_key("clip_grad_norm", &O::clip_grad_norm, "any number; <= 0 turns clipping off", any_finite,
                "clip the global gradient L2 norm to this"),
  };
  return t;
}

const Table<TrainConfig>& train_table() {
  using R = TrainConfig;
  static const Table<R> t = {
      int_key("steps", &R::steps, 1, kBig, "optimizer steps"),
      int_key("batch_size", &R::batch_size, 1, 1 << 20, "examples per batch"),
      bool_key("bucket_by_length", &R::bucket_by_length, "batches of similar lengths"),
      uint64_key("seed", &R::seed, "seed of init, shuffling, dropout"),
      int_key("threads", &R::threads, 0, 1024, "OpenMP threads; 0: the machine's cores"),
      enum_key("kernels", &R::kernels, choices(KernelSet{}), "fast kernels or their plain twins"),
      bool_key("pack", &R::pack, "fast kernels: run the layers on real tokens only, where exact"),
      int_key("ranks", &R::ranks, 0, 1 << 16, "data-parallel processes (mpirun -np K); 0: as launched"),
      int_key("log_every", &R::log_every, 1, kBig, "steps between metrics rows"),
      int_key("eval_every", &R::eval_every, 0, kBig, "steps between evaluations; 0: at the end"),
      int_key("checkpoint_every", &R::checkpoint_every, 0, kBig, "steps between checkpoints; 0: at the end"),
      string_key("out_dir", &R::out_dir, Empty::not_allowed, "the run folder"),
  };
  return t;
}

const Table<EvalConfig>& eval_table() {
  using E = EvalConfig;
  static const Table<E> t = {
      int_key("batch_size", &E::batch_size, 0, 1 << 20, "examples per evaluation batch; 0: train.batch_size"),
      enum_key("order", &E::order, choices(EvalOrder{}),
               "evaluation batches of one split each, or mixed across the splits"),
      enum_key("bn_stats", &E::bn_stats, choices(EvalBnStats{}),
               "norms with batch statistics at evaluation: running statistics, each batch's own, or the split's"),
  };
  return t;
}

const Table<Config>& config_table() {
  static const Table<Config> t = {
      object_key("model", &Config::model, model_table, "the network"),
      object_key("task", &Config::task, task_table, "the data"),
      object_key("optim", &Config::optim, optim_table, "the optimizer and its schedule"),
      object_key("train", &Config::train, train_table, "the training loop"),
      object_key("eval", &Config::eval, eval_table, "how the model is evaluated"),
  };
  return t;
}

// ---- checks that involve more than one key ---------------------------------------------

bool contains(const std::vector<std::string>& v, const std::string& s) {
  for (const auto& x : v)
    if (x == s) return true;
  return false;
}

void check_cross_fields(const Config& c, const std::string& src) {
  const ModelConfig& m = c.model;
  if (m.d_model % m.heads != 0)
    fail(src, "model.heads", "d_model " + std::to_string(m.d_model) + " is not divisible by heads " +
                                 std::to_string(m.heads));
  if (m.norm.sync && !contains(registered_names("norm_sync"), m.norm.type))
    fail(src, "model.norm.sync", "true needs a norm with batch statistics (" + join(registered_names("norm_sync")) +
                                     "); " + m.norm.type + " normalises each token alone");
  for (const auto& [type, keys] : registered_norm_keys()) {
    if (type != m.norm.type || !keys.check) continue;
    const std::string wrong = keys.check(m.norm, m.d_model);  // "<key>: <what is wrong>"
    const size_t colon = wrong.find(": ");
    if (!wrong.empty()) fail(src, "model.norm." + wrong.substr(0, colon), wrong.substr(colon + 2));
  }
  if (m.positions == Positions::sinusoidal && m.d_model % 2 != 0)
    fail(src, "model.d_model", std::to_string(m.d_model) + " is odd; sinusoidal positions need an even d_model");
  if (m.positions != Positions::none) {
    int longest = c.task.train_lengths.max;
    std::string where = "task.train_lengths.max";
    for (size_t i = 0; i < c.task.eval_lengths.size(); ++i)
      if (c.task.eval_lengths[i].max > longest)
        longest = c.task.eval_lengths[i].max, where = "task.eval_lengths[" + std::to_string(i) + "].max";
    const int prefix = contains(registered_names("task.bos"), c.task.name) ? 1 : 0;  // <bos>
    if (longest + prefix > m.max_len)
      fail(src, "model.max_len", std::to_string(m.max_len) + " is shorter than " + where + " = " +
                                     std::to_string(longest) + (prefix ? " + 1 (<bos>)" : "") +
                                     " (positions '" + name_of(m.positions) +
                                     "' need max_len >= every length)");
  }
  const std::string& t = c.task.name;
  if (contains(registered_names("task.needs_path"), t) && c.task.path.empty())
    fail(src, "task.path", "required for task '" + t + "' (the training file)");
  if (c.optim.warmup_steps > c.train.steps)
    fail(src, "optim.warmup_steps", std::to_string(c.optim.warmup_steps) + " is more than train.steps = " +
                                        std::to_string(c.train.steps));
}

template <class E>
const char* name_in(E v) {
  for (const auto& [n, e] : choices(E{}))
    if (e == v) return n;
  return "?";  // unreachable: every enum value has a name
}

template <class E>
bool value_in(const std::string& name, E& v) {
  for (const auto& [n, e] : choices(E{}))
    if (name == n) {
      v = e;
      return true;
    }
  return false;
}

}  // namespace config

using config::fail;
using config::join;
using config::show;

const char* name_of(NormPosition v) { return config::name_in(v); }
const char* name_of(Positions v) { return config::name_in(v); }
const char* name_of(Activation v) { return config::name_in(v); }
const char* name_of(Pool v) { return config::name_in(v); }
const char* name_of(OptimizerType v) { return config::name_in(v); }
const char* name_of(Schedule v) { return config::name_in(v); }
const char* name_of(KernelSet v) { return config::name_in(v); }
const char* name_of(EvalBnStats v) { return config::name_in(v); }
const char* name_of(EvalOrder v) { return config::name_in(v); }
bool from_name(const std::string& n, NormPosition& v) { return config::value_in(n, v); }
bool from_name(const std::string& n, Positions& v) { return config::value_in(n, v); }
bool from_name(const std::string& n, Activation& v) { return config::value_in(n, v); }
bool from_name(const std::string& n, Pool& v) { return config::value_in(n, v); }
bool from_name(const std::string& n, OptimizerType& v) { return config::value_in(n, v); }
bool from_name(const std::string& n, Schedule& v) { return config::value_in(n, v); }
bool from_name(const std::string& n, KernelSet& v) { return config::value_in(n, v); }
bool from_name(const std::string& n, EvalBnStats& v) { return config::value_in(n, v); }
bool from_name(const std::string& n, EvalOrder& v) { return config::value_in(n, v); }

NormKey int_norm_key(const char* name, int def, int lo, int hi, const char* doc) {
  NormKey k;
  k.name = name, k.integer = true, k.def = def, k.lo = lo, k.hi = hi, k.doc = doc;
  k.allowed = std::to_string(lo) + ".." + std::to_string(hi);
  return k;
}

NormKey float_norm_key(const char* name, float def, const char* allowed, bool (*ok)(float), const char* doc) {
  NormKey k;
  k.name = name, k.def = def, k.ok = ok, k.allowed = allowed, k.doc = doc;
  return k;
}

void register_norm_keys(NormKeyTable (*list)()) { config::norm_key_list() = list; }

double NormConfig::setting(const std::string& key) const {
  auto it = settings.find(key);
  if (it != settings.end()) return it->second;
  for (const auto& [type, keys] : config::registered_norm_keys())
    for (const NormKey& k : keys.keys)
      if (k.name == key) return k.def;
  throw std::logic_error("NormConfig::setting: no norm declares the key '" + key + "'");
}

Config config_from_json(const json& j, const std::string& source) {
  Config c;
  config::read_object(config::config_table(), j, c, config::Where{source, ""});
  config::check_cross_fields(c, source);
  // Last: a config that cannot fit in memory (or whose tensors outgrow int sizes) is a
  // config error, caught here before a run folder exists (memory_check.h).
  check_memory(c, source, available_memory_bytes());
  return c;
}

json config_to_json(const Config& c) { return config::write_object(config::config_table(), c); }

ExecOptions exec_options(const TrainConfig& c) {
  ExecOptions e;
  e.kernels = c.kernels;
  e.pack = c.pack;
  return e;
}

std::vector<ConfigKey> config_keys() {
  std::vector<ConfigKey> out;
  config::list_keys(config::config_table(), "", out);
  return out;
}

// Only a regular file, at most kMaxConfigBytes; nesting depth, duplicate keys and every
// parser exception are one line naming the file (and the key when there is one).
json read_config_json(const std::string& path) {
  const std::string text = read_regular_file(path, path, "config", kMaxConfigBytes, 2);
  JsonReadOptions opt;
  opt.code = 2;
  opt.reject_duplicate_keys = true;
  return parse_json(text, path, opt);
}

Config load_config(const std::string& path) { return config_from_json(read_config_json(path), path); }

void apply_overrides(json& j, const std::vector<std::string>& overrides) {
  const json schema = config_to_json(Config{});  // every known key, at its place
  for (const std::string& o : overrides) {
    size_t eq = o.find('=');
    if (eq == std::string::npos || eq == 0)
      throw UserError("--set '" + o + "': expected key.path=value (e.g. model.norm.type=batchnorm)", 2);
    std::string key = o.substr(0, eq), text = o.substr(eq + 1);
    // Checked before anything is used: a config holds UTF-8 only, and the resolved config
    // is written as JSON, which cannot hold other bytes.
    if (!is_valid_utf8(key))
      throw UserError("--set '" + printable(key, 60) + "': the key is not valid UTF-8", 2);
    if (!is_valid_utf8(text))
      throw UserError("--set " + key + ": the value '" + printable(text, 60) + "' is not valid UTF-8", 2);

    std::vector<std::string> parts;
    for (size_t b = 0;;) {
      size_t d = key.find('.', b);
      parts.push_back(key.substr(b, d == std::string::npos ? std::string::npos : d - b));
      if (d == std::string::npos) break;
      b = d + 1;
    }
    // The key path must exist in the schema.
    const json* s = &schema;
    std::string so_far;
    for (const auto& part : parts) {
      if (!s->is_object() || !s->contains(part)) {
        std::vector<std::string> allowed;
        if (s->is_object())
          for (auto it = s->begin(); it != s->end(); ++it) allowed.push_back(it.key());
        throw UserError("--set " + key + ": unknown key '" + part + "'" +
                            (so_far.empty() ? "" : " under " + so_far) + config::did_you_mean(part, allowed) +
                            (allowed.empty() ? std::string("; ") + so_far + " has no sub-keys"
                                             : "; allowed: " + join(allowed)),
                        2);
      }
      s = &(*s)[part];
      so_far += (so_far.empty() ? "" : ".") + part;
    }
    // The value: JSON if it parses ("64", "true", "[...]", "\"x\""), else the raw string.
    check_json_depth(text, "--set " + key, kMaxJsonDepth, 2);
    json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) value = text;

    json* cur = &j;
    if (!cur->is_object()) throw UserError("--set " + key + ": the config is not a JSON object", 2);
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      json& next = (*cur)[parts[i]];  // creates an empty (null) entry if absent
      if (next.is_null()) next = json::object();
      if (!next.is_object())
        throw UserError("--set " + key + ": '" + parts[i] + "' in the config is " + show(next) +
                            ", not an object",
                        2);
      cur = &next;
    }
    (*cur)[parts.back()] = value;
  }
}

}  // namespace nl
