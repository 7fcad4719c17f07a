// text_files.cpp — tasks read from files: text classification, a character LM, wordlang.
//
// What it is: the tasks whose examples come from files. Every error a user can cause
// (missing or empty file, a malformed line) is one UserError line naming the file and,
// for a bad line, its number.
// What it is not: a tokenizer. Characters only, no normalisation, no lower-casing.
//
// The tasks:
//  - text_classify: task.path is a TSV (`text<TAB>label`, one example a line, split at the
//    last tab, no header) or a JSONL ({"text": "...", "label": "..."} a line; the label may
//    also be an integer), chosen by the extension (.tsv/.txt or .jsonl/.json). Blank lines
//    are skipped. Tokens are characters (UTF-8 code points): id 0 = PAD, id 1 = UNK (a
//    character never seen in the training split), ids 2.. the training split's characters in
//    sorted (code point) order. Class ids are the training file's labels in sorted (byte)
//    order. Head classify.
//    Evaluation: task.eval_path if set, else a held-out part of the training file (every
//    10th line: line index % 10 == 9, or the last line of a file of fewer than 10); the
//    vocabulary is built on the training split only, never on held-out text. Each
//    task.eval_lengths range is one evaluation split: the evaluation texts of that length.
//    Training uses the texts whose length lies in task.train_lengths.
//    task.train_size / task.eval_size cap the number of examples: when there are more, a
//    subset drawn from the seed is kept, in file order.
//  - char_lm: task.path is plain text. The first 90% of its characters are for training
//    (or all of it when task.eval_path is set), the rest for evaluation. Each is cut, from
//    its start, into consecutive sequences whose lengths are drawn from the range (the last one
//    shortened to fit), at most train_size / eval_size of them; labels are
//    the next characters (the text shifted by one). Head lm; classes = vocab.
//  - wordlang: text_classify on data/wordlang/{train,test}.tsv (scripts/wordlists.sh):
//    which language (de, en, es, fr, it) a word comes from. Chance 1/5 (balanced).
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "normlab/core/error.h"
#include "normlab/core/files.h"
#include "normlab/core/json_io.h"
#include "task_parts.h"

namespace nl::data {

// The whole file: a regular file only (a FIFO or /dev/zero is refused at once), at most
// kMaxDataFileBytes, without a UTF-8 byte-order mark, valid UTF-8 (files.h).
static std::string read_file(const std::string& path, const std::string& key) {
  std::string text = read_regular_file(path, key + ": '" + path + "'", "data file", kMaxDataFileBytes, 1);
  strip_utf8_bom(text);
  require_utf8_text(text, path, 1);  // "data/x.tsv:3: invalid UTF-8: byte 0x82 at offset 57 ..."
  return text;
}

static bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// --- text_classify --------------------------------------------------------------------
struct Row {
  std::vector<std::string> chars;
  std::string label;
  int line = 0;
};

static std::vector<Row> read_rows(const std::string& path, const std::string& key) {
  bool jsonl = ends_with(path, ".jsonl") || ends_with(path, ".json");
  bool tsv = ends_with(path, ".tsv") || ends_with(path, ".txt");
  if (!jsonl && !tsv)
    throw UserError(key + ": '" + path + "' has an unknown extension (use .tsv or .jsonl)");
  std::string all = read_file(path, key);
  std::vector<Row> rows;
  std::istringstream in(all);
  std::string line;
  for (int no = 1; std::getline(in, line); ++no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(no) + ": ";
    Row r;
    r.line = no;
    std::string text;
    if (tsv) {
      size_t tab = line.rfind('\t');
      if (tab == std::string::npos) throw UserError(where + "no tab between text and label");
      text = line.substr(0, tab);
      r.label = line.substr(tab + 1);
    } else {
      // Depth-checked, every parser error one line naming file and line (json_io.h).
      JsonReadOptions jopt;
      jopt.code = 1;
      nlohmann::json j = parse_json(line, path + ":" + std::to_string(no), jopt);
      if (!j.is_object()) throw UserError(where + "expected an object {\"text\": ..., \"label\": ...}");
      if (!j.contains("text") || !j["text"].is_string())
        throw UserError(where + "\"text\" is missing or not a string");
      if (!j.contains("label") || !(j["label"].is_string() || j["label"].is_number_integer()))
        throw UserError(where + "\"label\" is missing or not a string or integer");
      text = j["text"].get<std::string>();
      r.label = j["label"].is_string() ? j["label"].get<std::string>() : j["label"].dump();
    }
    if (text.empty()) throw UserError(where + "empty text");
    if (r.label.empty()) throw UserError(where + "empty label");
    r.chars = utf8_chars(text);
    rows.push_back(std::move(r));
  }
  if (rows.empty()) throw UserError(key + ": '" + path + "' has no examples");
  return rows;
}

// Characters -> ids: 0 PAD, 1 UNK, then the given characters in sorted order.
struct CharVocab {
  std::map<std::string, int> id;
  std::vector<std::string> names{"<pad>", "<unk>"};
  explicit CharVocab(const std::set<std::string>& chars) {
    for (const std::string& c : chars) {
      id[c] = (int)names.size();
      names.push_back(c);
    }
  }
  int operator()(const std::string& c) const {
    auto it = id.find(c);
    return it == id.end() ? 1 : it->second;
  }
};

std::vector<int> capped(std::vector<int> idx, int n, Rng rng) {
  if ((int)idx.size() <= n) return idx;
  shuffle(idx, rng);
  idx.resize(n);
  std::sort(idx.begin(), idx.end());
  return idx;
}

static std::string range_str(const LengthRange& r) {
  return "[" + std::to_string(r.min) + ", " + std::to_string(r.max) + "]";
}

TaskData make_text_classify(const TaskConfig& cfg, uint64_t seed, const std::string& task_name) {
  if (cfg.path.empty()) throw UserError("task.path: " + task_name + " needs a training file (.tsv or .jsonl)", 2);
  if (cfg.train_size < 1) throw UserError("task.train_size: must be >= 1", 2);
  if (cfg.eval_size < 1) throw UserError("task.eval_size: must be >= 1", 2);
  std::vector<Row> file_rows = read_rows(cfg.path, "task.path");
  std::vector<Row> train_rows, eval_rows;
  if (!cfg.eval_path.empty()) {
    train_rows = file_rows;
    eval_rows = read_rows(cfg.eval_path, "task.eval_path");
  } else {
    if (file_rows.size() < 2)
      throw UserError("task.path: '" + cfg.path + "' has one example; hold-out needs 2 or more (or set task.eval_path)");
    const size_t n = file_rows.size();
    for (size_t i = 0; i < n; ++i) {
      bool held_out = (n >= 10) ? (i % 10 == 9) : (i == n - 1);
      (held_out ? eval_rows : train_rows).push_back(file_rows[i]);
    }
  }

  std::set<std::string> label_set, char_set;
  for (const Row& r : file_rows) label_set.insert(r.label);
  for (const Row& r : train_rows) char_set.insert(r.chars.begin(), r.chars.end());
  std::map<std::string, int> class_id;
  TaskData td;
  td.task = task_name;
  td.head = "classify";
  for (const std::string& l : label_set) {
    class_id[l] = (int)td.class_names.size();
    td.class_names.push_back(l);
  }
  td.n_classes = (int)td.class_names.size();
  // One class would train to "accuracy 1.0" and teach nothing.
  if (td.n_classes < 2)
    throw UserError("task.path: '" + cfg.path + "' has only one class ('" + printable(td.class_names[0]) +
                    "'); a classifier needs at least 2 labels");
  CharVocab vocab(char_set);
  td.vocab = (int)vocab.names.size();
  td.token_names = vocab.names;

  auto to_example = [&](const Row& r, const std::string& path) {
    Example e;
    for (const std::string& c : r.chars) e.tokens.push_back(vocab(c));
    auto it = class_id.find(r.label);
    if (it == class_id.end())
      throw UserError(path + ":" + std::to_string(r.line) + ": label '" + r.label +
                      "' is not among the training file's labels");
    e.labels = {it->second};
    return e;
  };
  auto in_range = [](const Row& r, const LengthRange& lr) {
    return (int)r.chars.size() >= lr.min && (int)r.chars.size() <= lr.max;
  };
  const std::string eval_file = cfg.eval_path.empty() ? cfg.path : cfg.eval_path;

  std::vector<int> idx;
  for (int i = 0; i < (int)train_rows.size(); ++i)
    if (in_range(train_rows[i], cfg.train_lengths)) idx.push_back(i);
  if (idx.empty())
    throw UserError("task.train_lengths: no training text in '" + cfg.path + "' has a length in " +
                    range_str(cfg.train_lengths), 2);
  for (int i : capped(idx, cfg.train_size, split_rng(seed, task_name, "train")))
    td.train.examples.push_back(to_example(train_rows[i], cfg.path));

  for (size_t s = 0; s < cfg.eval_lengths.size(); ++s) {
    const LengthRange& lr = cfg.eval_lengths[s];
    EvalSplit es;
    es.name = split_name(lr);
    es.lengths = lr;
    es.seen_in_training = range_inside(lr, cfg.train_lengths);
    idx.clear();
    for (int i = 0; i < (int)eval_rows.size(); ++i)
      if (in_range(eval_rows[i], lr)) idx.push_back(i);
    if (idx.empty())
      throw UserError("task.eval_lengths[" + std::to_string(s) + "]: no evaluation text in '" + eval_file +
                      "' has a length in " + range_str(lr), 2);
    for (int i : capped(idx, cfg.eval_size, split_rng(seed, task_name, "eval/" + es.name)))
      es.data.examples.push_back(to_example(eval_rows[i], eval_file));
    td.evals.push_back(std::move(es));
  }
  return td;
}

// --- wordlang -----------------------------------------------------------------------
// stat, not open: opening a FIFO to see whether it exists would wait for a writer.
bool file_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

std::string resolve_data_path(const std::string& p) {
  if (p.empty() || p[0] == '/' || file_exists(p)) return p;
  std::string shipped = shipped_file(p);
  return shipped.empty() ? p : shipped;
}

TaskData make_wordlang(const TaskConfig& cfg, uint64_t seed) {
  TaskConfig c = cfg;
  c.path = resolve_data_path(cfg.path.empty() ? "data/wordlang/train.tsv" : cfg.path);
  if (!cfg.eval_path.empty()) {
    c.eval_path = resolve_data_path(cfg.eval_path);
  } else {  // test.tsv beside the training file, if there is one
    size_t slash = c.path.rfind('/');
    std::string test = (slash == std::string::npos ? "" : c.path.substr(0, slash + 1)) + "test.tsv";
    if (test != c.path && file_exists(test)) c.eval_path = test;
  }
  return make_text_classify(c, seed, "wordlang");
}

// --- char_lm ---------------------------------------------------------------------------
static std::vector<std::string> read_text_chars(const std::string& path, const std::string& key) {
  std::vector<std::string> chars = utf8_chars(read_file(path, key));
  if (chars.empty()) throw UserError(key + ": '" + path + "' is empty");
  return chars;
}

// Consecutive windows of lengths drawn from r, from the start of `text`, at most `cap`.
// A window that would run past the end is shortened to fit if it can stay >= r.min.
static Dataset cut_lm(const std::vector<int>& text, const LengthRange& r, int cap, Rng rng) {
  Dataset d;
  size_t p = 0;
  while ((int)d.examples.size() < cap && p + r.min + 1 <= text.size()) {
    size_t L = (size_t)rng.randint(r.min, r.max);
    if (p + L + 1 > text.size()) L = text.size() - p - 1;  // still >= r.min
    Example e;
    e.tokens.assign(text.begin() + p, text.begin() + p + L);
    e.labels.assign(text.begin() + p + 1, text.begin() + p + L + 1);
    d.examples.push_back(std::move(e));
    p += L;
  }
  return d;
}

TaskData make_char_lm(const TaskConfig& cfg, uint64_t seed) {
  if (cfg.path.empty()) throw UserError("task.path: char_lm needs a plain text file", 2);
  if (cfg.train_size < 1) throw UserError("task.train_size: must be >= 1", 2);
  if (cfg.eval_size < 1) throw UserError("task.eval_size: must be >= 1", 2);
  std::vector<std::string> train_chars = read_text_chars(cfg.path, "task.path"), eval_chars;
  if (!cfg.eval_path.empty()) {
    eval_chars = read_text_chars(cfg.eval_path, "task.eval_path");
  } else {
    size_t cut = train_chars.size() * 9 / 10;
    eval_chars.assign(train_chars.begin() + cut, train_chars.end());
    train_chars.resize(cut);
  }
  CharVocab vocab(std::set<std::string>(train_chars.begin(), train_chars.end()));
  TaskData td;
  td.task = "char_lm";
  td.head = "lm";
  td.vocab = (int)vocab.names.size();
  td.n_classes = td.vocab;
  td.token_names = vocab.names;
  td.class_names = vocab.names;
  std::vector<int> train_ids, eval_ids;
  for (const std::string& c : train_chars) train_ids.push_back(vocab(c));
  for (const std::string& c : eval_chars) eval_ids.push_back(vocab(c));

  td.train = cut_lm(train_ids, cfg.train_lengths, cfg.train_size, split_rng(seed, "char_lm", "train"));
  if (td.train.examples.empty())
    throw UserError("task.train_lengths: the training text of '" + cfg.path + "' (" +
                    std::to_string(train_ids.size()) + " characters) is too short for one sequence of length " +
                    range_str(cfg.train_lengths) + " plus its next character", 2);
  for (size_t s = 0; s < cfg.eval_lengths.size(); ++s) {
    const LengthRange& lr = cfg.eval_lengths[s];
    EvalSplit es;
    es.name = split_name(lr);
    es.lengths = lr;
    es.seen_in_training = range_inside(lr, cfg.train_lengths);
    es.data = cut_lm(eval_ids, lr, cfg.eval_size, split_rng(seed, "char_lm", "eval/" + es.name));
    if (es.data.examples.empty())
      throw UserError("task.eval_lengths[" + std::to_string(s) + "]: the evaluation text (" +
                      std::to_string(eval_ids.size()) + " characters) is too short for one sequence of length " +
                      range_str(lr) + " plus its next character", 2);
    td.evals.push_back(std::move(es));
  }
  return td;
}

}  // namespace nl::data
