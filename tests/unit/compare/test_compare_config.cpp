// test_compare_config.cpp — the compare config: what it accepts, and the one-line errors
// (UserError, code 2) naming the key for what it does not.
//
// What it is not: a test of running a comparison (test_compare_runner.cpp,
// test_compare_e2e.cpp).
#include <algorithm>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "normlab/core/error.h"
#include "normlab/compare/compare.h"
#include "normlab/nn/norm.h"
#include "testutil/process.h"

using nl::CompareConfig;
using ojson = nlohmann::ordered_json;

static ojson good_compare() {
  return ojson::parse(R"({
    "base": {"task": {"name": "majority"}, "train": {"steps": 20}},
    "variants": {"layernorm": {"model.norm.type": "layernorm"},
                 "batchnorm": {"model.norm.type": "batchnorm", "optim.lr": 0.002}},
    "seeds": [1, 2, 3],
    "target_loss": 0.5,
    "out_dir": "runs/compare/x",
    "jobs": 2
  })");
}

// The error must be a UserError with code 2, on one line, containing `needle`.
static void expect_error(const ojson& j, const std::string& needle) {
  try {
    nl::compare_config_from_json(j, "cmp.json", "");
    FAIL("no error for: " << j.dump());
  } catch (const nl::UserError& e) {
    std::string msg = e.what();
    INFO(msg);
    CHECK(e.code == 2);
    CHECK(msg.find(needle) != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
    CHECK(msg.rfind("cmp.json: ", 0) == 0);
  }
}

TEST_CASE("compare config: a good config parses in file order", "[compare]") {
  CompareConfig cc = nl::compare_config_from_json(good_compare(), "configs/compare/x.json", "");
  REQUIRE(cc.variants.size() == 2);
  CHECK(cc.variants[0].name == "layernorm");  // file order, not alphabetical
  CHECK(cc.variants[1].name == "batchnorm");
  CHECK(cc.variants[1].overrides["optim.lr"].get<double>() == Approx(0.002));
  CHECK(cc.seeds == std::vector<uint64_t>{1, 2, 3});
  CHECK(cc.target_loss == Approx(0.5));
  CHECK(cc.out_dir == "runs/compare/x");
  CHECK(cc.jobs == 2);
  CHECK(cc.reference == "layernorm");
  CHECK(cc.title == "x");
  CHECK(cc.base["train"]["steps"] == 20);
  // questions inferred from the variants' norms
  CHECK(std::find(cc.questions.begin(), cc.questions.end(), "length_generalization") != cc.questions.end());
  CHECK(std::find(cc.questions.begin(), cc.questions.end(), "batchnorm_drift") != cc.questions.end());
  CHECK(std::find(cc.questions.begin(), cc.questions.end(), "overfit") == cc.questions.end());
}

TEST_CASE("compare config: defaults for out_dir, jobs and reference", "[compare]") {
  ojson j = good_compare();
  j.erase("out_dir");
  j.erase("jobs");
  j["variants"].erase("layernorm");
  CompareConfig cc = nl::compare_config_from_json(j, "configs/compare/mine.json", "");
  CHECK(cc.out_dir == "runs/compare/mine");
  CHECK(cc.jobs == 1);
  CHECK(cc.reference == "batchnorm");  // no layernorm: the first variant
}

TEST_CASE("compare config: what a variant is comes from its config, not its name", "[compare]") {
  ojson j = good_compare();
  // Names that say nothing (or mislead): the norms are read from the resolved configs.
  j["variants"] = ojson::parse(R"({
    "a_batchnorm_looking_name": {"model.norm.type": "rmsnorm"},
    "plain": {},
    "simple": {"model.norm.type": "layernorm_simple"},
    "stats": {"model.norm.type": "batchnorm_padded"},
    "no_stats": {"model.norm.type": "detachnorm"}
  })");
  CompareConfig cc = nl::compare_config_from_json(j, "cmp.json", "");
  REQUIRE(cc.variants.size() == 5);
  CHECK(cc.variants[0].norm_type == "rmsnorm");
  CHECK_FALSE(cc.variants[0].batch_stats);
  CHECK(cc.variants[1].norm_type == "layernorm");  // the default norm of a training config
  CHECK(cc.variants[3].batch_stats);
  CHECK(cc.reference == "plain");  // the layernorm variant, whatever its name
  CHECK(nl::variant_of_norm(cc, "layernorm_simple") == "simple");
  CHECK(nl::variant_of_norm(cc, "batchnorm").empty());
  auto has = [&](const char* q) { return std::find(cc.questions.begin(), cc.questions.end(), q) != cc.questions.end(); };
  CHECK(has("batchnorm_drift"));  // from batchnorm_padded's batch statistics
  CHECK(has("overfit"));          // layernorm and layernorm_simple present
  CHECK(has("detach"));

  // A name containing "batchnorm" no longer asks for the drift table.
  j["variants"].erase("stats");
  cc = nl::compare_config_from_json(j, "cmp.json", "");
  CHECK_FALSE(has("batchnorm_drift"));

  // Two variants of one type: the one named like the type stands for it.
  j["variants"]["layernorm"] = ojson::parse(R"({"model.norm.type": "layernorm", "optim.lr": 0.002})");
  cc = nl::compare_config_from_json(j, "cmp.json", "");
  CHECK(nl::variant_of_norm(cc, "layernorm") == "layernorm");
  CHECK(cc.reference == "layernorm");
}

TEST_CASE("compare config: base as a path, relative to the compare file's folder", "[compare]") {
  namespace fs = std::filesystem;
  fs::path dir = testutil::unique_temp("compare_base");
  fs::create_directories(dir);
  { std::ofstream(dir / "train.json") << R"({"train": {"steps": 7}})"; }
  { std::ofstream(dir / "bad.json") << R"({"train": )"; }
  ojson j = good_compare();
  j["base"] = "train.json";
  CompareConfig cc = nl::compare_config_from_json(j, "cmp.json", dir.string());
  CHECK(cc.base["train"]["steps"] == 7);
  j["base"] = "bad.json";
  try {
    nl::compare_config_from_json(j, "cmp.json", dir.string());
    FAIL("invalid base JSON accepted");
  } catch (const nl::UserError& e) {
    CHECK(e.code == 2);
    CHECK(std::string(e.what()).find("base: ") != std::string::npos);
    CHECK(std::string(e.what()).find("malformed JSON") != std::string::npos);
  }
  // A name the system refuses (longer than NAME_MAX; found by fuzz_compare_config): a code-2
  // error naming base and why, not a filesystem_error escaping from the look-up beside the file.
  j["base"] = std::string(300, 'a') + ".json";
  try {
    nl::compare_config_from_json(j, "cmp.json", dir.string());
    FAIL("a base name of 305 bytes accepted");
  } catch (const nl::UserError& e) {
    CHECK(e.code == 2);
    CHECK(std::string(e.what()).find("cmp.json: base: '") == 0);
    CHECK(std::string(e.what()).find("File name too long") != std::string::npos);
  }
  // A base whose train section is not an object (found by fuzz_compare_config): compare
  // writes train.seed into it, which used to escape as a JSON type_error (exit 1).
  j["base"] = ojson::parse(R"({"train": "Batch size"})");
  try {
    nl::compare_config_from_json(j, "cmp.json", dir.string());
    FAIL("a base with train: string accepted");
  } catch (const nl::UserError& e) {
    CHECK(e.code == 2);
    CHECK(std::string(e.what()) == "cmp.json: base: train: must be an object (the training section), not string");
  }
  fs::remove_all(dir);
}

TEST_CASE("compare config: every bad key is a one-line error naming it", "[compare]") {
  ojson j;
  j = good_compare(); j["varients"] = ojson::object();            expect_error(j, "varients: unknown key (did you mean 'variants'?)");
  j = good_compare(); j.erase("base");                            expect_error(j, "base: missing");
  j = good_compare(); j["base"] = 3;                              expect_error(j, "base: must be");
  j = good_compare(); j["base"] = "/nonexistent/train.json";      expect_error(j, "base: '/nonexistent/train.json': cannot open config");
  j = good_compare(); j.erase("variants");                        expect_error(j, "variants: missing");
  j = good_compare(); j["variants"] = ojson::object();            expect_error(j, "variants: must be a non-empty object");
  j = good_compare(); j["variants"] = ojson::array();             expect_error(j, "variants: must be a non-empty object");
  j = good_compare(); j["variants"]["a/b"] = ojson::object();     expect_error(j, "variants.a/b: a variant name");
  j = good_compare(); j["variants"]["x"] = "batchnorm";           expect_error(j, "variants.x: must be an object");
  j = good_compare(); j["variants"]["x"] = {{"model..norm", 1}};  expect_error(j, "variants.x: 'model..norm' is not a key path");
  j = good_compare(); j["variants"]["x"] = {{"train.seed", 4}};   expect_error(j, "variants.x: 'train.seed' is set by compare");
  j = good_compare(); j["variants"]["x"] = {{"train.out_dir", "a"}}; expect_error(j, "'train.out_dir' is set by compare");
  j = good_compare(); j.erase("seeds");                           expect_error(j, "seeds: missing");
  j = good_compare(); j["seeds"] = ojson::array();                expect_error(j, "seeds: must be a non-empty array");
  j = good_compare(); j["seeds"] = {1, 2.5};                      expect_error(j, "seeds: 2.5 is not");
  j = good_compare(); j["seeds"] = {1, -2};                       expect_error(j, "seeds: -2 is not");
  j = good_compare(); j["seeds"] = {1, 2, 1};                     expect_error(j, "seeds: 1 appears twice");
  j = good_compare(); j.erase("target_loss");                     expect_error(j, "target_loss: missing");
  j = good_compare(); j["target_loss"] = "low";                   expect_error(j, "target_loss: must be");
  j = good_compare(); j["target_loss"] = -1;                      expect_error(j, "target_loss: must be");
  j = good_compare(); j["out_dir"] = "";                          expect_error(j, "out_dir: must be");
  j = good_compare(); j["jobs"] = 0;                              expect_error(j, "jobs: must be an integer");
  j = good_compare(); j["jobs"] = 1.5;                            expect_error(j, "jobs: must be an integer");
  j = good_compare(); j["title"] = 1;                             expect_error(j, "title: must be a string");
  j = good_compare(); j["reference"] = "powernorm";               expect_error(j, "reference: 'powernorm' is not one of the variants");
  j = good_compare(); j["questions"] = {"overfit", "why"};        expect_error(j, "questions: 'why' is not one of");
  j = good_compare(); j["questions"] = "overfit";                 expect_error(j, "questions: must be an array");
  expect_error(ojson::array(), "a compare config is a JSON object");
}

TEST_CASE("compare config: an unreadable or invalid file is a code-2 error naming it", "[compare]") {
  namespace fs = std::filesystem;
  fs::path p = testutil::unique_temp("compare_invalid.json");
  { std::ofstream(p) << "{ \"base\": "; }
  try {
    nl::load_compare_config(p.string());
    FAIL("invalid JSON accepted");
  } catch (const nl::UserError& e) {
    CHECK(e.code == 2);
    CHECK(std::string(e.what()).find(p.string()) != std::string::npos);
  }
  fs::remove(p);
  CHECK_THROWS_AS(nl::load_compare_config("/nonexistent/cmp.json"), nl::UserError);
}

TEST_CASE("compare: --only selects VARIANT, VARIANT/SEED and VARIANT/seedSEED", "[compare]") {
  nl::CompareRun r;
  r.variant = "batchnorm";
  r.seed = 2;
  CHECK(nl::only_matches("", r));
  CHECK(nl::only_matches("batchnorm", r));
  CHECK(nl::only_matches("batchnorm/2", r));
  CHECK(nl::only_matches("batchnorm/seed2", r));
  CHECK_FALSE(nl::only_matches("batchnorm/3", r));
  CHECK_FALSE(nl::only_matches("batchnorm_padded/2", r));
  CHECK_FALSE(nl::only_matches("layernorm", r));
  CHECK(nl::run_dir_for("out", "batchnorm", 2) == "out/batchnorm/seed2");
}

TEST_CASE("compare configs shipped in configs/compare all parse", "[compare]") {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(NORMLAB_TEST_DIR) / ".." / "configs" / "compare";
  int n = 0;
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".json") continue;
    INFO(e.path());
    CompareConfig cc = nl::load_compare_config(e.path().string());
    CHECK(cc.variants.size() >= 2);
    CHECK(cc.seeds.size() >= 5);  // shipped comparisons use at least 5 seeds
    // and as many confirmatory seeds, none of them exploratory (README, "What the comparisons show")
    CHECK(cc.replicate_seeds.size() >= 5);
    for (uint64_t s : cc.replicate_seeds)
      CHECK(std::find(cc.seeds.begin(), cc.seeds.end(), s) == cc.seeds.end());
    // every variant x point x seed resolves to a valid training config with its own seed and folder
    // (and, with neighbours, the claims' cells at each neighbour on the exploratory seeds)
    std::vector<nl::CompareRun> plan = nl::plan_runs(cc, "out", 1);
    CHECK(plan.size() == cc.variants.size() * nl::sweep_points(cc).size() *
                             (cc.seeds.size() + cc.replicate_seeds.size()) +
                         cc.neighbours.size() * nl::claim_cells(cc).size() * cc.seeds.size());
    for (const auto& r : plan) {
      CHECK(r.config["train"]["seed"] == r.seed);
      const std::string out = r.neighbour.empty() ? "out" : nl::neighbour_dir("out", r.neighbour);
      CHECK(r.config["train"]["out_dir"] == nl::run_dir_for(out, r.variant, r.seed, r.point));
    }
    if (!cc.neighbours.empty()) CHECK(cc.claims.size() > 0);
    ++n;
    names.insert(e.path().filename().string());
  }
  CHECK(n >= 7);
  // the comparisons of batch size and of the mechanism (powernorm, eval.bn_stats) are shipped
  CHECK(names.count("batch_size.json") == 1);
  CHECK(names.count("mechanism.json") == 1);
  CHECK(names.count("neighbourhood.json") == 1);  // the claims around ln_vs_bn (README, "Neighbourhood")
}

TEST_CASE("compare config: a bad override is a code-2 error naming the variant and the key", "[compare]") {
  ojson j = good_compare();
  j["variants"]["typo"] = {{"model.norm.typ", "batchnorm"}};
  CompareConfig cc = nl::compare_config_from_json(j, "cmp.json", "");
  try {
    nl::plan_runs(cc, "out", 1);
    FAIL("bad override accepted");
  } catch (const nl::UserError& e) {
    std::string msg = e.what();
    INFO(msg);
    CHECK(e.code == 2);
    CHECK(msg.rfind("cmp.json: variants.typo: ", 0) == 0);
    CHECK(msg.find("model.norm.typ") != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }
  j = good_compare();
  j["variants"]["bad"] = {{"model.norm.type", "batchnrom"}};
  cc = nl::compare_config_from_json(j, "cmp.json", "");
  CHECK_THROWS_WITH(nl::plan_runs(cc, "out", 1), Catch::Contains("variants.bad: ") && Catch::Contains("batchnrom"));
  // the variant's override reaches the resolved config
  cc = nl::compare_config_from_json(good_compare(), "cmp.json", "");
  std::vector<nl::CompareRun> plan = nl::plan_runs(cc, "out", 3);
  REQUIRE(plan.size() == 6);
  CHECK(plan[3].variant == "batchnorm");
  CHECK(plan[3].config["model"]["norm"]["type"] == "batchnorm");
  CHECK(plan[3].config["optim"]["lr"].get<double>() == Approx(0.002));
  CHECK(plan[0].config["optim"]["lr"].get<double>() == Approx(0.001));  // the default, untouched
  CHECK(plan[3].config["train"]["threads"] == 3);
  CHECK(plan[3].config["train"]["steps"] == 20);  // from base
}
