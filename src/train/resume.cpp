// resume.cpp — a checkpoint's training state, parsed strictly and checked against the
// config of the resumed run (see train/resume.h).
//
// What it is: string -> number parsing that rejects anything but the whole number, the
// stored-vs-new config comparison, and the step range check. Nothing here writes.
// What it is not: the loop that applies the state (trainer.cpp) nor the file format
// (checkpoint.cpp).
#include "normlab/train/resume.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "normlab/core/error.h"
#include "normlab/core/json_io.h"

namespace nl {

using nlohmann::json;

const std::vector<std::string>& resume_may_change() {
  // None of these reaches a weight: steps decides where the run ends (and, with a decaying
  // schedule, the learning rate from here on), the next three when rows, evaluations and
  // checkpoints are written, threads and ranks how the work is split (over threads, over
  // data-parallel processes: a checkpoint holds nothing rank-specific), out_dir the folder's name,
  // eval.* how evaluations (which touch no weight, buffer or RNG) batch and normalise.
  static const std::vector<std::string> keys = {"train.steps",            "train.log_every",
                                                "train.eval_every",       "train.checkpoint_every",
                                                "train.threads",          "train.ranks",
                                                "train.out_dir",          "eval.batch_size",
                                                "eval.order",             "eval.bn_stats"};
  return keys;
}

namespace {

std::string short_value(const json& v) {
  if (v.is_null()) return "(absent)";
  std::string s = v.dump();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

bool may_change(const std::string& key) {
  for (const std::string& k : resume_may_change())
    if (k == key) return true;
  return false;
}

// Walk both objects in key order; `deflt` is the default config at the same place, for
// keys a checkpoint of an older build does not have.
bool differ(const json& a, const json& b, const json& deflt, const std::string& at, std::string* key,
            std::string* va, std::string* vb) {
  if (may_change(at)) return false;
  if (a.is_object() && b.is_object()) {
    std::vector<std::string> keys;
    for (auto it = a.begin(); it != a.end(); ++it) keys.push_back(it.key());
    for (auto it = b.begin(); it != b.end(); ++it)
      if (!a.contains(it.key())) keys.push_back(it.key());
    std::sort(keys.begin(), keys.end());
    for (const std::string& k : keys) {
      const std::string sub = at.empty() ? k : at + "." + k;
      const json none;
      const json& d = deflt.is_object() && deflt.contains(k) ? deflt[k] : none;
      const json& x = a.contains(k) ? a[k] : d;  // absent from the checkpoint: the default
      const json& y = b.contains(k) ? b[k] : none;
      if (differ(x, y, d, sub, key, va, vb)) return true;
    }
    return false;
  }
  if (a == b) return false;
  *key = at.empty() ? "(top level)" : at;
  *va = short_value(a);
  *vb = short_value(b);
  return true;
}

}  // namespace

std::string first_config_difference(const json& stored, const json& now, std::string* stored_value,
                                    std::string* now_value) {
  std::string key;
  differ(stored, now, config_to_json(Config{}), "", &key, stored_value, now_value);
  return key;
}

TrainState read_resume_point(const SafetensorsFile& f, const Config& cfg, const std::string& path) {
  auto meta = [&](const std::string& k) -> const std::string& {
    auto it = f.metadata.find(k);
    if (it == f.metadata.end()) throw UserError("checkpoint " + path + ": no '" + k + "' in __metadata__");
    return it->second;
  };
  if (meta("format").rfind("normlab-checkpoint-", 0) != 0)
    throw UserError("checkpoint " + path + ": __metadata__.format '" + short_value(meta("format")) +
                    "' is not a normlab checkpoint");

  // The config it was trained with, against the one given now.
  // Depth-checked before parsing: the comparison below recurses through the value.
  json stored = parse_json(meta("config"), "checkpoint " + path + ": __metadata__.config", {1});
  if (!stored.is_object())
    throw UserError("checkpoint " + path + ": __metadata__.config is not a JSON object");
  std::string was, now;
  const std::string key = first_config_difference(stored, config_to_json(cfg), &was, &now);
  if (!key.empty())
    throw UserError("--resume: " + key + " is " + now + " but the checkpoint " + path + " was trained with " + was +
                        " (only train.steps, log_every, eval_every, checkpoint_every, threads, ranks, out_dir and the eval keys may change)",
                    2);

  const json& stored_steps = stored["train"]["steps"];
  const long long trained_for = stored_steps.is_number_integer() ? stored_steps.get<long long>() : -1;
  TrainState state = TrainState::from_metadata(f.metadata, trained_for, path);
  if (state.step > cfg.train.steps)
    throw UserError("--resume: train.steps is " + std::to_string(cfg.train.steps) + " but the checkpoint " + path +
                        " is at step " + std::to_string(state.step),
                    2);
  return state;
}

}  // namespace nl
