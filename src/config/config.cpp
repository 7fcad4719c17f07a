// config.cpp — JSON <-> Config: parsing, validation, overrides, the resolved config.
//
// What it is: the one place that knows every config key, its type, its default (the
// struct initialisers in config.h), and what values it allows. Each struct has a
// read_X function that reads its keys through a Reader, which remembers the dotted
// key path and which keys it has seen, so every error is one line naming the file,
// the key path and what is allowed:
//   configs/x.json: model.norm.type: 'batchnrom' is not one of layernorm, rmsnorm, ...
//   configs/x.json: model.layer: unknown key (did you mean 'layers'?); allowed: d_model, ...
// Cross-field checks (d_model % heads, length ranges vs max_len, ...) run after all
// keys are read. Every error is UserError(code 2).
// What it is not: the place that builds anything from the config (models, tasks).
// configs/README.md documents every key; keep it in step with this file.
#include "normlab/config.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "normlab/error.h"
#include "normlab/files.h"
#include "normlab/json_io.h"
#include "normlab/memory_check.h"
#include "normlab/data/task.h"
#include "normlab/nn/norm.h"

namespace nl {

using nlohmann::json;

namespace {

[[noreturn]] void fail(const std::string& source, const std::string& path, const std::string& msg) {
  throw UserError(source + ": " + (path.empty() ? std::string("(top level)") : path) + ": " + msg, 2);
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

// A short, one-line rendering of a JSON value for error messages: its type and at most
// ~40 characters, never a recursive dump (json_io.h).
std::string show(const json& v) { return json_describe(v); }

// Shortest decimal that reads back as the same float (0.1f -> 0.1, not 0.10000000149).
std::string float_str(float f) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, f);
  return std::string(buf, r.ptr);
}
double float_to_json(float f) { return std::strtod(float_str(f).c_str(), nullptr); }

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

// Reads the keys of one JSON object, remembering its key path and the keys it knows.
class Reader {
 public:
  Reader(const json& j, std::string path, const std::string& source)
      : j_(j), path_(std::move(path)), source_(source) {
    if (!j_.is_object()) fail(source_, path_, "expected an object {...}, got " + show(j_));
  }

  // "model" + "norm" -> "model.norm"; "task.eval_lengths" + "[0]" -> "task.eval_lengths[0]"
  std::string key_path(const char* key) const {
    return path_.empty() ? key : path_ + (key[0] == '[' ? "" : ".") + key;
  }
  const std::string& source() const { return source_; }

  // Returns the value of `key`, or nullptr when absent (the default stays).
  const json* find(const char* key) {
    known_.push_back(key);
    auto it = j_.find(key);
    return it == j_.end() ? nullptr : &*it;
  }

  void get(const char* key, bool& v) {
    const json* x = find(key);
    if (!x) return;
    if (!x->is_boolean()) fail(source_, key_path(key), "expected true or false, got " + show(*x));
    v = x->get<bool>();
  }

  void get(const char* key, int& v, int lo, int hi) {
    const json* x = find(key);
    if (!x) return;
    if (!x->is_number_integer())
      fail(source_, key_path(key), "expected an integer in " + std::to_string(lo) + ".." +
                                       std::to_string(hi) + ", got " + show(*x));
    // JSON integers are int64 or uint64; compare in int64 after ruling out huge ones.
    bool in = !(x->is_number_unsigned() && x->get<uint64_t>() > (uint64_t)hi) &&
              x->get<int64_t>() >= lo && x->get<int64_t>() <= hi;
    if (!in)
      fail(source_, key_path(key), json_brief(*x) + " is out of range (allowed: " + std::to_string(lo) +
                                       ".." + std::to_string(hi) + ")");
    v = (int)x->get<int64_t>();
  }

  void get(const char* key, uint64_t& v) {
    const json* x = find(key);
    if (!x) return;
    if (!x->is_number_unsigned())
      fail(source_, key_path(key), "expected a non-negative integer, got " + show(*x));
    v = x->get<uint64_t>();
  }

  // `allowed` describes the range in words for the error; `ok` checks it.
  template <class Ok>
  void get(const char* key, float& v, const char* allowed, Ok ok) {
    const json* x = find(key);
    if (!x) return;
    if (!x->is_number()) fail(source_, key_path(key), std::string("expected a number ") + allowed + ", got " + show(*x));
    double d = x->get<double>();
    float f = (float)d;
    if (!std::isfinite(f) || !ok(f))
      fail(source_, key_path(key), json_brief(*x) + " is out of range (allowed: " + allowed + ")");
    v = f;
  }

  void get(const char* key, std::string& v) {
    const json* x = find(key);
    if (!x) return;
    if (!x->is_string()) fail(source_, key_path(key), "expected a string, got " + show(*x));
    v = x->get<std::string>();
  }

  void get_one_of(const char* key, std::string& v, const std::vector<std::string>& allowed) {
    const json* x = find(key);
    if (!x) return;
    if (!x->is_string())
      fail(source_, key_path(key), "expected a string, one of " + join(allowed) + "; got " + show(*x));
    std::string s = x->get<std::string>();
    bool ok = false;
    for (const auto& a : allowed) ok = ok || a == s;
    if (!ok) fail(source_, key_path(key), "'" + printable(s) + "' is not one of " + join(allowed));
    v = s;
  }

  // A nested object; absent -> an empty object (all defaults).
  Reader child(const char* key) {
    const json* x = find(key);
    static const json empty = json::object();
    return Reader(x ? *x : empty, key_path(key), source_);
  }

  // Every key present must have been asked for.
  void finish() const {
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      bool ok = false;
      for (const auto& k : known_) ok = ok || k == it.key();
      if (ok) continue;
      std::string best;
      size_t best_d = 3;  // suggest only close names
      for (const auto& k : known_) {
        size_t d = edit_distance(it.key(), k);
        if (d < best_d) best_d = d, best = k;
      }
      fail(source_, key_path(it.key().c_str()),
           std::string("unknown key") + (best.empty() ? "" : " (did you mean '" + best + "'?)") +
               "; allowed: " + join(known_));
    }
  }

 private:
  const json& j_;
  std::string path_;
  const std::string& source_;
  std::vector<std::string> known_;
};

auto positive = [](float f) { return f > 0; };
auto non_negative = [](float f) { return f >= 0; };
auto unit_closed = [](float f) { return f >= 0 && f <= 1; };
auto unit_half_open = [](float f) { return f >= 0 && f < 1; };
auto any_finite = [](float) { return true; };

constexpr int kBig = 1 << 30;

void read_range(Reader& parent, const char* key, LengthRange& r) {
  Reader rr = parent.child(key);
  rr.get("min", r.min, 1, 1 << 20);
  rr.get("max", r.max, 1, 1 << 20);
  rr.finish();
  if (r.min > r.max)
    fail(rr.source(), rr.key_path("min"), "min " + std::to_string(r.min) + " is greater than max " +
                                              std::to_string(r.max));
}

void read_norm(Reader r, NormConfig& c) {
  r.get_one_of("type", c.type, norm_types());  // the registry: a new norm is accepted with no edit here
  r.get_one_of("position", c.position, {"post", "pre"});
  r.get("eps", c.eps, "< 0 for the type's default, or > 0", [](float f) { return f != 0; });
  r.get("momentum", c.momentum, "0..1", unit_closed);
  r.get("adanorm_C", c.adanorm_C, "> 0", positive);
  r.get("adanorm_k", c.adanorm_k, "0..1", unit_closed);
  r.get("sync", c.sync);
  r.finish();
  if (c.sync) {
    const std::vector<std::string> ok = norm_types_with_sync();
    if (std::find(ok.begin(), ok.end(), c.type) == ok.end())
      fail(r.source(), r.key_path("sync"), "true needs a norm with batch statistics (" + join(ok) +
                                               "); " + c.type + " normalises each token alone");
  }
}

void read_model(Reader r, ModelConfig& c) {
  r.get("d_model", c.d_model, 1, 65536);
  r.get("heads", c.heads, 1, 1024);
  r.get("d_ff", c.d_ff, 1, 1 << 20);
  r.get("layers", c.layers, 1, 1000);
  r.get_one_of("positions", c.positions, {"learned", "sinusoidal", "none"});
  r.get("max_len", c.max_len, 1, 1 << 20);
  r.get_one_of("activation", c.activation, {"gelu", "relu"});
  r.get_one_of("pool", c.pool, {"mean", "first"});
  r.get("causal", c.causal);
  r.get("dropout", c.dropout, "0 <= dropout < 1", unit_half_open);
  r.get("init_std", c.init_std, "> 0", positive);
  read_norm(r.child("norm"), c.norm);
  r.finish();
}

const std::vector<std::string>& known_tasks() {
  static const std::vector<std::string> v = {"majority", "histogram",     "sort",    "reverse", "parity",
                                             "dyck",     "text_classify", "char_lm", "wordlang"};
  return v;
}

void read_task(Reader r, TaskConfig& c) {
  r.get_one_of("name", c.name, known_tasks());
  read_range(r, "train_lengths", c.train_lengths);
  if (const json* x = r.find("eval_lengths")) {
    std::string p = r.key_path("eval_lengths");
    if (!x->is_array() || x->empty())
      fail(r.source(), p, "expected a non-empty array of {\"min\": m, \"max\": n}, got " + show(*x));
    c.eval_lengths.clear();
    for (size_t i = 0; i < x->size(); ++i) {
      LengthRange lr;
      // Read each element as a one-key object so errors say eval_lengths[i].max.
      json wrap = json::object({{"[" + std::to_string(i) + "]", (*x)[i]}});
      Reader w(wrap, p, r.source());
      std::string k = "[" + std::to_string(i) + "]";
      read_range(w, k.c_str(), lr);
      c.eval_lengths.push_back(lr);
    }
  }
  r.get("train_size", c.train_size, 1, kBig);
  r.get("eval_size", c.eval_size, 1, kBig);
  r.get("symbols", c.symbols, 2, 100000);
  r.get("path", c.path);
  r.get("eval_path", c.eval_path);
  r.get("data_seed", c.data_seed);
  r.finish();
}

void read_optim(Reader r, OptimConfig& c) {
  r.get_one_of("type", c.type, {"sgd", "adam", "adamw"});
  r.get("lr", c.lr, "> 0", positive);
  r.get("momentum", c.momentum, "0 <= momentum < 1", unit_half_open);
  r.get("beta1", c.beta1, "0 <= beta1 < 1", unit_half_open);
  r.get("beta2", c.beta2, "0 <= beta2 < 1", unit_half_open);
  r.get("eps", c.eps, "> 0", positive);
  r.get("weight_decay", c.weight_decay, ">= 0", non_negative);
  r.get("decay_norm_and_bias", c.decay_norm_and_bias);
  r.get_one_of("schedule", c.schedule, {"constant", "cosine", "linear"});
  r.get("warmup_steps", c.warmup_steps, 0, kBig);
  r.get("min_lr_ratio", c.min_lr_ratio, "0..1", unit_closed);
  r.get("clip_grad_norm", c.clip_grad_norm, "any number; <= 0 turns clipping off", any_finite);
  r.finish();
}

void read_train(Reader r, TrainConfig& c) {
  r.get("steps", c.steps, 1, kBig);
  r.get("batch_size", c.batch_size, 1, 1 << 20);
  r.get("bucket_by_length", c.bucket_by_length);
  r.get("seed", c.seed);
  r.get("threads", c.threads, 0, 1024);
  r.get_one_of("kernels", c.kernels, {"fast", "reference"});
  r.get("pack", c.pack);
  r.get("ranks", c.ranks, 0, 1 << 16);
  r.get("log_every", c.log_every, 1, kBig);
  r.get("eval_every", c.eval_every, 0, kBig);
  r.get("checkpoint_every", c.checkpoint_every, 0, kBig);
  r.get("out_dir", c.out_dir);
  r.finish();
  if (c.out_dir.empty()) fail(r.source(), r.key_path("out_dir"), "must not be empty");
}

// Checks that involve more than one key.
void check_cross_fields(const Config& c, const std::string& src) {
  const ModelConfig& m = c.model;
  if (m.d_model % m.heads != 0)
    fail(src, "model.heads", "d_model " + std::to_string(m.d_model) + " is not divisible by heads " +
                                 std::to_string(m.heads));
  if (m.positions != "none") {
    int longest = c.task.train_lengths.max;
    std::string where = "task.train_lengths.max";
    for (size_t i = 0; i < c.task.eval_lengths.size(); ++i)
      if (c.task.eval_lengths[i].max > longest)
        longest = c.task.eval_lengths[i].max, where = "task.eval_lengths[" + std::to_string(i) + "].max";
    const int prefix = task_prefix_tokens(c.task.name);  // <bos>
    if (longest + prefix > m.max_len)
      fail(src, "model.max_len", std::to_string(m.max_len) + " is shorter than " + where + " = " +
                                     std::to_string(longest) + (prefix ? " + 1 (<bos>)" : "") +
                                     " (positions '" + m.positions + "' need max_len >= every length)");
  }
  const std::string& t = c.task.name;
  if ((t == "text_classify" || t == "char_lm") && c.task.path.empty())
    fail(src, "task.path", "required for task '" + t + "' (the training file)");
  if (c.optim.warmup_steps > c.train.steps)
    fail(src, "optim.warmup_steps", std::to_string(c.optim.warmup_steps) + " is more than train.steps = " +
                                        std::to_string(c.train.steps));
}

}  // namespace

Config config_from_json(const json& j, const std::string& source) {
  Config c;
  Reader root(j, "", source);
  read_model(root.child("model"), c.model);
  read_task(root.child("task"), c.task);
  read_optim(root.child("optim"), c.optim);
  read_train(root.child("train"), c.train);
  root.finish();
  check_cross_fields(c, source);
  // Last: a config that cannot fit in memory (or whose tensors outgrow int sizes) is a
  // config error, caught here before a run folder exists (memory_check.h).
  check_memory(c, source, available_memory_bytes());
  return c;
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
                            (so_far.empty() ? "" : " under " + so_far) +
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

json config_to_json(const Config& c) {
  auto range = [](const LengthRange& r) { return json{{"min", r.min}, {"max", r.max}}; };
  const NormConfig& n = c.model.norm;
  json norm = {{"type", n.type},
               {"position", n.position},
               {"eps", float_to_json(n.eps)},
               {"momentum", float_to_json(n.momentum)},
               {"adanorm_C", float_to_json(n.adanorm_C)},
               {"adanorm_k", float_to_json(n.adanorm_k)},
               {"sync", n.sync}};
  const ModelConfig& m = c.model;
  json model = {{"d_model", m.d_model},       {"heads", m.heads},
                {"d_ff", m.d_ff},             {"layers", m.layers},
                {"positions", m.positions},   {"max_len", m.max_len},
                {"activation", m.activation}, {"pool", m.pool},
                {"causal", m.causal},         {"dropout", float_to_json(m.dropout)},
                {"init_std", float_to_json(m.init_std)}, {"norm", norm}};
  const TaskConfig& t = c.task;
  json evals = json::array();
  for (const auto& r : t.eval_lengths) evals.push_back(range(r));
  json task = {{"name", t.name},
               {"train_lengths", range(t.train_lengths)},
               {"eval_lengths", evals},
               {"train_size", t.train_size},
               {"eval_size", t.eval_size},
               {"symbols", t.symbols},
               {"path", t.path},
               {"eval_path", t.eval_path},
               {"data_seed", t.data_seed}};
  const OptimConfig& o = c.optim;
  json optim = {{"type", o.type},
                {"lr", float_to_json(o.lr)},
                {"momentum", float_to_json(o.momentum)},
                {"beta1", float_to_json(o.beta1)},
                {"beta2", float_to_json(o.beta2)},
                {"eps", float_to_json(o.eps)},
                {"weight_decay", float_to_json(o.weight_decay)},
                {"decay_norm_and_bias", o.decay_norm_and_bias},
                {"schedule", o.schedule},
                {"warmup_steps", o.warmup_steps},
                {"min_lr_ratio", float_to_json(o.min_lr_ratio)},
                {"clip_grad_norm", float_to_json(o.clip_grad_norm)}};
  const TrainConfig& tr = c.train;
  json train = {{"steps", tr.steps},
                {"batch_size", tr.batch_size},
                {"bucket_by_length", tr.bucket_by_length},
                {"seed", tr.seed},
                {"threads", tr.threads},
                {"kernels", tr.kernels},
                {"pack", tr.pack},
                {"ranks", tr.ranks},
                {"log_every", tr.log_every},
                {"eval_every", tr.eval_every},
                {"checkpoint_every", tr.checkpoint_every},
                {"out_dir", tr.out_dir}};
  return json{{"model", model}, {"task", task}, {"optim", optim}, {"train", train}};
}

ExecOptions exec_options(const TrainConfig& c) {
  ExecOptions e;
  e.kernels = parse_kernel_set(c.kernels);
  e.pack = c.pack;
  return e;
}

}  // namespace nl
