// test_saved_model.cpp — a checkpoint alone runs the model: its model card (vocabulary,
// classes, head), `normlab predict`, `normlab generate`, and `normlab eval` with the stored
// config (and its refusal of a config whose model differs).
//
// What it checks: the card matches the task; predict's labels agree with `eval`'s accuracy
// on the same (exported) examples, for classify and tag heads; unknown tokens (error for
// built-in tasks, <unk> + note for text tasks); over-long inputs; generate is deterministic
// for a seed and its greedy first token is the model's argmax; eval --json - is JSON only;
// a checkpoint without a card still evaluates and predict names what is missing.
// What it is not: a test of how well the models learn (test_train.cpp).
#include <catch2/catch.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "normlab/core/autograd.h"
#include "normlab/config/config.h"
#include "normlab/data/tokenizer.h"
#include "normlab/core/error.h"
#include "normlab/train/saved_model.h"
#include "normlab/train/trainer.h"
#include "testutil/process.h"

namespace fs = std::filesystem;
using testutil::count_lines;
using testutil::normlab;
using testutil::Run;
using testutil::slurp;
using nlohmann::json;

namespace {

const std::string kSrc = NORMLAB_SOURCE_DIR;

fs::path fresh_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("normlab_test_saved_" + std::to_string(getpid()) + "_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string x;
  while (std::getline(ss, x, sep)) out.push_back(x);
  return out;
}

// Train `config` (a path under configs/) for `steps` steps into a fresh folder; returns
// the checkpoint's path.
std::string train_run(const std::string& config, const std::string& name, int steps,
                      const std::vector<std::string>& sets = {}) {
  const fs::path dir = fresh_dir(name);
  std::string args = "train " + kSrc + "/" + config + " --quiet --out " + dir.string() +
                     " --set train.steps=" + std::to_string(steps) + " --set optim.warmup_steps=0";
  for (const std::string& s : sets) args += " --set " + s;
  Run r = normlab(args);
  INFO(r.err);
  REQUIRE(r.code == 0);
  return (dir / "checkpoint.safetensors").string();
}

// Predictions of `predict --input` on an exported eval split against its labels, as
// (correct, counted) — counted the way `eval` counts (examples, or labelled tokens).
std::pair<int, int> predict_vs_export(const std::string& ckpt, const fs::path& tsv, bool tag) {
  // The exported file is text<TAB>label; predict reads the texts, one per line.
  const fs::path texts = tsv.string() + ".texts";
  std::vector<std::string> labels;
  {
    std::ifstream in(tsv);
    std::ofstream out(texts);
    std::string line;
    while (std::getline(in, line)) {
      const size_t tab = line.rfind('\t');
      out << line.substr(0, tab) << "\n";
      labels.push_back(line.substr(tab + 1));
    }
  }
  Run r = normlab("predict --checkpoint " + ckpt + " --input " + texts.string() + " --json");
  INFO(r.err);
  REQUIRE(r.code == 0);
  json j = json::parse(r.out);
  REQUIRE(j.size() == labels.size());
  int correct = 0, counted = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (!tag) {
      correct += j[i]["label"] == labels[i];
      counted += 1;
      continue;
    }
    // tag: the export has one label per token, "_" for <bos> (no label); predict omits <bos>.
    std::vector<std::string> want = split(labels[i], ' ');
    if (!want.empty() && want[0] == "_") want.erase(want.begin());
    REQUIRE(j[i]["labels"].size() == want.size());
    REQUIRE(j[i]["tokens"].size() == want.size());
    for (size_t t = 0; t < want.size(); ++t) correct += j[i]["labels"][t] == want[t];
    counted += (int)want.size();
  }
  return {correct, counted};
}

}  // namespace

TEST_CASE("a checkpoint carries its task's vocabulary, classes, head and prefix", "[saved_model]") {
  const std::string ckpt = train_run("configs/tasks/histogram.json", "card", 1);
  nl::SavedModel m = nl::read_saved_model(ckpt);
  nl::Config cfg = nl::load_config(kSrc + "/configs/tasks/histogram.json");
  nl::TaskData task = nl::make_task(cfg.task, cfg.train.seed);
  CHECK(m.missing.empty());
  CHECK(m.head == "tag");
  CHECK(m.task == "histogram");
  CHECK(m.tokenizer.vocab == task.token_names);
  CHECK(m.classes == task.class_names);
  CHECK_FALSE(m.tokenizer.characters);
  REQUIRE(m.tokenizer.prefix.size() == 1);
  CHECK(m.tokenizer.vocab[m.tokenizer.prefix[0]] == "<bos>");
  // The tokenizer rebuilt from the file cuts an input as the task does: <bos>, then symbols.
  std::vector<int> ids = m.tokenizer.encode("1 3  2", "test", nullptr);
  CHECK(ids == std::vector<int>{m.tokenizer.prefix[0], 1, 3, 2});
  CHECK(m.tokenizer.encode("<bos> 1 3 2", "test", nullptr) == ids);  // as `data export` writes it
  CHECK_THROWS_AS(m.tokenizer.encode("1 <bos> 3", "test", nullptr), nl::UserError);
  CHECK(nl::config_to_json(nl::saved_config(m, {}))["model"] == nl::config_to_json(cfg)["model"]);
}

TEST_CASE("predict: classify labels agree with eval's accuracy on the same examples", "[saved_model]") {
  const std::string ckpt = train_run("configs/tiny.json", "predict_classify", 120);
  const fs::path data = fresh_dir("predict_classify_data");
  REQUIRE(normlab("data export " + kSrc + "/configs/tiny.json --out " + data.string()).code == 0);
  Run ev = normlab("eval --checkpoint " + ckpt + " --json -");
  REQUIRE(ev.code == 0);
  json evals = json::parse(ev.out);
  for (const json& e : evals) {
    const std::string split = e["split"];
    auto [correct, counted] = predict_vs_export(ckpt, data / ("eval_" + split + ".tsv"), false);
    INFO(split);
    CHECK(counted == e["count"].get<int>());
    CHECK((double)correct / counted == Approx(e["accuracy"].get<double>()).margin(1e-12));
  }
  // Clear majorities, in plain output: LABEL<TAB>PROBABILITY<TAB>INPUT, one line each.
  Run r = normlab("predict --checkpoint " + ckpt + " \"1 1 1 2\" \"3 4 3 3 2\"");
  REQUIRE(r.code == 0);
  std::vector<std::string> lines = split(r.out, '\n');
  REQUIRE(lines.size() == 2);
  std::vector<std::string> f0 = split(lines[0], '\t'), f1 = split(lines[1], '\t');
  REQUIRE(f0.size() == 3);
  REQUIRE(f1.size() == 3);
  CHECK(f0[0] == "1");
  CHECK(f1[0] == "3");
  CHECK(f0[2] == "1 1 1 2");
  CHECK(std::stod(f0[1]) > 0.5);
  CHECK(std::stod(f0[1]) <= 1.0);
}

TEST_CASE("predict: tag labels (one per token, no <bos>) agree with eval's accuracy", "[saved_model]") {
  const std::string ckpt = train_run("configs/tasks/histogram.json", "predict_tag", 30);
  const fs::path data = fresh_dir("predict_tag_data");
  REQUIRE(normlab("data export " + kSrc + "/configs/tasks/histogram.json --out " + data.string()).code == 0);
  Run ev = normlab("eval --checkpoint " + ckpt + " --json -");
  REQUIRE(ev.code == 0);
  json e = json::parse(ev.out)[0];
  auto [correct, counted] = predict_vs_export(ckpt, data / ("eval_" + e["split"].get<std::string>() + ".tsv"), true);
  CHECK(counted == e["count"].get<int>());
  CHECK((double)correct / counted == Approx(e["accuracy"].get<double>()).margin(1e-12));
}

TEST_CASE("predict: unknown symbols, unknown characters, over-long and empty inputs", "[saved_model]") {
  const std::string tiny = train_run("configs/tiny.json", "predict_errors", 1);
  // Built-in tasks have no <unk>: an error naming the token and where it is.
  Run r = normlab("predict --checkpoint " + tiny + " \"1 2\" \"1 9 2\"");
  CHECK(r.code == 2);
  CHECK(count_lines(r.err) == 1);
  CHECK(r.err.find("argument 2") != std::string::npos);
  CHECK(r.err.find("'9'") != std::string::npos);
  CHECK(r.out.empty());
  // Longer than model.max_len (64): the error names the file and line.
  const fs::path in = fresh_dir("predict_long") / "in.txt";
  {
    std::ofstream f(in);
    f << "1 2 3\n";
    for (int i = 0; i < 65; ++i) f << "1 ";
    f << "\n";
  }
  r = normlab("predict --checkpoint " + tiny + " --input " + in.string());
  CHECK(r.code == 2);
  CHECK(count_lines(r.err) == 1);
  CHECK(r.err.find(in.string() + ":2") != std::string::npos);
  CHECK(r.err.find("max_len") != std::string::npos);
  CHECK(normlab("predict --checkpoint " + tiny + " \"\"").code == 2);
  CHECK(normlab("predict --checkpoint " + tiny).code == 2);  // no input at all

  // Text tasks: an unknown character is <unk>, with a note on stderr.
  const std::string wl = train_run("configs/tasks/wordlang.json", "predict_text", 1);
  r = normlab("predict --checkpoint " + wl + " \"hello\" \"x1y\" --json");
  INFO(r.err);
  REQUIRE(r.code == 0);
  json j = json::parse(r.out);
  REQUIRE(j.size() == 2);
  CHECK(j[1]["tokens"] == json({"x", "<unk>", "y"}));
  CHECK(j[0]["tokens"].size() == 5);
  CHECK(r.err.find("argument 2") != std::string::npos);
  CHECK(r.err.find("'1'") != std::string::npos);
  CHECK(r.err.find("<unk>") != std::string::npos);
  // An lm checkpoint is for generate.
  const std::string lm = train_run("configs/tasks/char_lm.json", "predict_lm", 1);
  r = normlab("predict --checkpoint " + lm + " \"abc\"");
  CHECK(r.code == 2);
  CHECK(r.err.find("generate") != std::string::npos);
}

TEST_CASE("generate: deterministic for a seed, greedy = the model's argmax", "[saved_model]") {
  const std::string lm = train_run("configs/tasks/char_lm.json", "generate", 30);
  auto gen = [&](const std::string& extra) {
    Run r = normlab("generate --checkpoint " + lm + " --prompt \"The \" --tokens 40 " + extra);
    INFO(r.err);
    REQUIRE(r.code == 0);
    return r.out;
  };
  const std::string a = gen("--seed 7"), b = gen("--seed 7"), c = gen("--seed 8");
  CHECK(a == b);
  CHECK(a != c);  // 40 draws from an undertrained model: equal text is vanishingly unlikely
  REQUIRE(a.rfind("The ", 0) == 0);
  REQUIRE(a.back() == '\n');
  // The GPL text is ASCII: the prompt + 40 characters + newline.
  CHECK(a.size() == 4 + 40 + 1);
  const std::string g1 = gen("--temperature 0 --seed 1"), g2 = gen("--temperature 0 --seed 2");
  CHECK(g1 == g2);  // greedy ignores the seed

  // Greedy's first token is the argmax of the model's logits at the prompt's last position.
  nl::SavedModel m = nl::read_saved_model(lm);
  nl::Config cfg = nl::saved_config(m, {});
  auto model = nl::load_model(m, cfg);
  nl::NoGrad no_grad;
  nl::Dataset d;
  nl::Example e;
  e.tokens = m.tokenizer.encode("The ", "test", nullptr);
  e.labels.assign(e.tokens.size(), 0);
  d.examples.push_back(e);
  nl::Batch batch = nl::make_batch(d, {0}, "lm");
  nl::Tensor logits = model->forward(batch);
  const int C = (int)m.classes.size();
  const float* row = logits.data() + (size_t)(batch.T - 1) * C;
  int best = -1;
  for (int k = 0; k < C; ++k)
    if (m.classes[k] != "<pad>" && m.classes[k] != "<unk>" && (best < 0 || row[k] > row[best])) best = k;
  CHECK(g1.substr(4, m.classes[best].size()) == m.classes[best]);

  Run r = normlab("generate --checkpoint " + lm + " --prompt \"\" --tokens 3");
  CHECK(r.code == 2);
  CHECK(count_lines(r.err) == 1);
}

TEST_CASE("eval: the stored config by default, --json - is JSON only, a different model is refused", "[saved_model]") {
  const std::string tiny = train_run("configs/tiny.json", "eval", 20);
  const std::string cfg = kSrc + "/configs/tiny.json";
  Run stored = normlab("eval --checkpoint " + tiny + " --json -");
  REQUIRE(stored.code == 0);
  json j = json::parse(stored.out);  // throws if anything but JSON is on stdout
  REQUIRE(j.size() == 2);
  CHECK(stored.err.find("accuracy") != std::string::npos);  // the table went to stderr
  // The same with the config given explicitly (tiny.json has train.steps=300, the run 20:
  // run length is not a model key).
  Run given = normlab("eval " + cfg + " --checkpoint " + tiny + " --json -");
  REQUIRE(given.code == 0);
  CHECK(json::parse(given.out) == j);
  // A model key that differs: one line naming it, exit 2.
  for (auto [set, key] : std::vector<std::pair<std::string, std::string>>{
           {"model.norm.type=rmsnorm", "model.norm.type"},
           {"model.norm.position=pre", "model.norm.position"},
           {"model.layers=2", "model.layers"}}) {
    Run r = normlab("eval " + cfg + " --checkpoint " + tiny + " --set " + set);
    INFO(set << " -> " << r.err);
    CHECK(r.code == 2);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find(key) != std::string::npos);
    // Without CONFIG, --set applies to the stored config, and is checked the same way.
    Run s = normlab("eval --checkpoint " + tiny + " --set " + set);
    CHECK(s.code == 2);
    CHECK(s.err.find(key) != std::string::npos);
  }
  // A task key may change (longer evaluation lengths).
  Run longer = normlab("eval --checkpoint " + tiny + " --set 'task.eval_lengths=[{\"min\":33,\"max\":48}]' --json -");
  INFO(longer.err);
  REQUIRE(longer.code == 0);
  CHECK(json::parse(longer.out)[0]["split"] == "len_33_48");
  // Another vocabulary (task.symbols) is refused before the weights are copied.
  Run symbols = normlab("eval " + cfg + " --checkpoint " + tiny + " --set task.symbols=5");
  CHECK(symbols.code == 2);
  CHECK(symbols.err.find("vocabulary") != std::string::npos);
}

TEST_CASE("a checkpoint without a model card still evaluates; predict names what is missing", "[saved_model]") {
  const std::string tiny = train_run("configs/tiny.json", "old", 20);
  nl::SafetensorsFile f = nl::load_safetensors(tiny);
  std::vector<nl::NamedTensor> tensors;
  for (auto& [name, t] : f.tensors) tensors.push_back({name, t});
  for (const char* k : {"vocab", "classes", "head", "task", "tokens", "prefix"}) f.metadata.erase(k);
  const std::string old = (fs::path(tiny).parent_path() / "old.safetensors").string();
  nl::save_safetensors(old, tensors, f.metadata);
  Run r = normlab("predict --checkpoint " + old + " \"1 2 2\"");
  CHECK(r.code == 1);
  CHECK(count_lines(r.err) == 1);
  CHECK(r.err.find("vocab") != std::string::npos);
  CHECK(r.err.find("classes") != std::string::npos);
  Run a = normlab("eval --checkpoint " + old + " --json -"), b = normlab("eval --checkpoint " + tiny + " --json -");
  REQUIRE(a.code == 0);
  CHECK(json::parse(a.out) == json::parse(b.out));
}
