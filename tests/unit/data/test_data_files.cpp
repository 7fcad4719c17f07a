// test_data_files.cpp — file tasks: text_classify (TSV, JSONL), char_lm, wordlang; malformed
// files; export.
//
// What it is not: a test of the generated tasks (test_data_tasks.cpp).
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "normlab/core/error.h"
#include "normlab/data/export.h"
#include "normlab/data/task.h"
#include "testutil/process.h"

using nl::Example;
using nl::TaskConfig;
using nl::TaskData;

namespace {

std::string fixture(const std::string& name) { return std::string(NORMLAB_TEST_DIR) + "/fixtures/data/" + name; }

TaskConfig text_cfg(const std::string& file) {
  TaskConfig c;
  c.name = "text_classify";
  c.path = fixture(file);
  c.train_lengths = {1, 4};
  c.eval_lengths = {{1, 4}};
  return c;
}

std::string error_of(const TaskConfig& c) {
  try {
    nl::make_task(c, 1);
  } catch (const nl::UserError& e) {
    std::string m = e.what();
    if (m.find('\n') != std::string::npos) return "MULTI-LINE: " + m;
    return m;
  }
  return "no error";
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(f, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST_CASE("text_classify from TSV: vocabulary, classes, held-out part", "[data]") {
  TaskData td = nl::make_task(text_cfg("small.tsv"), 1);
  CHECK(td.head == "classify");
  // characters of the training part only (a, b, c), sorted, after PAD and UNK
  CHECK(td.token_names == std::vector<std::string>{"<pad>", "<unk>", "a", "b", "c"});
  CHECK(td.vocab == 5);
  CHECK(td.class_names == std::vector<std::string>{"neg", "pos"});
  CHECK(td.n_classes == 2);
  // 12 examples (a blank line skipped, a CRLF line read): the 10th is held out
  REQUIRE(td.train.examples.size() == 11);
  CHECK(td.train.examples[0].tokens == std::vector<int>{2, 3, 4});  // "abc"
  CHECK(td.train.examples[0].labels == std::vector<int>{1});        // pos
  CHECK(td.train.examples[5].tokens == std::vector<int>{4, 4, 4});  // "ccc" (CRLF line)
  CHECK(td.train.examples[5].labels == std::vector<int>{1});
  REQUIRE(td.evals.size() == 1);
  CHECK(td.evals[0].name == "len_1_4");
  CHECK(td.evals[0].seen_in_training);
  REQUIRE(td.evals[0].data.examples.size() == 1);
  // "zéb": z and é never occur in training -> UNK (1); é is one character, not two bytes
  CHECK(td.evals[0].data.examples[0].tokens == std::vector<int>{1, 1, 3});
  CHECK(td.evals[0].data.examples[0].labels == std::vector<int>{1});
}

TEST_CASE("text_classify: JSONL gives the same task as TSV", "[data]") {
  TaskData a = nl::make_task(text_cfg("small.tsv"), 1), b = nl::make_task(text_cfg("small.jsonl"), 1);
  CHECK(a.token_names == b.token_names);
  CHECK(a.class_names == b.class_names);
  REQUIRE(a.train.examples.size() == b.train.examples.size());
  for (size_t i = 0; i < a.train.examples.size(); ++i) {
    CHECK(a.train.examples[i].tokens == b.train.examples[i].tokens);
    CHECK(a.train.examples[i].labels == b.train.examples[i].labels);
  }
  CHECK(a.evals[0].data.examples[0].tokens == b.evals[0].data.examples[0].tokens);
}

TEST_CASE("text_classify: length ranges filter, caps subsample deterministically", "[data]") {
  TaskConfig c = text_cfg("small.tsv");
  c.train_lengths = {2, 3};
  c.eval_path = fixture("eval.tsv");
  c.eval_lengths = {{1, 3}, {4, 9}};
  TaskData td = nl::make_task(c, 1);
  // lengths 2..3 among all 12 lines (an eval file is given, nothing is held out)
  REQUIRE(td.train.examples.size() == 8);
  for (const Example& e : td.train.examples) CHECK((e.tokens.size() >= 2 && e.tokens.size() <= 3));
  CHECK(td.token_names.size() == 2 + 5);  // a b c z é
  REQUIRE(td.evals.size() == 2);
  CHECK(td.evals[0].data.examples.size() == 2);  // ab, xyz
  CHECK(td.evals[0].data.examples[1].tokens == std::vector<int>{1, 1, 5});  // x y unseen; z from "zéb"
  CHECK(td.evals[1].data.examples.size() == 2);  // abcd, abcabcabc
  CHECK_FALSE(td.evals[1].seen_in_training);

  c.train_size = 3;
  TaskData a = nl::make_task(c, 1), b = nl::make_task(c, 1);
  REQUIRE(a.train.examples.size() == 3);
  for (int i = 0; i < 3; ++i) CHECK(a.train.examples[i].tokens == b.train.examples[i].tokens);
  // every kept example is one of the 8, in file order
  size_t pos = 0;
  for (const Example& e : a.train.examples) {
    while (pos < td.train.examples.size() && td.train.examples[pos].tokens != e.tokens) ++pos;
    CHECK(pos < td.train.examples.size());
  }
}

TEST_CASE("text_classify: malformed and missing files are one-line user errors", "[data]") {
  CHECK_THAT(error_of(text_cfg("bad_notab.tsv")), Catch::EndsWith("bad_notab.tsv:3: no tab between text and label"));
  CHECK_THAT(error_of(text_cfg("bad_json.jsonl")), Catch::Contains("bad_json.jsonl:2: malformed JSON: parse error at line 1"));
  CHECK_THAT(error_of(text_cfg("bad_nolabel.jsonl")),
             Catch::EndsWith("bad_nolabel.jsonl:3: \"label\" is missing or not a string or integer"));
  CHECK_THAT(error_of(text_cfg("bad_notobject.jsonl")), Catch::Contains("bad_notobject.jsonl:3: expected an object"));
  CHECK_THAT(error_of(text_cfg("bad_emptytext.tsv")), Catch::EndsWith("bad_emptytext.tsv:2: empty text"));
  CHECK_THAT(error_of(text_cfg("empty.tsv")), Catch::Contains("empty.tsv' has no examples"));
  CHECK_THAT(error_of(text_cfg("missing.tsv")), Catch::Contains("missing.tsv': cannot open data file: No such file"));
  CHECK_THAT(error_of(text_cfg("small.csv")), Catch::Contains("unknown extension"));
  TaskConfig c = text_cfg("small.tsv");
  c.eval_path = fixture("bad_label_eval.tsv");
  CHECK_THAT(error_of(c), Catch::EndsWith("bad_label_eval.tsv:2: label 'maybe' is not among the training file's labels"));
  c = text_cfg("small.tsv");
  c.eval_lengths = {{30, 40}};
  CHECK_THAT(error_of(c), Catch::Contains("task.eval_lengths[0]: no evaluation text"));
  c = text_cfg("small.tsv");
  c.path.clear();
  CHECK_THAT(error_of(c), Catch::Contains("task.path: text_classify needs a training file"));
}

TEST_CASE("char_lm: labels are the next characters, the last 10% is held out", "[data]") {
  TaskConfig c;
  c.name = "char_lm";
  c.path = fixture("text.txt");
  c.train_lengths = {3, 9};
  c.eval_lengths = {{3, 9}, {10, 12}};
  TaskData td = nl::make_task(c, 4);
  CHECK(td.head == "lm");
  CHECK(td.n_classes == td.vocab);
  std::ifstream f(c.path);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const size_t cut = text.size() * 9 / 10;
  // consecutive windows from the start: concatenated tokens reproduce the training text
  std::string joined;
  for (const Example& e : td.train.examples) {
    REQUIRE(e.tokens.size() >= 3);
    REQUIRE(e.tokens.size() <= 9);
    REQUIRE(e.labels.size() == e.tokens.size());
    for (size_t t = 0; t + 1 < e.tokens.size(); ++t) REQUIRE(e.labels[t] == e.tokens[t + 1]);
    for (int v : e.tokens) joined += td.token_names[v];
    REQUIRE(td.token_names[e.labels.back()] == std::string(1, text[joined.size()]));
  }
  CHECK(joined.size() + 3 + 1 > cut);  // the training part is used up to its end
  CHECK(text.compare(0, joined.size(), joined) == 0);
  REQUIRE(td.evals.size() == 2);
  std::string ev;
  for (const Example& e : td.evals[0].data.examples)
    for (int v : e.tokens) ev += td.token_names[v];
  CHECK(text.compare(cut, ev.size(), ev) == 0);  // the held-out tail, from its start
  CHECK(td.evals[1].data.examples.size() >= 1);

  c.path = fixture("missing.txt");
  CHECK_THAT(error_of(c), Catch::StartsWith("task.path: '") && Catch::Contains("': cannot open data file"));
  c.path = fixture("empty.tsv");
  CHECK_THAT(error_of(c), Catch::Contains("is empty"));
  c.path = fixture("eval.tsv");  // 38 characters: 34 to train, 4 held out
  c.eval_lengths = {{3, 9}};
  CHECK(nl::make_task(c, 1).evals[0].data.examples.size() == 1);  // the last window is shortened to fit
  c.eval_lengths = {{5, 9}};
  CHECK_THAT(error_of(c), Catch::Contains("task.eval_lengths[0]: the evaluation text (4 characters) is too short"));
}

TEST_CASE("wordlang: the committed Debian word-list set loads, balanced, two length ranges", "[data]") {
  TaskConfig c;
  c.name = "wordlang";
  c.train_lengths = {3, 7};
  c.eval_lengths = {{3, 7}, {8, 20}};
  c.train_size = 100000;
  c.eval_size = 100000;
  TaskData td = nl::make_task(c, 1);
  CHECK(td.class_names == std::vector<std::string>{"de", "en", "es", "fr", "it"});
  REQUIRE(td.train.examples.size() == 10000);
  std::vector<int> per_class(5, 0);
  for (const Example& e : td.train.examples) ++per_class[e.labels[0]];
  for (int k : per_class) CHECK(k == 2000);
  REQUIRE(td.evals.size() == 2);
  CHECK(td.evals[0].data.examples.size() == 1500);
  CHECK(td.evals[1].data.examples.size() == 1500);
  CHECK(td.evals[0].seen_in_training);
  CHECK_FALSE(td.evals[1].seen_in_training);
  // accented letters are single characters of the vocabulary
  std::set<std::string> names(td.token_names.begin(), td.token_names.end());
  CHECK(names.count("ä"));
  CHECK(names.count("é"));
  // no word is in both splits
  auto text = [&](const Example& e) {
    std::string s;
    for (int v : e.tokens) s += td.token_names[v];
    return s;
  };
  std::set<std::string> train_words;
  for (const Example& e : td.train.examples) train_words.insert(text(e));
  for (const Example& e : td.evals[0].data.examples) CHECK_FALSE(train_words.count(text(e)));
}

TEST_CASE("export: one TSV per split, readable back as text_classify", "[data]") {
  namespace fs = std::filesystem;
  const std::string dir = (testutil::unique_temp("export")).string();
  fs::remove_all(dir);

  TaskConfig c;
  c.name = "sort";
  c.symbols = 4;
  c.train_size = 20;
  c.eval_size = 5;
  TaskData td = nl::make_task(c, 2);
  Example e{{3, 1, 2}, {0, 1, 2}};
  CHECK(nl::export_line(td, e) == "3 1 2\t1 2 3");
  std::vector<std::string> paths = nl::export_task(td, dir + "/sort");
  REQUIRE(paths.size() == 3);
  CHECK(paths[0] == dir + "/sort/train.tsv");
  CHECK(paths[2] == dir + "/sort/eval_len_17_32.tsv");
  auto lines = lines_of(paths[0]);
  REQUIRE(lines.size() == 20);
  for (int i = 0; i < 20; ++i) CHECK(lines[i] == nl::export_line(td, td.train.examples[i]));
  CHECK(lines_of(paths[2]).size() == 5);

  TaskConfig d;
  d.name = "dyck";
  d.symbols = 4;
  TaskData dy = nl::make_task(d, 1);
  CHECK(nl::export_line(dy, Example{{1, 3, 4, 2}, {1}}) == "( [ ] )\tbalanced");

  // a text task round-trips: export, read the exported train file back
  TaskConfig t = text_cfg("small.tsv");
  t.eval_path = fixture("eval.tsv");
  t.eval_lengths = {{1, 9}};
  TaskData a = nl::make_task(t, 1);
  paths = nl::export_task(a, dir + "/text");
  CHECK(lines_of(paths[0])[0] == "abc\tpos");
  t.path = paths[0];
  t.eval_path = paths[1];
  TaskData b = nl::make_task(t, 1);
  CHECK(a.token_names == b.token_names);
  CHECK(a.class_names == b.class_names);
  REQUIRE(a.train.examples.size() == b.train.examples.size());
  for (size_t i = 0; i < a.train.examples.size(); ++i) CHECK(a.train.examples[i].tokens == b.train.examples[i].tokens);

  // char_lm: newlines are escaped, so one example stays one line
  TaskConfig l;
  l.name = "char_lm";
  l.path = fixture("text.txt");
  l.train_lengths = {40, 50};
  l.eval_lengths = {{3, 5}};
  TaskData lm = nl::make_task(l, 1);
  std::string line = nl::export_line(lm, lm.train.examples[0]);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find("\\n") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("normlab data export CONFIG writes every split and prints the paths", "[data]") {
  namespace fs = std::filesystem;
  const fs::path dir = testutil::unique_temp("cli_export");
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string cfg = (dir / "cfg.json").string();
  std::ofstream(cfg) << R"({"task": {"name": "parity", "train_size": 10, "eval_size": 3,
                           "eval_lengths": [{"min": 2, "max": 3}, {"min": 40, "max": 50}]}})";
  auto run = [&](const std::string& args) {
    std::string cmd = std::string(NORMLAB_BINARY) + " data export " + args + " > " + (dir / "out.txt").string() +
                      " 2> " + (dir / "err.txt").string();
    int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  const std::string out = (dir / "export").string();
  REQUIRE(run(cfg + " --out " + out) == 0);
  std::vector<std::string> printed = lines_of((dir / "out.txt").string());
  REQUIRE(printed == std::vector<std::string>{out + "/train.tsv", out + "/eval_len_2_3.tsv", out + "/eval_len_40_50.tsv"});
  CHECK(lines_of(printed[0]).size() == 10);
  CHECK(lines_of(printed[2]).size() == 3);
  // the exported lines are the task's examples (same config, same seed 1)
  nl::TaskConfig tc;
  tc.name = "parity";
  tc.train_size = 10;
  tc.eval_size = 3;
  tc.eval_lengths = {{2, 3}, {40, 50}};
  TaskData td = nl::make_task(tc, 1);
  CHECK(lines_of(printed[1])[0] == nl::export_line(td, td.evals[0].data.examples[0]));
  // parity starts with <bos>: it is exported by name, and the length range counts the symbols
  CHECK(lines_of(printed[1])[0].rfind("<bos> ", 0) == 0);
  // import reads an export back: same examples, same length range (histogram: <bos> tagged "_")
  for (const char* task : {"parity", "histogram"}) {
    INFO(task);
    tc.name = task;
    TaskData t = nl::make_task(tc, 1);
    const std::string file = (dir / (std::string(task) + ".tsv")).string();
    {
      std::ofstream f(file);
      for (const Example& e : t.evals[1].data.examples) f << nl::export_line(t, e) << '\n';
    }
    nl::EvalSplit back = nl::import_split(t, file, tc.train_lengths);
    REQUIRE(back.data.examples.size() == t.evals[1].data.examples.size());
    for (size_t i = 0; i < back.data.examples.size(); ++i) {
      CHECK(back.data.examples[i].tokens == t.evals[1].data.examples[i].tokens);
      CHECK(back.data.examples[i].labels == t.evals[1].data.examples[i].labels);
    }
    CHECK(back.lengths.min >= 40);
    CHECK(back.lengths.max <= 50);
    CHECK_FALSE(back.seen_in_training);
  }
  // --set reaches the task; a bad value is a one-line error, exit 2, nothing written
  REQUIRE(run(cfg + " --out " + out + "2 --set task.name=wordlang --set task.train_size=4 "
                 "--set 'task.eval_lengths=[{\"min\": 8, \"max\": 20}]'") == 0);
  CHECK(lines_of(out + "2/train.tsv").size() == 4);
  CHECK(run(cfg + " --out " + out + "3 --set task.name=parityy") == 2);
  std::vector<std::string> err = lines_of((dir / "err.txt").string());
  REQUIRE(err.size() == 1);
  CHECK_THAT(err[0], Catch::StartsWith("normlab: error: ") && Catch::Contains("task.name"));
  CHECK_FALSE(fs::exists(out + "3"));
  fs::remove_all(dir);
}
