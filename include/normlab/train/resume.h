// train/resume.h — what `train --resume` reads from a checkpoint, checked before the run
// folder is touched.
//
// What it is: the config a checkpoint's __metadata__ carries, compared with the resumed
// run's, and the rule for which config keys may change between a run and its resume; the
// training state itself is TrainState's (train_state.h). A failed check is
// one line and nothing in the run folder changes: config.json, metrics.csv and result.json
// stay as they were.
// What it is not: the safetensors format (checkpoint.h) nor the training loop (trainer.h).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "normlab/config/config.h"
#include "normlab/data/task.h"
#include "normlab/train/checkpoint.h"
#include "normlab/train/train_state.h"

namespace nl {

// The config keys a resume may change: run length, logging, evaluation and checkpoint
// cadence, threads and the folder's name. Every other key must equal the checkpoint's,
// else the resumed run would not be the run that was started (configs/README.md, "Resume").
const std::vector<std::string>& resume_may_change();

// The first key path (in key order) at which two resolved configs differ, ignoring
// resume_may_change(); "" when they agree. A key missing from `stored` (a checkpoint
// written before the key existed) counts as its default value. Sets *a and *b to short
// renderings of the two values.
std::string first_config_difference(const nlohmann::json& stored, const nlohmann::json& now,
                                    std::string* stored_value, std::string* now_value);

// Check a checkpoint's metadata against the config of the resumed run and return its
// training state: the format, the stored config equal to `cfg` except for
// resume_may_change() (else UserError code 2 naming the key and both values), the state
// parsed strictly (TrainState::from_metadata), its step within 0..train.steps of both
// configs. `path` names the file in errors.
TrainState read_resume_point(const SafetensorsFile& file, const Config& cfg, const std::string& path);

}  // namespace nl
