// test_python_reader.cpp — scripts/normlab_checkpoint.py reads every tensor of a checkpoint
// exactly as the C++ loader does, and the same config, vocabulary and classes.
//
// What it checks: a BatchNorm model trained a few steps (parameters, running buffers,
// optimizer state) is dumped by the Python reader (/usr/bin/python3, numpy) with every value
// as %.9g, which reads back as the same float32; each tensor's name, shape and bits must
// equal load_safetensors'. Skipped, with a message, only when numpy is missing
// (scripts/setup.sh installs python3-numpy).
// What it is not: a test of the safetensors format itself (test_checkpoint.cpp).
#include <catch2/catch.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "normlab/config/config.h"
#include "normlab/train/checkpoint.h"
#include "normlab/train/trainer.h"

namespace fs = std::filesystem;

TEST_CASE("the Python reader round-trips every tensor, the config, vocab and classes", "[python]") {
  const std::string py = "/usr/bin/python3";
  if (std::system((py + " -c 'import numpy' >/dev/null 2>&1").c_str()) != 0) {
    WARN("skipped: " + py + " cannot import numpy (apt-get install python3-numpy; scripts/setup.sh does)");
    return;
  }
  const fs::path dir = fs::temp_directory_path() / ("normlab_test_python_reader_" + std::to_string(getpid()));
  fs::remove_all(dir);
  nl::Config c = nl::load_config(std::string(NORMLAB_SOURCE_DIR) + "/configs/tiny.json");
  c.model.norm.type = "batchnorm";
  c.train.steps = 5;
  c.optim.warmup_steps = 0;
  c.train.threads = 1;
  nl::TrainOptions opt;
  opt.out_dir = dir.string();
  opt.quiet = true;
  nl::train(c, opt);
  const std::string ckpt = (dir / "checkpoint.safetensors").string();

  const std::string dump = (dir / "dump.txt").string();
  const std::string cmd = py + " " + NORMLAB_SOURCE_DIR + "/scripts/normlab_checkpoint.py " + ckpt + " --values >" + dump;
  REQUIRE(std::system(cmd.c_str()) == 0);

  nl::SafetensorsFile f = nl::load_safetensors(ckpt);
  std::ifstream in(dump);
  std::string line;
  size_t tensors = 0, values = 0;
  bool saw_config = false, saw_vocab = false, saw_classes = false;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string name;
    ls >> name;
    const std::string rest = line.substr(std::min(line.size(), name.size() + 1));
    if (name == "config") {
      CHECK(nlohmann::json::parse(rest) == nlohmann::json::parse(f.metadata.at("config")));
      saw_config = true;
      continue;
    }
    if (name == "vocab" || name == "classes") {
      CHECK(nlohmann::json::parse(rest) == nlohmann::json::parse(f.metadata.at(name)));
      (name == "vocab" ? saw_vocab : saw_classes) = true;
      continue;
    }
    INFO(name);
    REQUIRE(f.tensors.count(name) == 1);
    const nl::Tensor& t = f.tensors.at(name);
    // shape: "[32, 4]" (a Python list)
    const size_t close = rest.find(']');
    REQUIRE(close != std::string::npos);
    nlohmann::json shape = nlohmann::json::parse(rest.substr(0, close + 1));
    CHECK(shape == nlohmann::json(t.shape()));
    std::istringstream vs(rest.substr(close + 1));
    std::string v;
    int64_t i = 0;
    bool same = true;
    while (vs >> v) {
      REQUIRE(i < t.numel());
      const float x = std::strtof(v.c_str(), nullptr);
      same = same && std::memcmp(&x, t.data() + i, sizeof(float)) == 0;
      ++i;
    }
    CHECK(i == t.numel());
    CHECK(same);
    ++tensors;
    values += (size_t)i;
  }
  CHECK(tensors == f.tensors.size());
  CHECK(f.tensors.count("layers.0.norm1.running_var") == 1);  // buffers are tensors too
  CHECK(values > 10000);
  CHECK(saw_config);
  CHECK(saw_vocab);
  CHECK(saw_classes);
  fs::remove_all(dir);
}

TEST_CASE("the Python reader refuses every flipped bit and every malformed header with one ValueError", "[python]") {
  const std::string py = "/usr/bin/python3";
  if (std::system((py + " -c 'import numpy' >/dev/null 2>&1").c_str()) != 0) {
    WARN("skipped: " + py + " cannot import numpy (apt-get install python3-numpy; scripts/setup.sh does)");
    return;
  }
  const fs::path dir = fs::temp_directory_path() / ("normlab_test_python_props_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  // A small checkpoint as normlab writes it (both CRCs), with a model card: every bit of its
  // header is flipped in turn by the property script.
  nl::Tensor w = nl::Tensor::empty({2, 3}), b = nl::Tensor::empty({3});
  for (int i = 0; i < 6; ++i) w.data()[i] = 0.25f * (float)i - 0.5f;
  for (int i = 0; i < 3; ++i) b.data()[i] = (float)i;
  const std::string ckpt = (dir / "small.safetensors").string();
  nl::save_safetensors(ckpt, {{"w", w}, {"b", b}},
                       {{"config", R"({"model": {"d_model": 3}})"}, {"vocab", R"(["<pad>","f"])"},
                        {"classes", R"(["fr","en"])"}, {"step", "7"}});
  const std::string out = (dir / "out.txt").string();
  const std::string cmd = py + " " + NORMLAB_SOURCE_DIR + "/tests/unit/cli/reader_properties.py " + NORMLAB_SOURCE_DIR +
                          "/scripts " + ckpt + " " + dir.string() + " 2000 >" + out + " 2>/dev/null";
  const int status = std::system(cmd.c_str());
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  INFO(ss.str());
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(ss.str().rfind("ok: ", 0) == 0);
  fs::remove_all(dir);
}
