// task.cpp — make_task: from a task name to a TaskData, plus the helpers every task shares.
//
// What it is: the dispatch from `task.name` to a builder (generated.cpp for the tasks made
// from the seed, text_files.cpp for those read from files), length-range checks, split
// names and the per-split random streams.
// What it is not: any task's definition; those live beside their generators.
#include <stdexcept>
#include <utility>

#include "normlab/data/brown.h"
#include "normlab/core/error.h"
#include "normlab/core/names.h"
#include "task_parts.h"

namespace nl {
namespace data {

std::string split_name(const LengthRange& r) {
  return "len_" + std::to_string(r.min) + "_" + std::to_string(r.max);
}

bool range_inside(const LengthRange& inner, const LengthRange& outer) {
  return inner.min >= outer.min && inner.max <= outer.max;
}

void check_range(const std::string& key, const LengthRange& r) {
  if (r.min < 1 || r.max < r.min)
    throw UserError(key + ": length range [" + std::to_string(r.min) + ", " +
                        std::to_string(r.max) + "] is not allowed (need 1 <= min <= max)",
                    2);
}

void check_ranges(const TaskConfig& cfg) {
  check_range("task.train_lengths", cfg.train_lengths);
  for (size_t i = 0; i < cfg.eval_lengths.size(); ++i)
    check_range("task.eval_lengths[" + std::to_string(i) + "]", cfg.eval_lengths[i]);
}

// FNV-1a: a stable hash of a name, so a stream's tag does not depend on std::hash.
static uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

Rng split_rng(uint64_t seed, const std::string& task, const std::string& purpose) {
  return Rng::derive(seed, fnv1a(task + "/" + purpose));
}

std::vector<std::string> utf8_chars(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = (unsigned char)s[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = ((unsigned char)s[i + k] >> 6) == 0x2;
    if (!ok) n = 1;  // a stray byte: a character of its own
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

void shuffle(std::vector<int>& v, Rng& rng) {
  for (int i = (int)v.size() - 1; i > 0; --i) std::swap(v[i], v[rng.randint(0, i)]);
}

bool is_text_task(const std::string& name) {
  return name == "text_classify" || name == "char_lm" || name == "wordlang";
}

}  // namespace data

std::vector<std::string> task_names() {
  std::vector<std::string> names(std::begin(data::kGeneratedTasks), std::end(data::kGeneratedTasks));
  names.insert(names.end(), {"text_classify", "char_lm", "wordlang", "brown_pos", "brown_genre", "brown_lm"});
  return names;
}

int task_prefix_tokens(const std::string& task) { return data::generated_prefix_tokens(task); }

// What config validation (src/config/, below data/) needs to know of tasks, through
// normlab/core/names.h: every name, those that start with <bos> (max_len must cover it), those
// that read task.path (it must be given), and those made of text or words (memory estimate).
namespace {
std::vector<std::string> tasks_with_bos() {
  std::vector<std::string> v;
  for (const std::string& n : task_names())
    if (task_prefix_tokens(n) > 0) v.push_back(n);
  return v;
}
std::vector<std::string> tasks_needing_path() { return {"text_classify", "char_lm"}; }
std::vector<std::string> text_tasks() {
  std::vector<std::string> v;
  for (const std::string& n : task_names())
    if (data::is_text_task(n)) v.push_back(n);
  return v;
}
const NamesRegistrar task_names_registrar("task", task_names);
const NamesRegistrar task_bos_registrar("task.bos", tasks_with_bos);
const NamesRegistrar task_path_registrar("task.needs_path", tasks_needing_path);
const NamesRegistrar task_text_registrar("task.text", text_tasks);
std::vector<std::string> word_tasks() { return {"brown_pos", "brown_genre", "brown_lm"}; }
const NamesRegistrar task_words_registrar("task.words", word_tasks);
}  // namespace

TaskData make_task(const TaskConfig& cfg, uint64_t seed) {
  data::check_ranges(cfg);
  if (cfg.eval_lengths.empty())
    throw UserError("task.eval_lengths: need at least one evaluation length range", 2);
  if (data::is_generated_task(cfg.name)) return data::make_generated_task(cfg, seed);
  if (cfg.name == "text_classify") return data::make_text_classify(cfg, seed, "text_classify");
  if (cfg.name == "char_lm") return data::make_char_lm(cfg, seed);
  if (cfg.name == "wordlang") return data::make_wordlang(cfg, seed);
  if (cfg.name == "brown_pos") return brown::make_pos(cfg, seed);
  if (cfg.name == "brown_genre") return brown::make_genre(cfg, seed);
  if (cfg.name == "brown_lm") return brown::make_lm(cfg, seed);
  std::string all;
  for (const std::string& n : task_names()) all += (all.empty() ? "" : ", ") + n;
  throw UserError("task.name: '" + cfg.name + "' is not one of " + all, 2);
}

}  // namespace nl
