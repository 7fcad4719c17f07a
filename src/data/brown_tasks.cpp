// brown_tasks.cpp — the three Brown corpus tasks: brown_pos, brown_genre, brown_lm.
//
// What it is: builders that read the folder `normlab data brown` writes (task.path, default
// data/brown; data/brown.h) and make a TaskData. Tokens are words (the corpus's own tokens,
// case kept): id 0 = PAD, 1 = <unk>, (brown_lm: 2 = <eos>), then every word that occurs at
// least task.min_count times in the training examples, in byte order. The vocabulary is
// built from the training examples only (the training documents' sentences whose length lies
// in task.train_lengths, after the task.train_size cap), so no test word is ever in it.
// Length = words in the sentence. Training uses the training documents' sentences with
// length in task.train_lengths; each task.eval_lengths range is one evaluation split of the
// test documents' sentences of that length. train_size / eval_size cap the counts (a subset
// drawn from the seed, kept in file order), as for text_classify.
//   brown_pos    head tag: one tag per word. task.labels "universal" (default: the 12 tags of
//                Petrov et al. 2012) or "brown" (the Brown tags less -hl/-tl/-nc: the sorted
//                set of tags in the training and test files).
//   brown_genre  head classify: the genre of the sentence's document. task.labels "genre"
//                (default: 15 classes, news ... humor) or "coarse" (4: press A-C, general
//                prose D-G, learned and official H-J, fiction K-R).
//   brown_lm     head lm (causal): predict the next word; the last word predicts <eos>.
// What it is not: the converter (brown.cpp), nor a reader of the raw corpus.
#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "normlab/data/brown.h"
#include "normlab/core/error.h"
#include "normlab/core/files.h"
#include "task_parts.h"

namespace nl::brown {

namespace {

struct Line {
  std::vector<std::string> words, labels;
  int no = 0;
};

struct Corpus {
  std::string train_path, test_path;
  std::vector<Line> train, test;
};

std::vector<std::string> split_spaces(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// The folder of the converted corpus, or one line saying which command makes it.
std::string data_dir(const TaskConfig& cfg) {
  const std::string given = cfg.path.empty() ? "data/brown" : cfg.path;
  const std::string dir = data::resolve_data_path(given);
  if (!data::file_exists(dir + "/docs.tsv"))
    throw UserError("task.path: '" + given + "' has no converted Brown corpus (no docs.tsv): make it with `scripts/corpora.sh brown`");
  return dir;
}

// words<TAB>labels, a line per sentence; tagged: one label per word.
std::vector<Line> read_lines(const std::string& path, bool tagged) {
  std::string text = read_regular_file(path, "task.path: '" + path + "'", "data file", kMaxDataFileBytes, 1);
  std::istringstream in(text);
  std::vector<Line> lines;
  std::string s;
  for (int no = 1; std::getline(in, s); ++no) {
    if (s.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(no) + ": ";
    const size_t tab = s.find('\t');
    if (tab == std::string::npos) throw UserError(where + "no tab between words and label");
    Line l;
    l.no = no;
    l.words = split_spaces(s.substr(0, tab));
    l.labels = split_spaces(s.substr(tab + 1));
    if (l.words.empty()) throw UserError(where + "no words");
    if (tagged ? l.labels.size() != l.words.size() : l.labels.size() != 1)
      throw UserError(where + std::to_string(l.labels.size()) + " labels for " + std::to_string(l.words.size()) +
                      " words (expected " + (tagged ? "one per word)" : "one)"));
    lines.push_back(std::move(l));
  }
  if (lines.empty()) throw UserError(path + ": no sentences (an empty split)");
  return lines;
}

Corpus read_corpus(const TaskConfig& cfg, const std::string& sub, bool tagged) {
  Corpus c;
  const std::string dir = data_dir(cfg) + "/" + sub + "/";
  c.train_path = dir + "train.tsv";
  c.test_path = dir + "test.tsv";
  c.train = read_lines(c.train_path, tagged);
  c.test = read_lines(c.test_path, tagged);
  return c;
}

std::string range_str(const LengthRange& r) { return "[" + std::to_string(r.min) + ", " + std::to_string(r.max) + "]"; }

// Which lines train and which evaluate each range (indices, capped from the seed).
struct Selection {
  std::vector<int> train;
  std::vector<std::vector<int>> evals;
};

Selection select(const TaskConfig& cfg, uint64_t seed, const std::string& task, const Corpus& c) {
  if (cfg.train_size < 1) throw UserError("task.train_size: must be >= 1", 2);
  if (cfg.eval_size < 1) throw UserError("task.eval_size: must be >= 1", 2);
  auto in_range = [](const Line& l, const LengthRange& r) {
    return (int)l.words.size() >= r.min && (int)l.words.size() <= r.max;
  };
  Selection s;
  std::vector<int> idx;
  for (int i = 0; i < (int)c.train.size(); ++i)
    if (in_range(c.train[i], cfg.train_lengths)) idx.push_back(i);
  if (idx.empty())
    throw UserError("task.train_lengths: no sentence of '" + c.train_path + "' has a length in " + range_str(cfg.train_lengths), 2);
  s.train = data::capped(idx, cfg.train_size, data::split_rng(seed, task, "train"));
  for (size_t r = 0; r < cfg.eval_lengths.size(); ++r) {
    const LengthRange& lr = cfg.eval_lengths[r];
    idx.clear();
    for (int i = 0; i < (int)c.test.size(); ++i)
      if (in_range(c.test[i], lr)) idx.push_back(i);
    if (idx.empty())
      throw UserError("task.eval_lengths[" + std::to_string(r) + "]: no sentence of '" + c.test_path + "' has a length in " + range_str(lr), 2);
    s.evals.push_back(data::capped(idx, cfg.eval_size, data::split_rng(seed, task, "eval/" + data::split_name(lr))));
  }
  return s;
}

// Words of the chosen training lines seen >= min_count times, after the given specials.
struct WordVocab {
  std::map<std::string, int> id;
  std::vector<std::string> names;
  int operator()(const std::string& w) const {
    auto it = id.find(w);
    return it == id.end() ? 1 : it->second;  // <unk>
  }
};

WordVocab build_vocab(const Corpus& c, const std::vector<int>& train, int min_count, std::vector<std::string> specials) {
  std::map<std::string, int> count;
  for (int i : train)
    for (const std::string& w : c.train[i].words) ++count[w];
  WordVocab v;
  v.names = std::move(specials);
  for (const auto& [w, n] : count)
    if (n >= min_count) {
      v.id[w] = (int)v.names.size();
      v.names.push_back(w);
    }
  return v;
}

// The TaskData shell: vocabulary, classes, and the examples made by `make` from each line.
template <class MakeExample>
TaskData assemble(const TaskConfig& cfg, const std::string& task, const std::string& head, const Corpus& c,
                  const Selection& sel, const WordVocab& vocab, std::vector<std::string> classes, MakeExample make) {
  TaskData td;
  td.task = task;
  td.head = head;
  td.vocab = (int)vocab.names.size();
  td.token_names = vocab.names;
  td.class_names = std::move(classes);
  td.n_classes = (int)td.class_names.size();
  for (int i : sel.train) td.train.examples.push_back(make(c.train[i], c.train_path));
  for (size_t r = 0; r < sel.evals.size(); ++r) {
    EvalSplit es;
    es.lengths = cfg.eval_lengths[r];
    es.name = data::split_name(es.lengths);
    es.seen_in_training = data::range_inside(es.lengths, cfg.train_lengths);
    for (int i : sel.evals[r]) es.data.examples.push_back(make(c.test[i], c.test_path));
    td.evals.push_back(std::move(es));
  }
  return td;
}

std::vector<int> word_ids(const WordVocab& vocab, const Line& l) {
  std::vector<int> ids;
  for (const std::string& w : l.words) ids.push_back(vocab(w));
  return ids;
}

std::map<std::string, int> index_of(const std::vector<std::string>& names) {
  std::map<std::string, int> m;
  for (size_t i = 0; i < names.size(); ++i) m[names[i]] = (int)i;
  return m;
}

[[noreturn]] void bad_labels(const std::string& task, const std::string& value, const std::string& allowed) {
  throw UserError("task.labels: '" + value + "' is not a labelling of " + task + " (use " + allowed + ")", 2);
}

}  // namespace

TaskData make_pos(const TaskConfig& cfg, uint64_t seed) {
  if (!cfg.labels.empty() && cfg.labels != "universal" && cfg.labels != "brown")
    bad_labels("brown_pos", cfg.labels, "universal or brown");
  const bool full = cfg.labels == "brown";
  const Corpus c = read_corpus(cfg, full ? "pos_full" : "pos", true);
  const Selection sel = select(cfg, seed, "brown_pos", c);
  const WordVocab vocab = build_vocab(c, sel.train, cfg.min_count, {"<pad>", "<unk>"});
  std::vector<std::string> classes = universal_tags();
  if (full) {
    std::set<std::string> tags;
    for (const auto* lines : {&c.train, &c.test})
      for (const Line& l : *lines) tags.insert(l.labels.begin(), l.labels.end());
    classes.assign(tags.begin(), tags.end());
  }
  const std::map<std::string, int> class_id = index_of(classes);
  return assemble(cfg, "brown_pos", "tag", c, sel, vocab, classes, [&](const Line& l, const std::string& path) {
    Example e;
    e.tokens = word_ids(vocab, l);
    for (const std::string& t : l.labels) {
      auto it = class_id.find(t);
      if (it == class_id.end()) throw UserError(path + ":" + std::to_string(l.no) + ": tag '" + t + "' is not a universal tag");
      e.labels.push_back(it->second);
    }
    return e;
  });
}

TaskData make_genre(const TaskConfig& cfg, uint64_t seed) {
  if (!cfg.labels.empty() && cfg.labels != "genre" && cfg.labels != "coarse")
    bad_labels("brown_genre", cfg.labels, "genre or coarse");
  const bool coarse = cfg.labels == "coarse";
  const Corpus c = read_corpus(cfg, "genre", false);
  const Selection sel = select(cfg, seed, "brown_genre", c);
  const WordVocab vocab = build_vocab(c, sel.train, cfg.min_count, {"<pad>", "<unk>"});
  std::vector<std::string> classes;
  std::map<char, int> class_of_letter;
  for (const Genre& g : genres()) {
    const std::string name = coarse ? g.coarse : g.name;
    auto at = std::find(classes.begin(), classes.end(), name);
    if (at == classes.end()) at = classes.insert(classes.end(), name);
    class_of_letter[g.letter] = (int)(at - classes.begin());
  }
  return assemble(cfg, "brown_genre", "classify", c, sel, vocab, classes, [&](const Line& l, const std::string& path) {
    Example e;
    e.tokens = word_ids(vocab, l);
    auto it = l.labels[0].size() == 1 ? class_of_letter.find(l.labels[0][0]) : class_of_letter.end();
    if (it == class_of_letter.end())
      throw UserError(path + ":" + std::to_string(l.no) + ": genre '" + l.labels[0] + "' is not one of the 15 letters a..r");
    e.labels = {it->second};
    return e;
  });
}

TaskData make_lm(const TaskConfig& cfg, uint64_t seed) {
  if (!cfg.labels.empty() && cfg.labels != "words") bad_labels("brown_lm", cfg.labels, "words");
  const Corpus c = read_corpus(cfg, "genre", false);  // the words; the genre label is not used
  const Selection sel = select(cfg, seed, "brown_lm", c);
  const WordVocab vocab = build_vocab(c, sel.train, cfg.min_count, {"<pad>", "<unk>", "<eos>"});
  return assemble(cfg, "brown_lm", "lm", c, sel, vocab, vocab.names, [&](const Line& l, const std::string&) {
    Example e;
    e.tokens = word_ids(vocab, l);
    e.labels.assign(e.tokens.begin() + 1, e.tokens.end());
    e.labels.push_back(2);  // <eos>
    return e;
  });
}

}  // namespace nl::brown

namespace nl::data {
bool is_brown_task(const std::string& name) {
  return name == "brown_pos" || name == "brown_genre" || name == "brown_lm";
}
}  // namespace nl::data
