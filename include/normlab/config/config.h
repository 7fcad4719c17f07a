// config.h — the run configuration: JSON maps one-to-one onto these structs.
//
// What it is: plain structs whose initialisers are the defaults. Every JSON key is a field
// here with the same name, declared once more — name, member, allowed values or range, a
// one-line doc — in its struct's table in src/config/config.cpp; that table row drives
// parsing, validation, config_to_json and the test that configs/README.md documents the
// key. An unknown key, a wrong type or an out-of-range value is a UserError naming the key
// path ("model.norm.type: 'batchnrom' is not one of ...") and exit code 2.
// Keys with a fixed set of values are enums; their names are declared once, in the table
// (name_of() and from_name() give them to the rest of the code).
// What it is not: a place for derived values (vocab size and class count come from
// the task at run time, not from the config).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "normlab/core/exec.h"  // KernelSet (train.kernels), ExecOptions

namespace nl {

enum class NormPosition { post, pre };                 // model.norm.position
enum class Positions { learned, sinusoidal, none };    // model.positions
enum class Activation { gelu, relu };                  // model.activation
enum class Pool { mean, first };                       // model.pool (classify head)
enum class OptimizerType { sgd, adam, adamw };         // optim.type
enum class Schedule { constant, cosine, linear };      // optim.schedule
enum class EvalBnStats { running, batch, split };      // eval.bn_stats
enum class EvalOrder { split, mixed };                 // eval.order

// The keys every norm shares are the fields below. A norm's own settings (AdaNorm's C and k,
// PowerNorm's groups, ...) are not fields: the norm declares them as NormKeys in its file in
// src/nn/norms/ (its registry entry carries them), they are read from model.norm.<key> and
// checked by those rows, and the layer reads them back with setting(key).
struct NormConfig {
  std::string type = "layernorm";  // a registered norm (nn/norms/registry.cpp)
  NormPosition position = NormPosition::post;
  float eps = -1.0f;               // < 0: the type's default (1e-5; rmsnorm 1e-6)
  float momentum = 0.1f;           // batchnorm running-stat momentum (PyTorch convention)
  bool sync = false;               // batchnorm(_padded) over K ranks: statistics of every
                                   // rank's shard (SyncBatchNorm) instead of its own
  // The norms' own settings that were set (by a config file or by code), by key; a key not
  // here has its declared default. Every value is an int or a float, held exactly.
  std::map<std::string, double> settings;
  // The value of a declared norm key: settings[key], else the key's default. Throws
  // std::logic_error for a key no registered norm declares.
  double setting(const std::string& key) const;
};

// One setting a norm declares: the JSON key model.norm.<name>, an int or a float, its default
// and its allowed range. A norm lists its keys in its own file (NormKeys below) and names them
// in its registry line; config reads, checks and writes them like any table row.
struct NormKey {
  std::string name;                  // "adanorm_k": model.norm.adanorm_k
  bool integer = false;              // an int (else a float)
  double def = 0;                    // the default, exactly as the int or float it is
  int lo = 0, hi = 0;                // int: the allowed range lo..hi
  bool (*ok)(float) = nullptr;       // float: whether a value is allowed
  std::string allowed;               // the range in words: "0..65536", "> 0", "0..1"
  std::string doc;                   // one line
};
NormKey int_norm_key(const char* name, int def, int lo, int hi, const char* doc);
NormKey float_norm_key(const char* name, float def, const char* allowed, bool (*ok)(float), const char* doc);

// The keys of one norm type, and a check of its settings against the model, run when the
// type is model.norm.type (PowerNorm's groups must divide d_model): "" when the settings
// fit, else "<key>: <what is wrong>".
struct NormKeys {
  std::vector<NormKey> keys;
  std::string (*check)(const NormConfig& norm, int d_model) = nullptr;
  // Settings under which the norm's backward is the exact derivative of its forward, for
  // the whole-model gradient checks (AdaNorm: k = 0 makes its stop-gradient factor constant).
  std::map<std::string, double> exact_gradient;
};
// Every registered norm type with its keys, in registry order. Config sits below nn/, so the
// norm registry (nn/norms/registry.cpp) registers the function that lists them, as it
// registers the norm names (names.h); the function is asked on every use.
using NormKeyTable = std::vector<std::pair<std::string, NormKeys>>;
void register_norm_keys(NormKeyTable (*list)());

struct ModelConfig {
  int d_model = 64;                // D
  int heads = 4;                   // H (D % H == 0)
  int d_ff = 256;                  // F
  int layers = 2;
  Positions positions = Positions::learned;
  int max_len = 256;               // longest sequence the position table covers
  Activation activation = Activation::gelu;
  Pool pool = Pool::mean;          // classify head: mean (over real tokens) | first
  bool causal = false;             // causal attention mask (always on for the lm head)
  float dropout = 0.0f;
  float init_std = 0.02f;          // normal init of weights; biases start at 0
  NormConfig norm;
};

struct LengthRange {
  int min = 1;
  int max = 1;
};

struct TaskConfig {
  std::string name = "majority";   // a task of data/ (majority, histogram, ..., wordlang)
  LengthRange train_lengths{4, 16};
  std::vector<LengthRange> eval_lengths{{4, 16}, {17, 32}};
  int train_size = 2000;           // examples generated for training
  int eval_size = 256;             // examples per evaluation range
  int symbols = 8;                 // alphabet size of generated tasks
  std::string path;                // file tasks: training file (TSV/JSONL or text)
  std::string eval_path;           // file tasks: optional evaluation file
  uint64_t data_seed = 0;          // 0: use train.seed
  int min_count = 1;               // brown_*: a word seen fewer times in training is <unk>
  std::string labels;              // brown_pos: universal|brown; brown_genre: genre|coarse
};

struct OptimConfig {
  OptimizerType type = OptimizerType::adamw;
  float lr = 1e-3f;
  float momentum = 0.9f;           // sgd
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float weight_decay = 0.01f;      // adamw (decoupled); adam adds it to the gradient
  bool decay_norm_and_bias = false;// by default norm gains/biases and all biases are not decayed
  Schedule schedule = Schedule::constant;  // decay after warmup
  int warmup_steps = 0;
  float min_lr_ratio = 0.0f;       // floor of the decay, as a fraction of lr
  float clip_grad_norm = 1.0f;     // <= 0: no clipping
};

struct TrainConfig {
  int steps = 500;
  int batch_size = 32;
  bool bucket_by_length = false;   // batches of similar lengths: fewer pads
  uint64_t seed = 1;
  int threads = 0;                 // 0: the machine's cores
  KernelSet kernels = KernelSet::fast;
  bool pack = true;                // fast kernels: run real tokens only where exact (exec.h)
  int ranks = 0;                   // data-parallel processes (mpirun -np K); 0: as launched
  int log_every = 10;
  int eval_every = 100;            // 0: only at the end
  int checkpoint_every = 0;        // 0: only at the end
  std::string out_dir = "runs/default";
};

// How the model is evaluated (every evaluation of `train`, and `normlab eval`). Reaches no
// weight, so `--resume` may change it.
struct EvalConfig {
  int batch_size = 0;              // examples per evaluation batch; 0: train.batch_size
  // Which examples share a batch: consecutive examples of one split, or examples of all
  // splits shuffled together (a fixed shuffle); each example is scored in its own split.
  EvalOrder order = EvalOrder::split;
  // Norms with batch statistics (batch_stats() != nullptr) at evaluation: their running
  // statistics, each evaluation batch's own statistics, or the statistics of the whole
  // evaluation split (AdaBN); never updating the running ones.
  EvalBnStats bn_stats = EvalBnStats::running;
};

struct Config {
  ModelConfig model;
  TaskConfig task;
  OptimConfig optim;
  TrainConfig train;
  EvalConfig eval;
};

// Parse and validate. `source` names the file in errors. Throws UserError(code 2).
Config config_from_json(const nlohmann::json& j, const std::string& source = "config");
Config load_config(const std::string& path);
// The file's JSON, before validation (to apply --set overrides first). UserError code 2
// for a missing file, malformed JSON (with line and column) or a duplicate key.
nlohmann::json read_config_json(const std::string& path);
// Apply "key.path=value" overrides (value parsed as JSON, else as a string).
void apply_overrides(nlohmann::json& j, const std::vector<std::string>& overrides);
nlohmann::json config_to_json(const Config& c);  // every key, resolved
// The execution options of a run: train.kernels (already overridden by `--kernels`) and
// train.pack. Built once per run and handed to the model (exec.h).
ExecOptions exec_options(const TrainConfig& c);

// The names of the enum values, as in the JSON ("pre", "sinusoidal", ...), from the tables.
const char* name_of(NormPosition v);
const char* name_of(Positions v);
const char* name_of(Activation v);
const char* name_of(Pool v);
const char* name_of(OptimizerType v);
const char* name_of(Schedule v);
const char* name_of(KernelSet v);
const char* name_of(EvalBnStats v);
const char* name_of(EvalOrder v);
// The value named `name`; false (and `v` untouched) when no value has that name.
bool from_name(const std::string& name, NormPosition& v);
bool from_name(const std::string& name, Positions& v);
bool from_name(const std::string& name, Activation& v);
bool from_name(const std::string& name, Pool& v);
bool from_name(const std::string& name, OptimizerType& v);
bool from_name(const std::string& name, Schedule& v);
bool from_name(const std::string& name, KernelSet& v);
bool from_name(const std::string& name, EvalBnStats& v);
bool from_name(const std::string& name, EvalOrder& v);

// Every key the tables declare, in declaration order, for documentation and its test:
// "model.norm" is an object key whose own keys follow as "model.norm.type", ...
struct ConfigKey {
  std::string path;     // "model.norm.eps"
  std::string type;     // int | uint64 | float | bool | string | object | range | ranges
  std::string allowed;  // "1..65536", "> 0", "post, pre", ... ("" when anything goes)
  std::string doc;      // one line
};
std::vector<ConfigKey> config_keys();

}  // namespace nl
