// test_brown.cpp — the Brown corpus: the converter on a small corpus written here in the
// corpus's own format, the document split, the three tasks, hostile corpus files, and the
// causal BatchNorm leakage probe and leak_gap (train/leak.h).
//
// What it is not: a test on the real corpus (scripts/corpora.sh fetches that; the README
// records its counts). Nothing here needs the network or data/brown.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "normlab/data/brown.h"
#include "normlab/data/export.h"
#include "normlab/data/task.h"
#include "normlab/core/error.h"
#include "normlab/nn/encoder.h"
#include "normlab/train/leak.h"
#include "testutil/process.h"

namespace fs = std::filesystem;
using nl::TaskConfig;
using nl::TaskData;
using testutil::Run;
using testutil::TempDir;
using testutil::normlab;

namespace {

void write(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::ifstream f(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(f, l);) out.push_back(l);
  return out;
}

// A document in the corpus's form: blank lines between sentences, most lines indented by a
// tab. Every sentence names its document ("ca05") so the split can be checked line by line.
std::string document(const std::string& id, int n_sentences) {
  std::string s;
  for (int i = 0; i < n_sentences; ++i) {
    s += "\n\n\t";
    if (i % 3 == 0)  // headline and title suffixes, a compound tag, multi-word punctuation
      s += "The/at-hl Fulton/np-tl County/nn-tl said/vbd ``/`` I'll/ppss+md go/vb ''/'' --/-- " + id + "/np ./.";
    else if (i % 3 == 1)  // a foreign word, a cited word, a word with a slash, a negation
      s += "He/pps wasn't/bedz* de/fw-in jure/fw-nn 1/2/cd ok/jj-nc " + id + "/np ,/, fine/jj ./.";
    else  // not indented, trailing spaces
      s.back() = ' ', s += "It/pps is/bez " + id + "/np ./.  ";
  }
  return s + "\n\n";
}

// ca01..ca05 and cn01..cn05: ca05 and cn05 are the test documents.
void write_corpus(const fs::path& dir) {
  fs::create_directories(dir);
  for (const char* g : {"ca", "cn"})
    for (int n = 1; n <= 5; ++n) {
      const std::string id = std::string(g) + "0" + std::to_string(n);
      write(dir / id, document(id, 3 + n));
    }
  write(dir / "README", "BROWN CORPUS\n");   // ignored: not a corpus file
  write(dir / "cats.txt", "ca01 news\n");
}

std::string convert_error(const fs::path& src, const fs::path& out) {
  try {
    nl::brown::convert_brown(src.string(), out.string());
  } catch (const nl::UserError& e) {
    return e.what();
  }
  return "no error";
}

TaskConfig brown_cfg(const std::string& task, const fs::path& data) {
  TaskConfig c;
  c.name = task;
  c.path = data.string();
  c.train_lengths = {1, 8};
  c.eval_lengths = {{1, 8}, {9, 40}};
  return c;
}

}  // namespace

TEST_CASE("brown tags: suffixes cut, compounds by their first part, fw- is X, unknown is empty", "[brown]") {
  using nl::brown::full_tag;
  using nl::brown::universal_tag;
  CHECK(full_tag("nn-tl") == "nn");
  CHECK(full_tag("at-tl-hl") == "at");
  CHECK(full_tag("jj-nc") == "jj");
  CHECK(full_tag("fw-in+at-t") == "fw-in+at");   // the corpus's truncated -tl
  CHECK(full_tag("ppss+ber-n") == "ppss+ber");   // and -nc
  CHECK(full_tag("--") == "--");
  CHECK(full_tag("---hl") == "--");
  CHECK(full_tag("ppss+md") == "ppss+md");
  CHECK(universal_tag("nn-tl") == "NOUN");
  CHECK(universal_tag("ppss+md") == "PRON");
  CHECK(universal_tag("md+ppss") == "VERB");
  CHECK(universal_tag("fw-in+at-tl") == "X");
  CHECK(universal_tag("bedz*") == "VERB");
  CHECK(universal_tag("*") == "ADV");
  CHECK(universal_tag("``") == ".");
  CHECK(universal_tag("---hl") == ".");
  CHECK(universal_tag("cs") == "ADP");
  CHECK(universal_tag("to") == "PRT");
  CHECK(universal_tag("zz").empty());
  CHECK(universal_tag("nn+zz").empty());     // every part must be known
  CHECK(universal_tag("fw-zz").empty());
  CHECK(nl::brown::universal_tags().size() == 12);
  CHECK(nl::brown::genres().size() == 15);
}

TEST_CASE("brown converter: word/tag lines become the TSV files, one sentence a line", "[brown]") {
  TempDir tmp("brown_convert");
  write_corpus(tmp / "src");
  const nl::brown::ConvertReport r = nl::brown::convert_brown((tmp / "src").string(), (tmp / "out").string());
  CHECK(r.train.documents == 8);
  CHECK(r.test.documents == 2);
  CHECK(r.test.sentences == 8 + 8);  // ca05 and cn05 have 3 + 5 sentences each
  CHECK(r.train.sentences == 2 * (4 + 5 + 6 + 7));
  CHECK(!fs::exists(tmp / "out.tmp"));

  const std::vector<std::string> pos = lines_of(tmp / "out/pos/train.tsv");
  REQUIRE(pos.size() == (size_t)r.train.sentences);
  CHECK(pos[0] == "The Fulton County said `` I'll go '' -- ca01 .\tDET NOUN NOUN VERB . PRON VERB . . NOUN .");
  CHECK(pos[1] == "He wasn't de jure 1/2 ok ca01 , fine .\tPRON VERB X X NUM ADJ NOUN . ADJ .");
  CHECK(pos[2] == "It is ca01 .\tPRON VERB NOUN .");
  const std::vector<std::string> full = lines_of(tmp / "out/pos_full/train.tsv");
  CHECK(full[0] == "The Fulton County said `` I'll go '' -- ca01 .\tat np nn vbd `` ppss+md vb '' -- np .");
  CHECK(full[1] == "He wasn't de jure 1/2 ok ca01 , fine .\tpps bedz* fw-in fw-nn cd jj np , jj .");
  const std::vector<std::string> genre = lines_of(tmp / "out/genre/test.tsv");
  CHECK(genre.front() == "The Fulton County said `` I'll go '' -- ca05 .\ta");
  CHECK(genre.back() == "He wasn't de jure 1/2 ok cn05 , fine .\tn");

  const std::vector<std::string> docs = lines_of(tmp / "out/docs.tsv");
  REQUIRE(docs.size() == 11);
  CHECK(docs[0] == "doc\tgenre\tsplit\tsentences\twords");
  CHECK(docs[1] == "ca01\ta\ttrain\t4\t" + std::to_string(11 + 10 + 4 + 11));
  CHECK(std::count(docs.begin(), docs.end(), "ca05\ta\ttest\t8\t" + std::to_string(3 * 11 + 3 * 10 + 2 * 4)) == 1);

  // A second conversion into the same folder is refused; the folder stays as it was.
  CHECK_THAT(convert_error(tmp / "src", tmp / "out"), Catch::Contains("already exists"));
  CHECK(lines_of(tmp / "out/pos/train.tsv") == pos);
}

TEST_CASE("brown split: by document, no sentence of a test document in training", "[brown]") {
  TempDir tmp("brown_split");
  write_corpus(tmp / "src");
  nl::brown::convert_brown((tmp / "src").string(), (tmp / "out").string());
  CHECK(nl::brown::is_test_document("ca05"));
  CHECK(nl::brown::is_test_document("cj80"));
  CHECK(!nl::brown::is_test_document("ca01"));
  CHECK(!nl::brown::is_test_document("cr09"));
  CHECK(!nl::brown::is_test_document("c"));
  for (const char* task : {"pos", "pos_full", "genre"}) {
    std::set<std::string> train_docs, test_docs;
    for (const char* split : {"train", "test"})
      for (const std::string& l : lines_of(tmp / "out" / task / (std::string(split) + ".tsv"))) {
        const size_t at = l.find(" c");  // every fixture sentence names its document
        REQUIRE(at != std::string::npos);
        const std::string doc = l.substr(at + 1, 4);
        (std::string(split) == "train" ? train_docs : test_docs).insert(doc);
      }
    CHECK(test_docs == std::set<std::string>{"ca05", "cn05"});
    CHECK(train_docs.size() == 8);
    for (const std::string& d : train_docs) CHECK(!nl::brown::is_test_document(d));
  }
}

TEST_CASE("brown tasks: word vocabulary from training only, labels per task, lengths as splits", "[brown]") {
  TempDir tmp("brown_tasks");
  // A word only a test document has: never in the vocabulary.
  write_corpus(tmp / "src");
  write(tmp / "src/ca05", document("ca05", 3) + "\tZyzzyva/np ./.\n");
  nl::brown::convert_brown((tmp / "src").string(), (tmp / "out").string());

  TaskData pos = nl::make_task(brown_cfg("brown_pos", tmp / "out"), 1);
  CHECK(pos.head == "tag");
  CHECK(pos.n_classes == 12);
  CHECK(pos.token_names[0] == "<pad>");
  CHECK(pos.token_names[1] == "<unk>");
  CHECK(std::find(pos.token_names.begin(), pos.token_names.end(), "ca01") != pos.token_names.end());
  CHECK(std::find(pos.token_names.begin(), pos.token_names.end(), "ca05") == pos.token_names.end());
  CHECK(std::find(pos.token_names.begin(), pos.token_names.end(), "Zyzzyva") == pos.token_names.end());
  // train_lengths [1, 8]: only "It is caNN ." (4 words) trains; the 11- and 10-word ones do not.
  for (const nl::Example& e : pos.train.examples) CHECK(e.tokens.size() == 4);
  REQUIRE(pos.evals.size() == 2);
  CHECK(pos.evals[0].seen_in_training);
  CHECK(!pos.evals[1].seen_in_training);
  for (const nl::Example& e : pos.evals[1].data.examples) {
    CHECK(e.tokens.size() >= 9);
    CHECK(e.labels.size() == e.tokens.size());
  }
  // "Zyzzyva ." is a 2-word test sentence: <unk> then '.'.
  bool found = false;
  for (const nl::Example& e : pos.evals[0].data.examples)
    if (e.tokens.size() == 2) found = e.tokens[0] == 1 && pos.class_names[e.labels[0]] == "NOUN";
  CHECK(found);

  // An exported line reads back (eval --data); a word the vocabulary lacks is <unk>.
  CHECK(nl::export_line(pos, pos.train.examples[0]) == "It is ca01 .\tPRON VERB NOUN .");
  write(tmp / "more.tsv", "Zyzzyva is It .\tNOUN VERB PRON .\n");
  const nl::EvalSplit more = nl::import_split(pos, (tmp / "more.tsv").string(), {1, 8});
  REQUIRE(more.data.examples.size() == 1);
  CHECK(more.data.examples[0].tokens[0] == 1);
  CHECK(pos.token_names[more.data.examples[0].tokens[2]] == "It");

  TaskConfig full_cfg = brown_cfg("brown_pos", tmp / "out");
  full_cfg.labels = "brown";
  TaskData full = nl::make_task(full_cfg, 1);
  CHECK(std::find(full.class_names.begin(), full.class_names.end(), "ppss+md") != full.class_names.end());

  TaskData genre = nl::make_task(brown_cfg("brown_genre", tmp / "out"), 1);
  CHECK(genre.head == "classify");
  CHECK(genre.n_classes == 15);
  CHECK(genre.class_names[0] == "news");
  TaskConfig coarse_cfg = brown_cfg("brown_genre", tmp / "out");
  coarse_cfg.labels = "coarse";
  TaskData coarse = nl::make_task(coarse_cfg, 1);
  CHECK(coarse.class_names == std::vector<std::string>{"press", "general", "learned", "fiction"});
  std::set<int> seen;
  for (const nl::Example& e : coarse.train.examples) seen.insert(e.labels[0]);
  CHECK(seen == std::set<int>{0, 3});  // ca: press, cn: fiction

  TaskConfig lm_cfg = brown_cfg("brown_lm", tmp / "out");
  lm_cfg.min_count = 2;  // "ca01" occurs once per training sentence of 4 words: here once
  TaskData lm = nl::make_task(lm_cfg, 1);
  CHECK(lm.head == "lm");
  CHECK(lm.n_classes == lm.vocab);
  CHECK(lm.token_names[2] == "<eos>");
  CHECK(std::find(lm.token_names.begin(), lm.token_names.end(), "ca01") == lm.token_names.end());
  CHECK(std::find(lm.token_names.begin(), lm.token_names.end(), "It") != lm.token_names.end());
  const nl::Example& e = lm.train.examples[0];
  REQUIRE(e.tokens.size() == 4);
  CHECK(e.labels == std::vector<int>{e.tokens[1], e.tokens[2], e.tokens[3], 2});
  CHECK(e.tokens[2] == 1);  // the document's id, seen once: <unk>

  TaskConfig bad = brown_cfg("brown_genre", tmp / "out");
  bad.labels = "universal";
  CHECK_THROWS_WITH(nl::make_task(bad, 1), Catch::Contains("task.labels: 'universal'"));
}

TEST_CASE("brown tasks without data/brown: one line naming the command that makes it", "[brown]") {
  TempDir tmp("brown_missing");
  try {
    nl::make_task(brown_cfg("brown_pos", tmp / "nowhere"), 1);
    FAIL("no error");
  } catch (const nl::UserError& e) {
    const std::string m = e.what();
    CHECK(m.find('\n') == std::string::npos);
    CHECK_THAT(m, Catch::Contains("scripts/corpora.sh brown"));
  }
}

TEST_CASE("brown hostile corpus files: one line naming file and line, nothing written", "[brown][hostile]") {
  TempDir tmp("brown_hostile");
  struct Case {
    const char* name;
    std::string file, contents, expect;
  };
  const std::string gz("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xed\x5d", 12);
  const std::vector<Case> cases = {
      {"corrupt (gzip bytes)", "cn02", gz, "cn02:1: a NUL byte"},
      {"partial (cut in a token)", "cn03", "\n\n\tThe/at jury/nn said/vbd\n\n\tIt/pps wa", "cn03:5: token 'wa' is not word/tag"},
      {"another format (CoNLL)", "ca02", "1\tThe\tDT\n2\tjury\tNN\n", "ca02:1: token '1' is not word/tag"},
      {"a tag outside the map", "ca03", "\n\n\tThe/at jury/nn said/zz ./.\n", "ca03:3: tag 'zz' (of 'said') is not in the Brown tag map"},
      {"an empty file", "ca04", "\n\n\t\n", "ca04: no sentences"},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      write_corpus(tmp / "src");
      write(tmp / "src" / c.file, c.contents);
      const std::string m = convert_error(tmp / "src", tmp / "out");
      CHECK_THAT(m, Catch::Contains(c.expect));
      CHECK(m.find('\n') == std::string::npos);
      CHECK(!fs::exists(tmp / "out"));
      CHECK(!fs::exists(tmp / "out.tmp"));
    }
  }
  SECTION("an empty split: no document numbered 05, 10, ...") {
    write_corpus(tmp / "src");
    fs::remove(tmp / "src/ca05");
    fs::remove(tmp / "src/cn05");
    CHECK_THAT(convert_error(tmp / "src", tmp / "out"), Catch::Contains("the test split is empty"));
    CHECK(!fs::exists(tmp / "out"));
  }
  SECTION("a converted file edited by hand: the task names file and line") {
    write_corpus(tmp / "src");
    nl::brown::convert_brown((tmp / "src").string(), (tmp / "out").string());
    write(tmp / "out/pos/test.tsv", "It is .\tPRON VERB .\nIt is .\tPRON VERB\n");
    CHECK_THROWS_WITH(nl::make_task(brown_cfg("brown_pos", tmp / "out"), 1),
                      Catch::Contains("pos/test.tsv:2: 2 labels for 3 words"));
    write(tmp / "out/pos/test.tsv", "");
    CHECK_THROWS_WITH(nl::make_task(brown_cfg("brown_pos", tmp / "out"), 1),
                      Catch::Contains("pos/test.tsv: no sentences (an empty split)"));
  }
}

// ---- causal BatchNorm leakage ----------------------------------------------------------

namespace {

nl::ModelConfig causal_config(const std::string& norm) {
  nl::ModelConfig cfg;
  cfg.d_model = 16;
  cfg.heads = 2;
  cfg.d_ff = 32;
  cfg.layers = 2;
  cfg.max_len = 16;
  cfg.causal = true;
  cfg.init_std = 0.3f;
  cfg.norm.type = norm;
  return cfg;
}

nl::Dataset lm_data(int n, int T, int V) {
  nl::Dataset d;
  for (int i = 0; i < n; ++i) {
    nl::Example e;
    const int L = T - i % 3;  // a few lengths: pads in the batch
    for (int t = 0; t < L; ++t) e.tokens.push_back(1 + (i * 7 + t * 3) % (V - 1));
    e.labels.assign(e.tokens.begin() + 1, e.tokens.end());
    e.labels.push_back(1);
    d.examples.push_back(std::move(e));
  }
  return d;
}

std::vector<std::vector<float>> buffers_of(const nl::Encoder& m) {
  std::vector<std::vector<float>> out;
  for (const nl::NamedTensor& b : m.named_buffers()) out.push_back(b.tensor.to_vector());
  return out;
}

}  // namespace

TEST_CASE("leak probe: changing later tokens moves earlier outputs under training-mode BatchNorm only", "[brown][leak]") {
  const int V = 10, T = 8, t = 3;
  const nl::Dataset data = lm_data(6, T, V);
  std::vector<int> idx{0, 1, 2, 3, 4, 5};
  const nl::Batch batch = nl::make_batch(data, idx, "lm");
  const nl::Batch changed = nl::with_future_changed(batch, t, V);
  for (int i = 0; i < batch.B; ++i)
    for (int p = 0; p < batch.T; ++p) {
      const int a = batch.tokens[(size_t)i * T + p], b = changed.tokens[(size_t)i * T + p];
      CHECK((p <= t || a == nl::kPad ? a == b : a != b));
    }
  for (const std::string norm : {"layernorm", "rmsnorm"}) {
    nl::Encoder model(causal_config(norm), "lm", V, V, 3);
    model.set_training(true);
    INFO(norm);
    CHECK(nl::future_leak(model, batch, t, V, true) < 1e-5);
    CHECK(nl::future_leak(model, batch, t, V, false) < 1e-5);
    CHECK(model.training());
  }
  for (const std::string norm : {"batchnorm", "batchnorm_padded"}) {
    nl::Encoder model(causal_config(norm), "lm", V, V, 3);
    model.set_training(true);
    const auto before = buffers_of(model);
    INFO(norm);
    CHECK(nl::future_leak(model, batch, t, V, true) > 1e-3);   // the future is in the statistics
    CHECK(nl::future_leak(model, batch, t, V, false) < 1e-5);  // running statistics: none
    CHECK(buffers_of(model) == before);                         // running statistics untouched
    CHECK(model.training());
  }  // PowerNorm normalises with its running quadratic mean after its warmup (none here: no
  // leak), with the batch's during it (a leak).
  for (const int warmup : {0, 100}) {
    nl::ModelConfig cfg = causal_config("powernorm");
    cfg.norm.settings["powernorm_warmup"] = warmup;
    nl::Encoder model(cfg, "lm", V, V, 3);
    INFO("powernorm_warmup " << warmup);
    const double leak = nl::future_leak(model, batch, t, V, true);
    if (warmup == 0) CHECK(leak < 1e-5);
    else CHECK(leak > 1e-3);
  }
}

TEST_CASE("leak_gap: zero for LayerNorm, not zero for BatchNorm, model left as it was", "[brown][leak]") {
  const int V = 10;
  const nl::Dataset data = lm_data(24, 8, V);
  {
    nl::Encoder model(causal_config("layernorm"), "lm", V, V, 5);
    const nl::LeakGap g = nl::measure_leak_gap(model, data, 4, false, 7, 3);
    CHECK(g.batches == 3);
    CHECK(g.loss_train > 0);
    CHECK(g.gap() == Approx(0).margin(1e-6));
  }
  {
    nl::Encoder model(causal_config("batchnorm"), "lm", V, V, 5);
    model.set_training(true);
    const auto before = buffers_of(model);
    const nl::LeakGap g = nl::measure_leak_gap(model, data, 4, false, 7, 100);
    CHECK(g.batches == 6);  // one epoch at most
    CHECK(std::abs(g.gap()) > 1e-4);
    CHECK(buffers_of(model) == before);
    CHECK(model.training());
    const nlohmann::json j = g.to_json();
    CHECK(j["gap"].get<double>() == Approx(g.loss_running - g.loss_train));
  }
}

TEST_CASE("corpora.sh brown: a corrupt or partial download is one line, exit 1, nothing made", "[brown][hostile]") {
  TempDir tmp("brown_script");
  // BROWN_TGZ stands in for the npm download (checked the same way); BROWN_OUT for data/brown.
  for (const std::string& contents : {std::string("\x1f\x8b\x08 not really gzip", 20), std::string()}) {
    write(tmp / "corpus.tgz", contents);
    const std::string cmd = "BROWN_TGZ=" + (tmp / "corpus.tgz").string() + " BROWN_OUT=" + (tmp / "brown").string() +
                            " NORMLAB=" + NORMLAB_BINARY + " bash " + NORMLAB_SOURCE_DIR + "/scripts/corpora.sh brown >" +
                            (tmp / "out").string() + " 2>" + (tmp / "err").string();
    const int status = std::system(cmd.c_str());
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 1);
    const std::vector<std::string> err = lines_of(tmp / "err");
    REQUIRE(err.size() == 1);
    CHECK_THAT(err[0], Catch::Contains(contents.empty() ? "missing or empty" : "(a corrupt or partial download?)"));
    CHECK(!fs::exists(tmp / "brown"));
    for (const auto& e : fs::directory_iterator(tmp.dir)) CHECK(e.path().filename().string().find("stage") == std::string::npos);
  }
}

TEST_CASE("train writes leak_gap into result.json: 0 for LayerNorm, not 0 for BatchNorm", "[brown][leak]") {
  TempDir tmp("brown_leak_gap");
  for (const std::string norm : {"layernorm", "batchnorm"}) {
    const fs::path run = tmp / norm;
    const Run r = normlab("train " + std::string(NORMLAB_SOURCE_DIR) + "/configs/tiny.json --quiet --out " + run.string() +
                          " --set train.steps=30 --set model.norm.type=" + norm);
    REQUIRE(r.code == 0);
    std::ifstream f(run / "result.json");
    const nlohmann::json j = nlohmann::json::parse(f);
    INFO(norm << ": " << j["leak_gap"].dump());
    REQUIRE(j["leak_gap"].is_object());
    CHECK(j["leak_gap"]["batches"] == 16);
    const double gap = j["leak_gap"]["gap"].get<double>();
    if (norm == "layernorm") CHECK(gap == 0.0);
    else CHECK(std::abs(gap) > 1e-4);
  }
}

TEST_CASE("corpora.sh brown: a second run finds data/brown made and does nothing", "[brown]") {
  TempDir tmp("brown_again");
  const fs::path out = tmp / "brown";
  fs::create_directories(out / "pos");
  write(out / "SOURCE.txt", "made before\n");
  write(out / "docs.tsv", "ca01\ta\ttrain\t1\t3\n");
  write(out / "pos/train.tsv", "It is .\tPRON VERB .\n");
  const auto listing = [&] {
    std::vector<std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(out))
      files.push_back(e.path().string() + (e.is_regular_file() ? " " + std::to_string(fs::file_size(e.path())) + " " +
                                                                        std::to_string(fs::last_write_time(e.path()).time_since_epoch().count())
                                                                  : ""));
    std::sort(files.begin(), files.end());
    return files;
  };
  const auto before = listing();
  // No tarball and no npm needed: BROWN_TGZ points nowhere, so any attempt to fetch or convert fails.
  const std::string cmd = "BROWN_TGZ=" + (tmp / "absent.tgz").string() + " BROWN_OUT=" + out.string() +
                          " NORMLAB=/nonexistent bash " + NORMLAB_SOURCE_DIR + "/scripts/corpora.sh brown >" +
                          (tmp / "log").string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_THAT(testutil::slurp(tmp / "log"), Catch::Contains("is already made"));
  CHECK(listing() == before);  // nothing added, removed or rewritten
  for (const auto& e : fs::directory_iterator(tmp.dir)) CHECK(e.path().filename().string().find("stage") == std::string::npos);
  // A folder left incomplete (no SOURCE.txt) is named, not trusted and not overwritten.
  fs::remove(out / "SOURCE.txt");
  const int again = std::system(cmd.c_str());
  CHECK(WEXITSTATUS(again) == 1);
  CHECK_THAT(testutil::slurp(tmp / "log"), Catch::Contains("exists but is incomplete"));
  CHECK(fs::exists(out / "docs.tsv"));
}

TEST_CASE("normlab data brown: a bad corpus file is one line on stderr naming file and line, exit 1, OUT not made",
          "[brown][hostile]") {
  TempDir tmp("brown_cli");
  write_corpus(tmp / "src");
  write(tmp / "src/cn04", "\n\n\tThe/at jury/nn\n\n\tsaid/vbd it/pps ok/zz\n");
  const Run r = normlab("data brown " + (tmp / "src").string() + " " + (tmp / "out").string());
  CHECK(r.code == 1);
  CHECK(testutil::count_lines(r.err) == 1);
  CHECK_THAT(r.err, Catch::Contains("cn04:5: tag 'zz' (of 'ok') is not in the Brown tag map"));
  CHECK(!fs::exists(tmp / "out"));
  for (const auto& e : fs::directory_iterator(tmp.dir)) CHECK(e.path().filename() != "out.tmp");
  // the same corpus, fixed: made
  write(tmp / "src/cn04", document("cn04", 4));
  const Run ok = normlab("data brown " + (tmp / "src").string() + " " + (tmp / "out").string());
  CHECK(ok.code == 0);
  CHECK(fs::exists(tmp / "out/docs.tsv"));
}
