// test_config.cpp — config parsing and validation: defaults, round trip, overrides, the
// corpus of broken configs in tests/configs/broken/ (each with its expected one-line error),
// and that configs/README.md documents every key the config tables declare.
//
// What it is not: a test that a valid config trains (test_train.cpp).
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "normlab/core/error.h"
#include "normlab/config/config.h"

using nlohmann::json;

namespace {

// The UserError a call throws (message + code); fails the test when nothing is thrown.
struct Caught {
  bool thrown = false;
  std::string what;
  int code = 0;
};
template <class F>
Caught catch_user_error(F f) {
  Caught c;
  try {
    f();
  } catch (const nl::UserError& e) {
    c.thrown = true;
    c.what = e.what();
    c.code = e.code;
  }
  return c;
}

const std::string kTestDir = NORMLAB_TEST_DIR;
const std::string kSourceDir = NORMLAB_SOURCE_DIR;

}  // namespace

TEST_CASE("an empty config gives the struct defaults", "[config]") {
  nl::Config c = nl::config_from_json(json::object());
  nl::Config d;
  CHECK(nl::config_to_json(c) == nl::config_to_json(d));
  CHECK(c.model.d_model == 64);
  CHECK(c.model.norm.type == "layernorm");
  CHECK(c.optim.type == nl::OptimizerType::adamw);
  CHECK(c.task.eval_lengths.size() == 2);
}

TEST_CASE("config_to_json lists every key and reads back to the same config", "[config]") {
  json j = {{"model", {{"d_model", 48}, {"heads", 3}, {"norm", {{"type", "batchnorm"}, {"eps", 0.001}}}}},
            {"task", {{"name", "sort"}, {"eval_lengths", {{{"min", 2}, {"max", 9}}}}}},
            {"optim", {{"lr", 0.1}, {"schedule", "linear"}, {"warmup_steps", 5}}},
            {"train", {{"seed", 18446744073709551615ull}, {"steps", 10}}}};
  nl::Config c = nl::config_from_json(j, "t");
  CHECK(c.model.d_model == 48);
  CHECK(c.model.norm.type == "batchnorm");
  CHECK(c.model.norm.eps == 0.001f);
  CHECK(c.task.eval_lengths.size() == 1);
  CHECK(c.task.eval_lengths[0].max == 9);
  CHECK(c.train.seed == 18446744073709551615ull);
  json out = nl::config_to_json(c);
  // Floats print as the shortest decimal (0.1, not 0.10000000149).
  CHECK(out["optim"]["lr"].dump() == "0.1");
  CHECK(out["model"]["norm"]["momentum"].dump() == "0.1");
  nl::Config c2 = nl::config_from_json(out, "t");
  CHECK(nl::config_to_json(c2) == out);
  // Every key present: the resolved config of defaults has all four sections in full.
  json d = nl::config_to_json(nl::Config{});
  CHECK(d["model"].size() == 12);
  CHECK(d["model"]["norm"].size() == 10);
  CHECK(d["task"].size() == 11);
  CHECK(d["optim"].size() == 12);
  CHECK(d["train"].size() == 12);
}

TEST_CASE("exec_options: train.kernels and train.pack, read once into the run's options", "[config]") {
  const nl::ExecOptions def = nl::exec_options(nl::Config{}.train);
  CHECK(def.kernels == nl::KernelSet::fast);
  CHECK(def.pack);
  json j = {{"train", {{"kernels", "reference"}, {"pack", false}}}};
  const nl::ExecOptions e = nl::exec_options(nl::config_from_json(j, "t").train);
  CHECK(e.kernels == nl::KernelSet::reference);
  CHECK_FALSE(e.pack);
  json bad = {{"train", {{"pack", 1}}}};
  CHECK_THROWS_WITH(nl::config_from_json(bad, "t"), Catch::Contains("train.pack"));
}

TEST_CASE("every config under configs/ loads", "[config]") {
  for (const char* f : {"tiny.json", "tasks/majority.json", "tasks/histogram.json", "tasks/sort.json",
                        "tasks/reverse.json", "tasks/parity.json", "tasks/dyck.json",
                        "tasks/text_classify.json", "tasks/char_lm.json", "tasks/wordlang.json"}) {
    INFO(f);
    CHECK_NOTHROW(nl::load_config(kSourceDir + "/configs/" + f));
  }
  nl::Config t = nl::load_config(kSourceDir + "/configs/tiny.json");
  CHECK(t.task.name == "majority");
  CHECK(t.model.d_model == 32);
}

TEST_CASE("every broken config fails with its expected one-line error and code 2", "[config]") {
  const std::string dir = kTestDir + "/configs/broken/";
  std::ifstream tsv(dir + "expected.tsv");
  REQUIRE(tsv);
  std::string line;
  int n = 0;
  while (std::getline(tsv, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t tab = line.find('\t');
    REQUIRE(tab != std::string::npos);
    std::string file = line.substr(0, tab), expected = line.substr(tab + 1);
    INFO(file << " should fail with: " << expected);
    Caught c = catch_user_error([&] { nl::load_config(dir + file); });
    INFO("got: " << c.what);
    CHECK(c.thrown);
    CHECK(c.code == 2);
    CHECK(c.what.find(expected) != std::string::npos);
    CHECK(c.what.rfind(dir + file + ": ", 0) == 0);  // starts with the file name
    CHECK(c.what.find('\n') == std::string::npos);   // one line
    ++n;
  }
  CHECK(n >= 15);
}

TEST_CASE("the corpus check itself fails when a config is fine", "[config]") {
  // Guards the test above: a valid config throws nothing, so it could not pass as broken.
  Caught c = catch_user_error([&] { nl::load_config(kSourceDir + "/configs/tiny.json"); });
  CHECK_FALSE(c.thrown);
  // And one broken key, fixed, loads.
  json j = json::parse(std::ifstream(kTestDir + "/configs/broken/unknown_model_key.json"));
  CHECK_THROWS_AS(nl::config_from_json(j), nl::UserError);
  j["model"].erase("layer");
  CHECK_NOTHROW(nl::config_from_json(j));
}

TEST_CASE("a missing config file is a UserError with code 2", "[config]") {
  Caught c = catch_user_error([] { nl::load_config("/nonexistent/cfg.json"); });
  CHECK(c.thrown);
  CHECK(c.code == 2);
  CHECK(c.what.find("/nonexistent/cfg.json: cannot open config") == 0);
}

TEST_CASE("the boundaries of ranges are where they say", "[config]") {
  auto ok = [](json j) { return !catch_user_error([&] { nl::config_from_json(j); }).thrown; };
  CHECK(ok({{"optim", {{"beta2", 0.0}}}}));
  CHECK(ok({{"optim", {{"beta2", 0.999999}}}}));
  CHECK_FALSE(ok({{"optim", {{"beta2", 1}}}}));
  CHECK(ok({{"optim", {{"min_lr_ratio", 1}}}}));
  CHECK_FALSE(ok({{"optim", {{"min_lr_ratio", 1.01}}}}));
  CHECK(ok({{"optim", {{"clip_grad_norm", 0}}}}));
  CHECK(ok({{"model", {{"norm", {{"eps", -1}}}}}}));
  CHECK_FALSE(ok({{"model", {{"norm", {{"eps", 0}}}}}}));
  CHECK(ok({{"train", {{"threads", 0}}}}));
  CHECK_FALSE(ok({{"train", {{"threads", -1}}}}));
  CHECK_FALSE(ok({{"model", {{"d_model", 4294967296ull}}}}));  // would wrap as an int
  CHECK_FALSE(ok({{"optim", {{"lr", 1e300}}}}));                 // inf as a float
  // max_len only matters when there are positions.
  json short_len = {{"model", {{"max_len", 8}}}};
  CHECK_FALSE(ok(short_len));
  short_len["model"]["positions"] = "none";
  CHECK(ok(short_len));
}

TEST_CASE("set overrides (--set) any key, parses JSON values, rejects unknown paths", "[config]") {
  json j = {{"model", {{"d_model", 32}}}};
  nl::apply_overrides(j, {"model.norm.type=batchnorm", "model.d_model=64", "optim.lr=1e-2",
                          "model.causal=true", "train.out_dir=runs/x y",
                          "task.eval_lengths=[{\"min\":1,\"max\":3}]", "task.path=\"42\""});
  nl::Config c = nl::config_from_json(j);
  CHECK(c.model.norm.type == "batchnorm");
  CHECK(c.model.d_model == 64);
  CHECK(c.optim.lr == 0.01f);
  CHECK(c.model.causal);
  CHECK(c.train.out_dir == "runs/x y");
  CHECK(c.task.eval_lengths.size() == 1);
  CHECK(c.task.path == "42");

  Caught bad = catch_user_error([&] { nl::apply_overrides(j, {"model.norm.typ=layernorm"}); });
  CHECK(bad.thrown);
  CHECK(bad.code == 2);
  CHECK(bad.what.find("unknown key 'typ' under model.norm (did you mean 'type'?)") != std::string::npos);
  CHECK(bad.what.find("allowed: adanorm_C, adanorm_k, eps, momentum, position, powernorm_alpha_bkw, powernorm_groups, powernorm_warmup, sync, type") != std::string::npos);

  // The closest key at every level, as a config file's unknown key gets; none when far off.
  CHECK(catch_user_error([&] { nl::apply_overrides(j, {"train.step=5"}); }).what.find(
            "unknown key 'step' under train (did you mean 'steps'?); allowed: ") != std::string::npos);
  CHECK(catch_user_error([&] { nl::apply_overrides(j, {"modle.layers=2"}); }).what.find(
            "unknown key 'modle' (did you mean 'model'?)") != std::string::npos);
  CHECK(catch_user_error([&] { nl::apply_overrides(j, {"model.zzzzzz=2"}); }).what.find(
            "did you mean") == std::string::npos);

  Caught noeq = catch_user_error([&] { nl::apply_overrides(j, {"model.d_model"}); });
  CHECK(noeq.thrown);
  CHECK(noeq.what.find("expected key.path=value") != std::string::npos);

  Caught deep = catch_user_error([&] { nl::apply_overrides(j, {"model.d_model.x=1"}); });
  CHECK(deep.thrown);
  CHECK(deep.what.find("has no sub-keys") != std::string::npos);

  // A wrongly typed override is caught by validation, naming the key.
  nl::apply_overrides(j, {"model.heads=four"});
  Caught typed = catch_user_error([&] { nl::config_from_json(j, "cfg.json"); });
  CHECK(typed.what == "cfg.json: model.heads: expected an integer in 1..1024, got string 'four'");
}

namespace {

// The keys configs/README.md documents: a table row "| `key` | ..." under a heading that is
// only "## `section`" or "### `section.sub`" counts as "section.key".
std::set<std::string> documented_keys(const std::string& readme_text) {
  std::set<std::string> keys;
  std::istringstream in(readme_text);
  std::string line, section;
  while (std::getline(in, line)) {
    if (line.rfind("#", 0) == 0) {  // a section is a heading that is only a key: ## `model`
      std::smatch m;
      static const std::regex key_heading("#{2,3} `([a-z_.]+)`\\s*");
      section = std::regex_match(line, m, key_heading) ? m[1].str() : "";
      continue;
    }
    if (section.empty() || line.rfind("| `", 0) != 0) continue;
    const size_t end = line.find('`', 3);
    if (end != std::string::npos) keys.insert(section + "." + line.substr(3, end - 3));
  }
  return keys;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("configs/README.md documents every config key, and no key that does not exist", "[config]") {
  const std::string readme = read_file(kSourceDir + "/configs/README.md");
  REQUIRE_FALSE(readme.empty());
  const std::set<std::string> documented = documented_keys(readme);
  const std::vector<nl::ConfigKey> keys = nl::config_keys();
  REQUIRE(keys.size() >= 49);  // the four sections and every key of the tables
  std::set<std::string> declared;
  for (const nl::ConfigKey& k : keys) {
    declared.insert(k.path);
    if (k.path.find('.') == std::string::npos) continue;  // a section: "model", "task", ...
    INFO("the key " << k.path << " (" << k.doc << ") has no row in configs/README.md under its section");
    CHECK(documented.count(k.path) == 1);
  }
  for (const std::string& d : documented) {
    INFO("configs/README.md documents " << d << ", which no config table declares");
    CHECK(declared.count(d) == 1);
  }
}

TEST_CASE("the docs check itself finds an undocumented key", "[config]") {
  // Guards the test above: dropping a row from the README text makes a declared key missing.
  std::string readme = read_file(kSourceDir + "/configs/README.md");
  const std::string row = "| `momentum` | float | 0.1 |";
  REQUIRE(readme.find(row) != std::string::npos);
  CHECK(documented_keys(readme).count("model.norm.momentum") == 1);
  readme.erase(readme.find(row), row.size());
  CHECK(documented_keys(readme).count("model.norm.momentum") == 0);
  CHECK(documented_keys(readme).count("optim.momentum") == 1);  // the other momentum stays
}

TEST_CASE("every key's table row: type and allowed values in words, enums by name", "[config]") {
  std::map<std::string, nl::ConfigKey> by_path;
  for (const nl::ConfigKey& k : nl::config_keys()) by_path[k.path] = k;
  CHECK(by_path.at("model.d_model").type == "int");
  CHECK(by_path.at("model.d_model").allowed == "1..65536");
  CHECK(by_path.at("model.norm").type == "object");
  CHECK(by_path.at("model.norm.position").allowed == "post, pre");
  CHECK(by_path.at("model.positions").allowed == "learned, sinusoidal, none");
  CHECK(by_path.at("optim.lr").allowed == "> 0");
  CHECK(by_path.at("task.eval_lengths").type == "ranges");
  CHECK(by_path.at("train.kernels").allowed == "fast, reference");
  for (const auto& [path, k] : by_path) {
    INFO(path);
    CHECK_FALSE(k.doc.empty());
  }
  // The enum names round-trip through the one declaration.
  for (nl::Positions p : {nl::Positions::learned, nl::Positions::sinusoidal, nl::Positions::none}) {
    nl::Positions q = nl::Positions::learned;
    CHECK(nl::from_name(nl::name_of(p), q));
    CHECK(q == p);
  }
  nl::Pool pool = nl::Pool::mean;
  CHECK_FALSE(nl::from_name("max", pool));
  CHECK(pool == nl::Pool::mean);
}

TEST_CASE("config_to_json writes enums by name, as the JSON had them", "[config]") {
  json j = {{"model", {{"positions", "sinusoidal"}, {"pool", "first"}, {"activation", "relu"},
                       {"norm", {{"position", "pre"}}}}},
            {"optim", {{"type", "sgd"}, {"schedule", "cosine"}}},
            {"train", {{"kernels", "reference"}}}};
  json out = nl::config_to_json(nl::config_from_json(j));
  CHECK(out["model"]["positions"] == "sinusoidal");
  CHECK(out["model"]["pool"] == "first");
  CHECK(out["model"]["activation"] == "relu");
  CHECK(out["model"]["norm"]["position"] == "pre");
  CHECK(out["optim"]["type"] == "sgd");
  CHECK(out["optim"]["schedule"] == "cosine");
  CHECK(out["train"]["kernels"] == "reference");
}
