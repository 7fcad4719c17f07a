// saved_model.cpp — a checkpoint's model card (vocabulary, classes, head) and the model
// rebuilt from it (see train/saved_model.h for the metadata keys).
//
// What it is: the writer of the model-card metadata, the reader that checks it, and the
// few steps every command that applies a checkpoint shares (load_checkpoint_model):
// config checked against the stored one -> Encoder (from the run or the model card) ->
// weights copied by name -> eval mode.
// What it is not: the safetensors reader (checkpoint.cpp) nor the resume state (trainer.cpp).
#include "normlab/train/saved_model.h"

#include "normlab/core/error.h"
#include "normlab/nn/norm.h"
#include "normlab/core/runtime.h"
#include "normlab/train/resume.h"
#include "normlab/train/run.h"

namespace nl {

using nlohmann::json;

namespace {

const char* const kCardKeys[] = {"head", "task", "tokens", "vocab", "classes", "prefix"};

std::vector<std::string> string_array(const SavedModel& m, const std::string& key) {
  const std::string& text = m.file.metadata.at(key);
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) throw UserError("checkpoint " + m.path + ": __metadata__." + key + " is not a JSON array");
  std::vector<std::string> out;
  for (const json& v : j) {
    if (!v.is_string()) throw UserError("checkpoint " + m.path + ": __metadata__." + key + " holds a non-string");
    out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace

std::map<std::string, std::string> model_card_metadata(const TaskData& task) {
  const Tokenizer tok = Tokenizer::of_task(task);
  json prefix = json::array();
  for (int id : tok.prefix) prefix.push_back(tok.vocab[id]);
  return {{"head", task.head},
          {"task", task.task},
          {"tokens", tok.characters ? "characters" : "symbols"},
          {"vocab", json(task.token_names).dump()},
          {"classes", json(task.class_names).dump()},
          {"prefix", prefix.dump()}};
}

SavedModel read_saved_model(const std::string& path) {
  SavedModel m;
  m.path = path;
  m.file = load_safetensors(path);
  const auto& meta = m.file.metadata;
  if (meta.count("config")) {
    m.config = json::parse(meta.at("config"), nullptr, /*allow_exceptions=*/false);
    if (!m.config.is_object()) throw UserError("checkpoint " + path + ": __metadata__.config is not a JSON object");
  }
  for (const char* k : kCardKeys)
    if (!meta.count(k)) m.missing.push_back(k);
  if (meta.count("head")) m.head = meta.at("head");
  if (meta.count("task")) m.task = meta.at("task");
  if (meta.count("tokens")) {
    const std::string& t = meta.at("tokens");
    if (t != "symbols" && t != "characters")
      throw UserError("checkpoint " + path + ": __metadata__.tokens is '" + t + "', not symbols or characters");
    m.tokenizer.characters = t == "characters";
  }
  if (meta.count("vocab")) m.tokenizer.vocab = string_array(m, "vocab");
  if (meta.count("classes")) m.classes = string_array(m, "classes");
  if (meta.count("prefix")) {
    for (const std::string& name : string_array(m, "prefix")) {
      int id = -1;
      for (size_t i = 0; i < m.tokenizer.vocab.size(); ++i)
        if (m.tokenizer.vocab[i] == name) id = (int)i;
      if (id < 0) throw UserError("checkpoint " + path + ": __metadata__.prefix names '" + name + "', not in the vocab");
      m.tokenizer.prefix.push_back(id);
    }
  }
  if (!m.head.empty() && m.head != "classify" && m.head != "tag" && m.head != "lm")
    throw UserError("checkpoint " + path + ": __metadata__.head is '" + m.head + "', not classify, tag or lm");
  return m;
}

void require_model_card(const SavedModel& m, const std::string& command) {
  if (m.missing.empty()) return;
  std::string what;
  for (const std::string& k : m.missing) what += (what.empty() ? "" : ", ") + k;
  throw UserError(command + ": checkpoint " + m.path + " has no " + what +
                  " in its metadata (written before checkpoints stored them; `normlab eval CONFIG --checkpoint` "
                  "still works, or retrain to get a self-contained checkpoint)");
}

Config saved_config(const SavedModel& m, const std::vector<std::string>& overrides) {
  if (m.config.is_null())
    throw UserError("checkpoint " + m.path + " stores no config: pass the CONFIG it was trained with");
  json j = m.config;
  apply_overrides(j, overrides);
  return config_from_json(j, m.path + " (stored config)");
}

std::unique_ptr<Encoder> load_model(const SavedModel& m, const Config& cfg) {
  const int V = (int)m.tokenizer.vocab.size();
  const int C = (int)m.classes.size();
  auto model = std::make_unique<Encoder>(cfg.model, m.head, V, C, cfg.train.seed, exec_options(cfg.train));
  copy_weights(m, *model);
  return model;
}

void copy_weights(const SavedModel& m, Encoder& model) {
  std::vector<NamedTensor> tensors = model.named_parameters();
  for (const NamedTensor& b : model.named_buffers()) tensors.push_back(b);
  copy_into(m.file, tensors, m.path);
  model.set_training(false);  // no dropout, BatchNorm running statistics
}

CheckpointModel load_checkpoint_model(SavedModel saved, Config cfg, const std::string& command, bool with_task) {
  // The model must be the one the checkpoint holds, key by key: copying the weights
  // into another norm or placement would "work" and compute a meaningless number.
  check_same_model(saved, config_to_json(cfg), command);
  CheckpointModel c;
  if (with_task) {
    Run run = make_run(cfg);
    check_same_task(saved, run.task, command);
    c.task = std::move(run.task);
    c.model = std::move(run.model);
    copy_weights(saved, *c.model);
  } else {
    require_model_card(saved, command);
    set_num_threads(cfg.train.threads);
    c.model = load_model(saved, cfg);
  }
  c.saved = std::move(saved);
  c.cfg = std::move(cfg);
  return c;
}

// A config's model section with its defaults resolved: every key (a missing one is its
// default) and model.norm.eps < 0 (the type's default) as the eps the norm type uses, so a
// stored -1 and `--set model.norm.eps=1e-5` on a LayerNorm model are the same model. A
// config this build cannot read is compared as written.
static json resolved_model(const json& config, const std::string& source) {
  try {
    Config c = config_from_json(config, source);
    if (c.model.norm.eps < 0) {
      NormConfig lone = c.model.norm;
      lone.sync = false;  // asked of a lone layer: no ranks to sync with
      const float eps = make_norm(lone, c.model.d_model)->eps();
      if (eps > 0) c.model.norm.eps = eps;
    }
    return config_to_json(c).at("model");
  } catch (const UserError&) {
    return config.value("model", json::object());
  }
}

void check_same_model(const SavedModel& m, const json& given, const std::string& command) {
  if (m.config.is_null()) return;  // nothing stored to compare against
  // The model sections only (task, optimizer and run keys may differ for evaluation);
  // a key the stored config lacks counts as its default (train/resume.h). An eps that
  // differs is compared again as the values the norms use (-1: the type's own).
  std::string was, now;
  std::string key = first_config_difference(json{{"model", m.config.value("model", json::object())}},
                                            json{{"model", given.at("model")}}, &was, &now);
  if (key == "model.norm.eps")
    key = first_config_difference(json{{"model", resolved_model(m.config, m.path + " (stored config)")}},
                                  json{{"model", resolved_model(given, "the config")}}, &was, &now);
  if (key.empty()) return;
  throw UserError(command + ": " + key + " is " + now + " in the config but " + was + " in checkpoint " + m.path +
                      " (evaluate with the config it was trained with, or leave CONFIG out to use the stored one)",
                  2);
}

void check_same_task(const SavedModel& m, const TaskData& task, const std::string& command) {
  auto check = [&](const char* what, const std::vector<std::string>& saved, const std::vector<std::string>& now) {
    if (saved.empty() || saved == now) return;
    throw UserError(command + ": the task's " + what + " (" + std::to_string(now.size()) + " entries) is not checkpoint " +
                        m.path + "'s (" + std::to_string(saved.size()) +
                        "), so ids would mean other tokens (task.name, task.symbols or the data files differ from training)",
                    2);
  };
  check("vocabulary", m.tokenizer.vocab, task.token_names);
  check("classes", m.classes, task.class_names);
}

}  // namespace nl
