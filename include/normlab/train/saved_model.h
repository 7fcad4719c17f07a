// train/saved_model.h — a checkpoint as a model you can run: weights + config + vocabulary.
//
// What it is: the "model card" part of a training checkpoint's __metadata__ (written by
// the trainer beside the resume state) and the reader behind `normlab eval`, `predict`
// and `generate`: with it a checkpoint alone is enough to rebuild the model and to turn
// text into ids and ids back into labels. Metadata keys (all strings, as safetensors wants):
//   config    the resolved config (JSON)           head     classify | tag | lm
//   task      the task name (task.name)            tokens   "symbols" | "characters"
//   vocab     JSON array, id -> token string       prefix   JSON array of token strings put
//   classes   JSON array, class id -> name                  before every input ([] or ["<bos>"])
// Checkpoints written before these keys existed still load; what needs a missing key
// says which one (`missing_card()`).
// What it is not: the safetensors format (train/checkpoint.h), nor the resume state
// (step, RNG, data position: trainer.cpp).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "normlab/config/config.h"
#include "normlab/data/task.h"
#include "normlab/data/tokenizer.h"
#include "normlab/nn/encoder.h"
#include "normlab/train/checkpoint.h"

namespace nl {

// The model-card metadata of a task (the keys above except config).
std::map<std::string, std::string> model_card_metadata(const TaskData& task);

struct SavedModel {
  std::string path;
  SafetensorsFile file;
  nlohmann::json config;           // the stored config; null when the checkpoint has none
  // The model card; empty when the checkpoint predates it (see missing_card()).
  std::string head, task;
  Tokenizer tokenizer;             // vocab empty when missing
  std::vector<std::string> classes;
  std::vector<std::string> missing;  // model-card keys the checkpoint lacks
};

// Read and check a checkpoint (UserError naming the file for a bad or malformed key).
SavedModel read_saved_model(const std::string& path);

// UserError (code 1) for `command` when the model card is incomplete, naming what is
// missing: "predict: checkpoint X has no vocab, classes (written before ...)".
void require_model_card(const SavedModel& m, const std::string& command);

// The stored config, with --set overrides applied and validated (UserError code 2 naming
// the key); UserError code 1 when the checkpoint has no stored config.
Config saved_config(const SavedModel& m, const std::vector<std::string>& overrides);

// The model of the checkpoint, built from `cfg.model` and the model card (head, vocabulary
// size, classes), with its parameters and buffers copied from the file, in eval mode.
std::unique_ptr<Encoder> load_model(const SavedModel& m, const Config& cfg);
// Copy the checkpoint's parameters and buffers into `model` by name (UserError naming a
// missing tensor or a shape that differs), then eval mode.
void copy_weights(const SavedModel& m, Encoder& model);

// A model from a checkpoint, ready to run: what eval, predict and generate share.
struct CheckpointModel {
  SavedModel saved;
  Config cfg;                      // the config the model runs with
  TaskData task;                   // with_task only: the config's task (eval's splits)
  std::unique_ptr<Encoder> model;  // weights and buffers from the file, eval mode
};
// The model of `saved` run under `cfg` (a CONFIG given to the command, or saved_config),
// for `command` (named in errors). cfg's model section must be the stored one
// (check_same_model). with_task: the run of cfg (train/run.h: threads, task, model), whose
// task must have the checkpoint's vocabulary and classes (check_same_task), gets the
// weights; otherwise the model card is required and gives the sizes (load_model).
CheckpointModel load_checkpoint_model(SavedModel saved, Config cfg, const std::string& command, bool with_task);

// Check that `given` (config_to_json of the config a command will use) has the same model
// section as the checkpoint's stored config. UserError code 2 naming the first key that
// differs: "eval: model.norm.type is "rmsnorm" in CONFIG but "layernorm" in checkpoint X".
void check_same_model(const SavedModel& m, const nlohmann::json& given, const std::string& command);

// Check that a task built from a config has the checkpoint's vocabulary and classes
// (when the checkpoint stores them): else the ids would mean other tokens. UserError code 2.
void check_same_task(const SavedModel& m, const TaskData& task, const std::string& command);

}  // namespace nl
