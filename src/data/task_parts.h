// task_parts.h — what the files of src/data share (private to src/data, not installed).
//
// What it is: the builders behind make_task (generated tasks in generated.cpp, file
// tasks in text_files.cpp) and small helpers they all use: length-range checks, split
// names, per-split random streams, UTF-8 splitting.
// What it is not: an interface for other layers; they use normlab/data/task.h.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "normlab/data/task.h"

namespace nl::data {

// Generated tasks (generated.cpp): majority, histogram, sort, reverse, parity, dyck.
bool is_generated_task(const std::string& name);
TaskData make_generated_task(const TaskConfig& cfg, uint64_t seed);
int generated_prefix_tokens(const std::string& name);  // 1 if its examples start with <bos>
extern const char* const kGeneratedTasks[6];

// File tasks (text_files.cpp).
TaskData make_text_classify(const TaskConfig& cfg, uint64_t seed, const std::string& task_name);
TaskData make_char_lm(const TaskConfig& cfg, uint64_t seed);
TaskData make_wordlang(const TaskConfig& cfg, uint64_t seed);

// Brown corpus tasks (brown_tasks.cpp; the converter is brown.cpp, see normlab/data/brown.h).
bool is_brown_task(const std::string& name);

// Indices of `n` of the candidates, drawn from rng, in their original order (all if fewer).
std::vector<int> capped(std::vector<int> idx, int n, Rng rng);
// stat, not open: opening a FIFO to see whether it exists would wait for a writer.
bool file_exists(const std::string& p);
// A relative path that does not exist from here is looked up where normlab's own files are
// (installed share/normlab, else the source tree: files.h), so a data set under data/ is
// found from the build folder (tests run there) and by an installed binary too.
std::string resolve_data_path(const std::string& p);

// "len_4_16"
std::string split_name(const LengthRange& r);
// inner lies inside outer (so an eval split of that range has lengths seen in training).
bool range_inside(const LengthRange& inner, const LengthRange& outer);
// UserError "task.train_lengths: ..." unless 1 <= min <= max.
void check_range(const std::string& key, const LengthRange& r);
// Check train_lengths and every eval_lengths entry.
void check_ranges(const TaskConfig& cfg);
// An independent random stream per (task, purpose): the training set and each evaluation
// range draw from their own stream, so changing train_size leaves the evaluation sets alone.
Rng split_rng(uint64_t seed, const std::string& task, const std::string& purpose);
// A UTF-8 string cut into characters (code points, each 1-4 bytes). A byte that does not
// start a valid sequence is one character on its own, so nothing is ever lost.
std::vector<std::string> utf8_chars(const std::string& s);
// Fisher–Yates shuffle driven by rng (the same on every platform, unlike std::shuffle).
void shuffle(std::vector<int>& v, Rng& rng);
// Tasks whose tokens are characters of a text (exported without spaces between tokens).
bool is_text_task(const std::string& name);

}  // namespace nl::data
