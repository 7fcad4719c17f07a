// test_train.cpp — end-to-end training: it learns, resume is bit-identical, a NaN stops it cleanly.
//
// What it is not: a benchmark or a norm comparison: the bounds only show that training
// works.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "normlab/core/error.h"
#include "normlab/config/config.h"
#include "normlab/train/checkpoint.h"
#include "normlab/train/trainer.h"
#include "testutil/process.h"
#include "testutil/runs.h"

namespace fs = std::filesystem;
using testutil::metrics_without_speed;
using testutil::slurp;

namespace {

nl::Config tiny_config(const std::string& norm) {
  nl::Config c = nl::load_config(std::string(NORMLAB_SOURCE_DIR) + "/configs/tiny.json");
  c.model.norm.type = norm;
  c.train.threads = 1;
  c.train.log_every = 10;
  c.train.eval_every = 50;
  return c;
}

fs::path fresh_dir(const std::string& name) {
  // The pid keeps two test runs on one machine (two checkouts) out of each other's folders.
  fs::path d = fs::temp_directory_path() / ("normlab_test_train_" + std::to_string(getpid()) + "_" + name);
  fs::remove_all(d);
  return d;
}

}  // namespace

TEST_CASE("tiny config learns majority well above chance", "[train]") {
  nl::Config c = tiny_config("layernorm");
  nl::TrainOptions opt;
  opt.out_dir = fresh_dir("learns").string();
  opt.quiet = true;
  nl::TrainResult r = nl::train(c, opt);
  REQUIRE(r.steps == c.train.steps);
  REQUIRE(r.evals.size() == 2);
  // 4 symbols: chance is ~0.25-0.4 (majority class); a learned model is near 1.
  for (const nl::EvalResult& e : r.evals) {
    INFO(e.split << " accuracy " << e.accuracy);
    CHECK(e.accuracy > 0.9);
  }
  CHECK(fs::exists(fs::path(opt.out_dir) / "result.json"));
  CHECK(fs::exists(fs::path(opt.out_dir) / "config.json"));
  CHECK(fs::exists(fs::path(opt.out_dir) / "checkpoint.safetensors"));
}

TEST_CASE("resume is bit-identical: 200 straight == 100 + resume + 100", "[train]") {
  // BatchNorm (running buffers) and dropout (RNG) make this a real test of the state.
  nl::Config c = tiny_config("batchnorm");
  c.train.steps = 200;
  c.model.dropout = 0.1f;
  c.train.checkpoint_every = 0;

  nl::TrainOptions straight;
  straight.out_dir = fresh_dir("straight").string();
  straight.quiet = true;
  nl::train(c, straight);

  nl::TrainOptions first;
  first.out_dir = fresh_dir("resumed").string();
  first.quiet = true;
  first.stop_after = 100;
  nl::TrainResult half = nl::train(c, first);
  REQUIRE(half.steps == 100);
  CHECK_FALSE(fs::exists(fs::path(first.out_dir) / "result.json"));
  nl::TrainOptions second = first;
  second.stop_after = -1;
  second.resume = true;
  nl::train(c, second);

  nl::SafetensorsFile a = nl::load_safetensors(straight.out_dir + "/checkpoint.safetensors");
  nl::SafetensorsFile b = nl::load_safetensors(first.out_dir + "/checkpoint.safetensors");
  REQUIRE(a.tensors.size() == b.tensors.size());
  int compared = 0;
  for (auto& [name, t] : a.tensors) {
    REQUIRE(b.tensors.count(name));
    const nl::Tensor& u = b.tensors.at(name);
    REQUIRE(u.shape() == t.shape());
    INFO(name);
    CHECK(std::memcmp(t.data(), u.data(), t.numel() * sizeof(float)) == 0);
    ++compared;
  }
  CHECK(compared > 10);
  CHECK(a.tensors.count("layers.0.norm1.running_mean") == 1);
  CHECK(metrics_without_speed(fs::path(straight.out_dir) / "metrics.csv") ==
        metrics_without_speed(fs::path(first.out_dir) / "metrics.csv"));
  // result.json: the evaluation (per length, the shift) and the jitter over all 20 logged
  // steps, the 10 before the checkpoint included, exactly as if never stopped.
  const nlohmann::json ra = nlohmann::json::parse(slurp(fs::path(straight.out_dir) / "result.json"));
  const nlohmann::json rb = nlohmann::json::parse(slurp(fs::path(first.out_dir) / "result.json"));
  CHECK(ra["eval"] == rb["eval"]);
  CHECK(ra["eval"][0]["bn"].size() == 2);
  REQUIRE(ra["bn_jitter"].size() == 2);
  CHECK(ra["bn_jitter"]["layers.0.norm1"]["steps"] == 20);
  CHECK(ra["bn_jitter"]["layers.0.norm1"]["mean_std"].get<double>() > 0);
  CHECK(ra["bn_jitter"].dump() == rb["bn_jitter"].dump());  // every digit
}

TEST_CASE("a NaN loss stops training, names the step, keeps the last checkpoint", "[train]") {
  nl::Config c = tiny_config("layernorm");
  c.train.steps = 40;
  c.train.checkpoint_every = 20;
  nl::TrainOptions opt;
  opt.out_dir = fresh_dir("nan").string();
  opt.quiet = true;
  opt.stop_after = 20;
  nl::train(c, opt);
  const fs::path ckpt = fs::path(opt.out_dir) / "checkpoint.safetensors";

  // Weights that have blown up (a resume may not change the optimizer to get there, so the
  // checkpoint's head is set to NaN directly): the next step's loss is NaN.
  {
    nl::SafetensorsFile f = nl::load_safetensors(ckpt.string());
    std::vector<nl::NamedTensor> tensors;
    for (auto& [name, t] : f.tensors) tensors.push_back({name, t});
    nl::Tensor& head = f.tensors.at("head.weight");
    for (int64_t i = 0; i < head.numel(); ++i) head.data()[i] = NAN;
    nl::save_safetensors(ckpt.string(), tensors, f.metadata);
  }
  const std::string before = slurp(ckpt);
  opt.stop_after = -1;
  opt.resume = true;
  try {
    nl::train(c, opt);
    FAIL("training went on through a non-finite loss");
  } catch (const nl::UserError& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find("step 2") == 0);
    CHECK((what.find("nan") != std::string::npos || what.find("inf") != std::string::npos));
    CHECK(what.find("step 20) is intact") != std::string::npos);
    CHECK(e.code != 0);
  }
  CHECK(slurp(ckpt) == before);
  nl::SafetensorsFile f = nl::load_safetensors(ckpt.string());
  CHECK(f.metadata.at("step") == "20");
}

TEST_CASE("resume refuses a checkpoint of another model shape", "[train]") {
  nl::Config c = tiny_config("layernorm");
  c.train.steps = 10;
  nl::TrainOptions opt;
  opt.out_dir = fresh_dir("shape").string();
  opt.quiet = true;
  nl::train(c, opt);
  c.model.d_model = 48;
  c.train.steps = 20;
  opt.resume = true;
  CHECK_THROWS_AS(nl::train(c, opt), nl::UserError);
}

// Each built-in task's example config (configs/tasks/) learns its training lengths well
// above chance, one test case per task (ctest runs them side by side). Chance on the seen
// lengths: majority 1/8 (8 symbols; ~0.3 for always guessing the commonest), histogram
// ~0.31 for the most common count, sort and reverse 1/8 per token, parity and dyck 1/2.
static void example_config_learns(const char* task, double bound) {
  nl::Config c = nl::load_config(std::string(NORMLAB_SOURCE_DIR) + "/configs/tasks/" + task + ".json");
  c.train.threads = 1;
  c.train.eval_every = 0;
  nl::TrainOptions opt;
  opt.out_dir = fresh_dir(std::string("task_") + task).string();
  opt.quiet = true;
  nl::TrainResult r = nl::train(c, opt);
  REQUIRE_FALSE(r.evals.empty());
  const nl::EvalResult& seen = r.evals.front();
  INFO(task << " " << seen.split << " accuracy " << seen.accuracy);
  CHECK(seen.seen_in_training);
  CHECK(seen.accuracy > bound);
}

TEST_CASE("task majority: the example config learns", "[train][tasks]") { example_config_learns("majority", 0.95); }
TEST_CASE("task histogram: the example config learns", "[train][tasks]") { example_config_learns("histogram", 0.9); }
TEST_CASE("task sort: the example config learns", "[train][tasks]") { example_config_learns("sort", 0.9); }
TEST_CASE("task reverse: the example config learns", "[train][tasks]") { example_config_learns("reverse", 0.9); }
TEST_CASE("task parity: the example config learns", "[train][tasks]") { example_config_learns("parity", 0.9); }
TEST_CASE("task dyck: the example config learns", "[train][tasks]") { example_config_learns("dyck", 0.9); }
