// test_init.cpp — the step-0 checkpoint (`normlab init`, `train --stop-after 0`): it holds a
// fresh model's initial weights, and `train --resume` from it is the run from scratch, bit
// for bit.
//
// What it is not: resume from a later step (test_train.cpp) nor resume's checks (test_resume.cpp).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "normlab/config/config.h"
#include "normlab/train/checkpoint.h"
#include "normlab/train/run.h"
#include "normlab/train/saved_model.h"
#include "normlab/train/trainer.h"
#include "testutil/process.h"
#include "testutil/runs.h"

namespace fs = std::filesystem;
using testutil::metrics_without_speed;
using testutil::slurp;
using testutil::TempDir;

namespace {

const std::string kTiny = std::string(NORMLAB_SOURCE_DIR) + "/configs/tiny.json";

// BatchNorm (running buffers) and dropout (the RNG) make resume from step 0 a real test.
nl::Config small_config() {
  nl::Config c = nl::load_config(kTiny);
  c.model.norm.type = "batchnorm";
  c.model.dropout = 0.1f;
  c.train.threads = 1;
  c.train.steps = 30;
  c.train.log_every = 5;
  c.train.eval_every = 15;
  return c;
}

// Every tensor of a checkpoint equals the one of the same name in `expected`, bit for bit.
int same_tensors(const nl::SafetensorsFile& f, const std::vector<nl::NamedTensor>& expected) {
  int n = 0;
  for (const nl::NamedTensor& e : expected) {
    INFO(e.name);
    REQUIRE(f.tensors.count(e.name));
    const nl::Tensor& t = f.tensors.at(e.name);
    REQUIRE(t.shape() == e.tensor.shape());
    CHECK(std::memcmp(t.data(), e.tensor.data(), (size_t)t.numel() * sizeof(float)) == 0);
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("stop_after 0 writes the step-0 checkpoint: a fresh model's initial weights", "[train][init]") {
  TempDir t("init_weights");
  const nl::Config c = small_config();
  nl::TrainOptions opt;
  opt.out_dir = (t / "run").string();
  opt.quiet = true;
  opt.stop_after = 0;
  nl::TrainResult r = nl::train(c, opt);
  CHECK(r.steps == 0);
  CHECK_FALSE(fs::exists(t / "run" / "result.json"));  // not finished
  CHECK(fs::exists(t / "run" / "config.json"));

  const fs::path ckpt = t / "run" / "checkpoint.safetensors";
  REQUIRE(fs::exists(ckpt));
  nl::Run fresh = nl::make_run(c);
  std::vector<nl::NamedTensor> expected = fresh.model->named_parameters();
  for (const nl::NamedTensor& b : fresh.model->named_buffers()) expected.push_back(b);
  nl::SafetensorsFile f = nl::load_safetensors(ckpt.string());
  CHECK(same_tensors(f, expected) > 10);
  CHECK(f.tensors.count("layers.0.norm1.running_var") == 1);
  // The same metadata as any checkpoint: the resume state and the model card.
  CHECK(f.metadata.at("step") == "0");
  CHECK(f.metadata.at("data_epoch") == "0");
  CHECK(f.metadata.at("data_cursor") == "0");
  nl::SavedModel m = nl::read_saved_model(ckpt.string());
  CHECK(m.missing.empty());
  CHECK(m.head == "classify");
}

TEST_CASE("train --resume from the step-0 checkpoint is the run from scratch, bit for bit", "[train][init]") {
  TempDir t("init_resume");
  const nl::Config c = small_config();
  nl::TrainOptions straight;
  straight.out_dir = (t / "straight").string();
  straight.quiet = true;
  nl::TrainResult a = nl::train(c, straight);

  nl::TrainOptions init = straight;
  init.out_dir = (t / "from0").string();
  init.stop_after = 0;
  nl::train(c, init);
  nl::TrainOptions resume = init;
  resume.stop_after = -1;
  resume.resume = true;
  nl::TrainResult b = nl::train(c, resume);

  REQUIRE(b.steps == c.train.steps);
  CHECK(std::memcmp(&a.final_train_loss, &b.final_train_loss, sizeof(double)) == 0);
  REQUIRE(a.evals.size() == b.evals.size());
  for (size_t i = 0; i < a.evals.size(); ++i) CHECK(a.evals[i].loss == b.evals[i].loss);
  nl::SafetensorsFile fa = nl::load_safetensors(straight.out_dir + "/checkpoint.safetensors");
  nl::SafetensorsFile fb = nl::load_safetensors(init.out_dir + "/checkpoint.safetensors");
  std::vector<nl::NamedTensor> final_a;
  for (auto& [name, tensor] : fa.tensors) final_a.push_back({name, tensor});
  REQUIRE(fa.tensors.size() == fb.tensors.size());
  CHECK(same_tensors(fb, final_a) > 10);  // weights, BatchNorm buffers, optimizer moments
  CHECK(fa.metadata == fb.metadata);      // RNG, data position, loss window, config
  CHECK(metrics_without_speed(t / "straight" / "metrics.csv") == metrics_without_speed(t / "from0" / "metrics.csv"));
}

TEST_CASE("normlab init CONFIG --out DIR: the checkpoint train --stop-after 0 writes, then train --resume", "[cli][init]") {
  TempDir t("init_cli");
  const std::string set = " --set model.norm.type=batchnorm --set model.dropout=0.1 --set train.steps=20"
                          " --set train.log_every=5 --set train.eval_every=0";
  testutil::Run init = testutil::normlab("init " + kTiny + " --out " + (t / "init").string() + set);
  INFO(init.err);
  REQUIRE(init.code == 0);
  const fs::path ckpt = t / "init" / "checkpoint.safetensors";
  CHECK(init.out.find(ckpt.string()) != std::string::npos);
  CHECK(init.out.find("--resume") != std::string::npos);
  REQUIRE(testutil::normlab("train " + kTiny + " --quiet --stop-after 0 --out " + (t / "stop0").string() + set).code == 0);
  CHECK(slurp(ckpt) == slurp(t / "stop0" / "checkpoint.safetensors"));  // byte for byte

  // Resumed from step 0, it ends where the straight run ends: the same final checkpoint.
  REQUIRE(testutil::normlab("train " + kTiny + " --quiet --resume --out " + (t / "init").string() + set).code == 0);
  REQUIRE(testutil::normlab("train " + kTiny + " --quiet --out " + (t / "straight").string() + set).code == 0);
  CHECK(slurp(ckpt) == slurp(t / "straight" / "checkpoint.safetensors"));
  CHECK(fs::exists(t / "init" / "result.json"));

  // A bad config: exit 2, one line naming the key, no folder left behind.
  testutil::Run bad = testutil::normlab("init " + kTiny + " --out " + (t / "bad").string() + " --set model.layers=-1");
  CHECK(bad.code == 2);
  CHECK(bad.err.find("model.layers") != std::string::npos);
  CHECK_FALSE(fs::exists(t / "bad"));
}
